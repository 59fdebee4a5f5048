"""`brushwork video`: a video painted without flicker, from the command line.

Frames are written as PNGs as they finish (atomically, each with the run's record), so Ctrl-C
or a crash loses at most the frame being painted; `--resume` continues from the last finished
frame. An .mp4 output is assembled from those frames at the end, or on Ctrl-C from the frames
done so far. The frame folder is brushwork's own: a file in it that brushwork did not write
stops the command before any work.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator

from .. import examples, images
from ..errors import BrushworkError, InputError
from ..settings import Settings, VideoSettings
from .common import (EXIT_INTERRUPTED, RESUME_MAY_CHANGE, add_backend_options,
                     add_settings_options, check_workers, interruptible, progress, read_image,
                     say, settings_from, typed)

DEMO_SIZE = 256  # `brushwork video demo`'s frames: small enough for a CPU
FRAME_NAME = "frame_{:06d}.png"


def add_parsers(sub) -> None:
    vid = sub.add_parser("video", help="paint a video without flicker (Ruder et al.; needs: pip "
                         "install 'brushwork[video]')")
    vid.add_argument("video", help="a video file (anything FFmpeg reads) or a folder of numbered "
                     "images; or 'demo' for a pan across the bundled photo")
    vid.add_argument("styles", nargs="*", help="one or more style images (demo: The Starry Night)")
    vid.add_argument("-o", "--output", required=True,
                     help="an .mp4 file (H.264, the input's frame rate and sound) or a folder "
                          "for PNG frames")
    vid.add_argument("--frames", metavar="START:END", type=_frame_range, default=(0, None),
                     help="paint frames START to END-1, counted from 0; either may be left out "
                          "(default: all)")
    vid.add_argument("--fps", metavar="RATE", help="frame rate of a folder of images, e.g. 25, "
                     "29.97 or 30000/1001 (default: 25), or to override a video's own")
    vid.add_argument("--resume", action="store_true",
                     help="continue an interrupted run of the same command from its last "
                          "finished frame")
    vid.add_argument("--keep-frames", action="store_true",
                     help="keep the finished frames as PNGs beside an .mp4 output")
    vid.add_argument("--warmup", type=int, default=4, metavar="N",
                     help="with --backend ray: frames each run after the first paints before its "
                          "own, unwritten, so its first frame follows the flow (default: 4)")
    add_backend_options(vid)
    vid.add_argument("-q", "--quiet", action="store_true", help="no progress bar or messages")
    add_settings_options(vid)
    add_settings_options(vid, VideoSettings)


def _frame_range(text: str) -> tuple[int, int | None]:
    """--frames START:END (either side may be empty)."""
    try:
        a, b = text.split(":")
        start, end = int(a) if a.strip() else 0, int(b) if b.strip() else None
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid range {text!r}: give START:END, e.g. 0:48")
    if start < 0 or (end is not None and end <= start):
        raise argparse.ArgumentTypeError(f"{text!r} selects no frames: give START:END with "
                                         "0 <= START < END")
    return start, end


@dataclass
class _Video:
    """A checked video run: its settings, where its frames and output go, its record, the
    frames already finished and those still to paint."""

    settings: Settings
    out: Path
    frames_dir: Path
    rate: Fraction
    info: Any  # videoio.VideoInfo, or None for the demo clip
    start: int
    end: int | None
    total: int | None
    record: dict
    done: list[int]
    frames: Iterator[tuple]


def run(args: argparse.Namespace) -> int:
    """Check, then paint frame by frame, then assemble the output."""
    from ..device import describe, resolve_device

    v = _check(args)
    tell = say(args.quiet)
    tell(f"brushwork: painting {args.video} in the style of {', '.join(args.styles)} on "
         f"{describe(resolve_device(v.settings.device))}"
         + (f"; resuming after frame {v.done[-1]}" if v.done else ""))
    bar = progress(v.total, args.quiet, unit="frame", initial=len(v.done))
    began = time.perf_counter()
    try:
        with interruptible():
            for index, picture, fresh, steps, seconds in v.frames:
                images.save_image(picture, v.frames_dir / FRAME_NAME.format(index),
                                  {**v.record, "frame": index})
                v.done.append(index)
                how = "first frame" if fresh else f"{steps} steps"
                bar.set_postfix_str(f"frame {index}: {how}, {seconds:.1f} s", refresh=False)
                bar.update(1)
                if bar.disable:
                    tell(f"brushwork: frame {index} ({how}, {seconds:.1f} s)")
    except KeyboardInterrupt:
        bar.close()
        if not v.done:
            tell("brushwork: interrupted before the first frame finished; nothing written")
            return EXIT_INTERRUPTED
        _assemble(v)
        tell(f"brushwork: interrupted; wrote {len(v.done)} frames to {v.out} (--resume continues)")
        return EXIT_INTERRUPTED
    except BrushworkError as e:
        bar.close()
        if not v.done:
            raise
        _assemble(v)
        print(f"brushwork: {e}; wrote the {len(v.done)} frames before it to {v.out}",
              file=sys.stderr)
        return 1
    bar.close()
    if not v.done:
        raise InputError(f"video {args.video}", "gave no frames in the range "
                         f"{v.start}:{'' if v.end is None else v.end}", "choose other --frames")
    _assemble(v)
    if v.out != v.frames_dir and not args.keep_frames:
        for i in v.done:  # only brushwork's own frames, checked before the run
            (v.frames_dir / FRAME_NAME.format(i)).unlink(missing_ok=True)
        try:
            v.frames_dir.rmdir()
        except OSError:  # something else lives there: leave it
            pass
    tell(f"brushwork: wrote {v.out} ({len(v.done)} frames at {float(v.rate):g} fps; "
         f"{time.perf_counter() - began:.0f} s)")
    return 0


def _check(args: argparse.Namespace) -> _Video:
    """Everything checked before any work: settings, output, inputs, the frame folder, and
    the resume point; then the frames to paint, as an iterator that starts painting when read."""
    from .. import video, videoio
    from ..records import run_record

    demo = args.video == "demo"
    if getattr(args, "size", None) == "auto":
        raise InputError("--size auto", "is for stills", "give the frames' longer side, e.g. 512")
    if demo and not args.styles:
        args.styles = [str(examples.STARRY_NIGHT)]
    if demo and not hasattr(args, "size"):
        args.size = DEMO_SIZE
    if not args.styles:
        raise InputError("style images", "none given", "give at least one style image")
    settings = settings_from(args)
    vsettings = VideoSettings().replace(**typed(args, VideoSettings))
    out, frames_dir = _output(Path(args.output))
    if not demo:
        _check_not_inputs(Path(args.video), out, frames_dir, args.styles)
    start, end = args.frames
    rate = video.frame_rate(args.fps) if args.fps else None
    clip = info = None
    if demo:
        clip = examples.pan_clip(examples.DEMO_FRAMES, videoio.even_size(4, 3, settings.size))
        rate, total, content = rate or examples.DEMO_FPS, len(clip[start:end]), examples.demo_record()
    else:
        info = videoio.probe(args.video, rate)
        rate = info.rate
        total = None if info.frames is None else min(info.frames, end or info.frames) - start
        files = videoio.numbered(info.path) if info.folder else [info.path]
        content = {"name": info.path.name, "sha256": _sha256(files)}
    read = [read_image(s, f"style image {i}") for i, s in enumerate(args.styles, start=1)]
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
    return _Video(settings, out, frames_dir, rate, info, start, end, total, record, done, frames)


def _on_ray(args, info, first: int, end: int | None, style_ims, settings, vsettings, previous):
    """The frames from Ray workers, each painting a run of consecutive frames."""
    import io

    from .. import batch

    check_workers(args)
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


def _assemble(v: _Video) -> None:
    """Write the .mp4 from the finished frames (a folder output is already complete)."""
    from .. import videoio

    if v.out == v.frames_dir:
        return
    indices = sorted(v.done)
    pictures = (images.load_image(v.frames_dir / FRAME_NAME.format(i)) for i in indices)
    times = None if v.info is None or v.info.times is None else [v.info.times[i] for i in indices]
    videoio.write_mp4(pictures, v.out, v.rate, audio=v.info, start=v.start, record=v.record,
                      times=times)
