"""`brushwork video`: a video painted without flicker, from the command line.

Frames are written as PNGs as they finish (atomically, each with the run's record), so Ctrl-C
or a crash loses at most the frame being painted; `--resume` continues from the last finished
frame. An .mp4 output is assembled from those frames at the end, or on Ctrl-C from the frames
done so far.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import signal
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import Iterator

from . import examples, images
from .cli import (EXIT_INTERRUPTED, RESUME_MAY_CHANGE, _progress, _raise_interrupt,
                  _read_image, _settings_from)
from .errors import BrushworkError, InputError
from .settings import VideoSettings

# `brushwork video demo`: a pan and zoom across the bundled photo, small enough for a CPU.
DEMO_FRAMES, DEMO_SIZE, DEMO_FPS = 24, 256, Fraction(24)
FRAME_NAME = "frame_{:06d}.png"


def run_video(args: argparse.Namespace) -> int:
    from . import video, videoio
    from .device import describe, resolve_device
    from .records import run_record

    demo = args.video == "demo"
    if getattr(args, "size", None) == "auto":
        raise InputError("--size auto", "is for stills", "give the frames' longer side, e.g. 512")
    if demo and not args.styles:
        args.styles = [str(examples.STARRY_NIGHT)]
    if demo and not hasattr(args, "size"):
        args.size = DEMO_SIZE
    if not args.styles:
        raise InputError("style images", "none given", "give at least one style image")
    settings = _settings_from(args)
    names = {f.name for f in dataclasses.fields(VideoSettings)}
    vsettings = VideoSettings.from_dict({k: v for k, v in vars(args).items() if k in names})
    out, frames_dir = _output(Path(args.output))
    if not demo:
        _check_not_inputs(Path(args.video), out, frames_dir, args.styles)
    start, end = args.frames
    rate = video.frame_rate(args.fps) if args.fps else None
    if demo:
        w, h = videoio.even_size(4, 3, settings.size)
        clip = examples.pan_clip(DEMO_FRAMES, (w, h))
        info, rate = None, rate or DEMO_FPS
        total = len(clip[start:end])
        content = {"name": "demo: pan across tubingen.jpg", "sha256": _sha256([examples.CONTENT])}
    else:
        info = videoio.probe(args.video, rate)
        rate = info.rate
        total = None if info.frames is None else min(info.frames, end or info.frames) - start
        files = videoio._numbered(info.path) if info.folder else [info.path]
        content = {"name": info.path.name, "sha256": _sha256(files)}
    read = [_read_image(s, f"style image {i}") for i, s in enumerate(args.styles, start=1)]
    style_ims, styles = [im for im, _ in read], [rec for _, rec in read]
    record = {**run_record(settings, content, styles), "video": vsettings.to_dict(),
              "frames": [start, end], "fps": str(rate)}

    _check_own(frames_dir, record)
    done: list[int] = []
    previous = None
    if args.resume:
        done = _finished(frames_dir, start, end, record)
        if not done:
            raise InputError("--resume", f"{frames_dir} holds no finished frame of this run",
                             "run the same command as the interrupted run, or drop --resume")
        previous = images.load_image(frames_dir / FRAME_NAME.format(done[-1]))
    first = done[-1] + 1 if done else start
    if args.resume and (end is not None and first >= end or total is not None and
                        len(done) >= total):
        frames: Iterator[tuple] = iter(())  # every frame was finished: only the video is left
    elif args.backend == "ray":
        frames = _on_ray(args, info, first, end, style_ims, settings, vsettings, previous)
    else:
        frames = ((f.index, f.image(), f.fresh, f.step.step, f.seconds)
                  for f in video.iter_stylize_video(clip if demo else info, style_ims, settings,
                                                    vsettings, start=first, end=end,
                                                    previous=previous))
    frames_dir.mkdir(parents=True, exist_ok=True)

    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, file=sys.stderr))
    say(f"brushwork: painting {args.video} in the style of {', '.join(args.styles)} on "
        f"{describe(resolve_device(settings.device))}"
        + (f"; resuming after frame {done[-1]}" if done else ""))
    bar = _progress(total, args.quiet, unit="frame", initial=len(done))
    began = time.perf_counter()
    previous_term = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        for index, picture, fresh, steps, seconds in frames:
            images.save_image(picture, frames_dir / FRAME_NAME.format(index),
                              {**record, "frame": index})
            done.append(index)
            how = "first frame" if fresh else f"{steps} steps"
            bar.set_postfix_str(f"frame {index}: {how}, {seconds:.1f} s", refresh=False)
            bar.update(1)
            if bar.disable:
                say(f"brushwork: frame {index} ({how}, {seconds:.1f} s)")
    except KeyboardInterrupt:
        bar.close()
        if not done:
            say("brushwork: interrupted before the first frame finished; nothing written")
            return EXIT_INTERRUPTED
        _assemble(out, frames_dir, done, rate, info, start, record)
        say(f"brushwork: interrupted; wrote {len(done)} frames to {out} (--resume continues)")
        return EXIT_INTERRUPTED
    except BrushworkError as e:
        bar.close()
        if not done:
            raise
        _assemble(out, frames_dir, done, rate, info, start, record)
        print(f"brushwork: {e}; wrote the {len(done)} frames before it to {out}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous_term)
    bar.close()
    if not done:
        raise InputError(f"video {args.video}", "gave no frames in the range "
                         f"{start}:{'' if end is None else end}", "choose other --frames")
    _assemble(out, frames_dir, done, rate, info, start, record)
    if out != frames_dir and not args.keep_frames:
        for i in done:
            (frames_dir / FRAME_NAME.format(i)).unlink(missing_ok=True)
        try:
            frames_dir.rmdir()
        except OSError:  # something else lives there: leave it
            pass
    spent = time.perf_counter() - began
    say(f"brushwork: wrote {out} ({len(done)} frames at {float(rate):g} fps; {spent:.0f} s)")
    return 0


def _on_ray(args, info, first: int, end: int | None, style_ims, settings, vsettings, previous):
    """The frames from Ray workers, each painting a run of consecutive frames."""
    import io

    from . import batch
    from .cli import _check_workers

    _check_workers(args)
    if info is None:
        raise InputError("--backend ray", "needs a video file or folder that every worker can "
                         "read", "give a path, not demo")
    if args.warmup < 0:
        raise InputError("--warmup", f"must be 0 or more, got {args.warmup}", "give e.g. 4")
    stop = end if end is not None else info.frames
    if stop is None:
        raise InputError("--backend ray", f"{info.name} does not say how many frames it has",
                         "give --frames START:END")

    def png(im) -> bytes:
        buf = io.BytesIO()
        im.save(buf, "PNG")
        return buf.getvalue()

    workers = args.workers or 2
    return batch.paint_video(str(info.path), [png(im) for im in style_ims], settings, vsettings,
                             first, stop, workers=workers, warmup=args.warmup,
                             previous=png(previous) if previous is not None else None,
                             gpus_per_worker=args.gpus_per_worker, address=args.address,
                             threads=args.threads)


def _output(out: Path) -> tuple[Path, Path]:
    """(the output, the folder for finished frames), checked before any work."""
    if out.suffix and out.suffix.lower() != ".mp4":
        raise InputError(f"-o {out}", f"unknown video extension {out.suffix!r}",
                         "end the name with .mp4, or give a folder for PNG frames")
    images.check_writable(out)
    if out.suffix:
        if out.is_dir():
            raise InputError(f"-o {out}", "is a folder", "give a file name ending in .mp4")
        return out, out.with_name(out.stem + "-frames")
    if out.exists() and not out.is_dir():
        raise InputError(f"-o {out}", "is a file", "give a folder, or a name ending in .mp4")
    return out, out


def _check_not_inputs(video: Path, out: Path, frames_dir: Path, styles: list[str]) -> None:
    """Refuse an output that would write over an input: the clip itself, the folder of input
    frames (as the output folder or as the .mp4's frame folder), or a painting."""
    if video.is_dir() and os.path.realpath(frames_dir) == os.path.realpath(video):
        raise InputError(f"-o {out}", f"would write its frames into the input folder {video}",
                         "choose another -o")
    images.check_not_input(out, [video, *styles])


def _check_own(frames_dir: Path, record: dict) -> None:
    """The frame folder is brushwork's own: a file in it named like a frame that brushwork did
    not write (a user's own picture) is never overwritten or deleted: refuse before any work."""
    if not frames_dir.is_dir():
        return
    for path in sorted(frames_dir.glob("frame_*.png")):
        try:
            images.read_metadata(path)
        except InputError as e:
            if "damaged" in e.problem:  # brushwork's, damaged: painted again, and said so
                print(f"brushwork: warning: {e.what}: {e.problem}; it will be painted again",
                      file=sys.stderr)
                continue
            raise InputError(f"-o {frames_dir}", f"holds {path.name}, which brushwork did not "
                             f"write ({e.problem})", "move it away or choose another -o") from None


def _sha256(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        with open(f, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()


def _comparable(record: dict) -> dict:
    """A record without what a resumed run may change: the device, tiling, memory, and where
    the clip ends (a resumed run may paint further)."""
    settings = {k: v for k, v in record.get("settings", {}).items() if k not in RESUME_MAY_CHANGE}
    return {**record, "settings": settings, "frame": None, "version": None,
            "frames": (record.get("frames") or [None])[:1]}


def _finished(folder: Path, start: int, end: int | None, record: dict) -> list[int]:
    """The frames of this run already in `folder`: start, start+1, ... with none missing."""
    want = _comparable(record)
    done, i = [], start
    while end is None or i < end:
        path = folder / FRAME_NAME.format(i)
        if not path.is_file():
            break
        try:
            saved = images.read_metadata(path)
        except InputError:
            break
        if _comparable(saved) != want:
            if i == start:
                raise InputError("--resume", f"{path} was painted with other inputs or settings",
                                 "run the same command as the interrupted run, or drop --resume")
            break
        done.append(i)
        i += 1
    return done


def _assemble(out: Path, frames_dir: Path, done: list[int], rate: Fraction, info, start: int,
              record: dict) -> None:
    """Write the .mp4 from the finished frames (a folder output is already complete)."""
    from . import videoio

    if out == frames_dir:
        return
    indices = sorted(done)
    pictures = (images.load_image(frames_dir / FRAME_NAME.format(i)) for i in indices)
    times = None if info is None or info.times is None else [info.times[i] for i in indices]
    videoio.write_mp4(pictures, out, rate, audio=info, start=start, record=record, times=times)

