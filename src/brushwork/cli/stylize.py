"""`brushwork stylize` and `brushwork demo`: one picture, with a progress bar, intermediates,
`--resume`, and the picture kept on Ctrl-C, SIGTERM or a failure mid-run."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from .. import examples, images
from ..errors import BrushworkError, DivergenceError, InputError
from ..settings import Settings, flag
from .common import (DEFAULT_SAVE_EVERY, EXIT_INTERRUPTED, RESUME_MAY_CHANGE,
                     add_settings_options, interruptible, progress, read_image, say,
                     settings_from, shown, typed)

if TYPE_CHECKING:
    from PIL import Image


def add_parsers(sub) -> None:
    st = sub.add_parser("stylize", help="paint a photo in the style of one or more paintings")
    st.add_argument("content", help="the photo")
    st.add_argument("styles", nargs="+", help="one or more style images")
    st.add_argument("-o", "--output", required=True, help="output image (.png, .jpg or .webp)")
    st.add_argument("--style-masks", nargs="+", metavar="MASK",
                    help="one greyscale image per style, white where that style applies (any "
                         "size); where no mask is white the photo is kept")
    st.add_argument("--settings-from", metavar="IMAGE",
                    help="start from the settings embedded in an earlier brushwork output")
    _run_options(st)
    demo = sub.add_parser("demo", help="the bundled Tübingen photo as The Starry Night")
    demo.add_argument("-o", "--output", default="brushwork-demo.png", help="(default: %(default)s)")
    _run_options(demo)


def _run_options(p: argparse.ArgumentParser) -> None:
    out = p.add_argument_group("output")
    out.add_argument("--save-every", type=int, default=DEFAULT_SAVE_EVERY, metavar="N",
                     help="write an intermediate image every N steps, 0 for none (default: %(default)s)")
    out.add_argument("--save-dir", metavar="DIR",
                     help="folder for intermediates (default: beside the output)")
    out.add_argument("--resume", metavar="DIR",
                     help="continue an interrupted run of the same inputs from the latest picture "
                          "it left in DIR (its intermediates, or the output written on Ctrl-C)")
    out.add_argument("-q", "--quiet", action="store_true", help="no progress bar or messages")
    add_settings_options(p)


@dataclass
class _Run:
    """A checked run: what it paints with, where it writes, what its record says."""

    settings: Settings
    out: Path
    save_dir: Path
    content: dict
    styles: list[dict]
    masks: list[dict] | None
    steps: Iterator
    resume: tuple[int, Any] | None

    def record(self, step_no: int) -> dict:
        from ..records import run_record

        return run_record(self.settings, self.content, self.styles, steps_done=step_no,
                          masks=self.masks)


def run(args: argparse.Namespace) -> int:
    """Check, then paint, writing the picture with its record (also when stopped)."""
    r = _check(args)
    tell = say(args.quiet)
    if r.settings.steps == 0:  # the instant picture runs on onnxruntime's CPU provider
        where = "the CPU (feed-forward network, no optimisation)"
    else:
        from ..device import describe, resolve_device

        where = describe(resolve_device(r.settings.device))
    tell(f"brushwork: painting {args.content} in the style of {', '.join(args.styles)} on {where}")
    bar = progress(r.settings.steps, args.quiet)
    if r.resume:
        bar.update(r.resume[0])
        tell(f"brushwork: resuming at step {r.resume[0]}/{r.settings.steps}")
    last = None
    try:
        with interruptible():
            for last in _paint(r, args.save_every, bar, tell):
                pass
    except KeyboardInterrupt:
        bar.close()
        if last is None:
            tell("brushwork: interrupted before the first step; nothing written")
            return EXIT_INTERRUPTED
        images.save_image(last.best_image(), r.out, r.record(last.step))
        tell(f"brushwork: interrupted at step {last.step}/{last.total}; wrote {r.out}")
        return EXIT_INTERRUPTED
    except DivergenceError as e:
        bar.close()
        images.save_image(e.image, r.out, r.record(e.step))
        print(f"brushwork: {e}; wrote the best picture (step {e.step}) to {r.out}",
              file=sys.stderr)
        return 1
    except BrushworkError as e:  # mid-run (the GPU ran out of memory, say): keep the picture
        bar.close()
        if last is None:
            raise
        images.save_image(last.best_image(), r.out, r.record(last.step))
        print(f"brushwork: {e}; wrote the picture of step {last.step} to {r.out}",
              file=sys.stderr)
        return 1
    bar.close()
    assert last is not None
    images.save_image(last.best_image(), r.out, r.record(last.step))
    tell(f"brushwork: wrote {r.out}")
    return 0


def _check(args: argparse.Namespace) -> _Run:
    """Everything checked and read before any work: settings, output, inputs, resume point."""
    if args.command == "demo":
        args.content, args.styles = str(examples.CONTENT), [str(examples.STARRY_NIGHT)]
    auto_size = getattr(args, "size", None) == "auto"
    if auto_size:
        del args.size
    settings = settings_from(args)
    out = images.check_output_path(args.output)
    if args.save_every < 0:
        raise InputError("--save-every", f"must be 0 or more, got {args.save_every}",
                         "pass 0 to turn intermediates off")
    save_dir = Path(args.save_dir) if args.save_dir else out.parent
    if args.save_every and args.save_dir:
        if save_dir.exists() and not save_dir.is_dir():
            raise InputError(f"--save-dir {save_dir}", "is a file", "give a folder")
        save_dir.mkdir(parents=True, exist_ok=True)
    mask_paths = getattr(args, "style_masks", None) or []
    images.check_not_input(out, [args.content, *args.styles, *mask_paths])
    # Each input is read once: its bytes give the SHA-256 for the record and the picture.
    content_im, content = read_image(args.content, "content image")
    read = [read_image(s, f"style image {i}") for i, s in enumerate(args.styles, start=1)]
    style_ims, styles = [im for im, _ in read], [rec for _, rec in read]
    mask_ims = masks = None
    if mask_paths:
        read = [read_image(m, f"style mask {i}", mask=True) for i, m in enumerate(mask_paths, 1)]
        mask_ims, masks = [im for im, _ in read], [rec for _, rec in read]
    if auto_size:
        settings = _auto_size(settings, content_im)
    resume = None
    if args.resume:
        resume, saved = _find_resume_point(Path(args.resume), out, content, styles, masks)
        settings = _resumed_settings(saved, args)
    if settings.steps == 0:  # --preset instant: no VGG-19, and torch is never imported
        from ..feedforward import steps as instant_steps

        if resume:
            raise InputError("--resume", "the instant picture has no steps to resume",
                             "drop --resume")
        steps = instant_steps(content_im, style_ims, settings, mask_ims)
    else:
        from ..transfer import iter_stylize

        steps = iter_stylize(content_im, style_ims, settings, resume=resume,  # checks the rest
                             tile_progress=True, masks=mask_ims)
    return _Run(settings, out, save_dir, content, styles, masks, steps, resume)


def _paint(r: _Run, save_every: int, bar, tell) -> Iterator:
    """The loop's steps, shown on the bar, with intermediates every `save_every` steps."""
    from ..steps import Step  # not tiles.Progress: that module imports torch

    for item in r.steps:
        if not isinstance(item, Step):  # a tile's Progress within a long step: show where it is
            bar.set_postfix_str(f"tile {item.tile}/{item.tiles} "
                                f"({'pass 1' if item.phase == 'gram' else 'pass 2'})")
            continue
        # Handed to the caller first, so that a Ctrl-C during the display or the save below
        # finds the caller holding this step.
        yield item
        tiled = f" in {item.tiles} tiles" if item.tiles > 1 else ""
        bar.set_description(f"scale {item.scale}/{item.scales} {item.size[0]}x{item.size[1]}"
                            f"{tiled}", refresh=False)
        bar.set_postfix({k: f"{v:.3g}" for k, v in item.losses.items()}, refresh=False)
        bar.update(1)
        if save_every and item.step % save_every == 0 and item.step < item.total:
            path = r.save_dir / f"{r.out.stem}-step{item.step:05d}{r.out.suffix}"
            images.save_image(item.best_image(), path, r.record(item.step))
            if bar.disable:  # no progress bar (a log, a pipe): one line per intermediate
                tell(f"brushwork: step {item.step}/{item.total}: wrote {path}")


def _auto_size(settings: Settings, content: Image.Image) -> Settings:
    """`--size auto`: the largest size (up to memory.MAX_AUTO_SIZE) whose run fits in the chosen
    device's free memory or --max-memory, tiled if --tile allows."""
    from .. import memory
    from ..device import resolve_device

    device = resolve_device(settings.device)
    fits = memory.largest_size(*content.size, device, settings.bf16,
                               tile=settings.tile, max_memory_gb=settings.max_memory)
    return settings.replace(size=fits or settings.size)  # None: the run's own check explains


def _find_resume_point(folder: Path, out: Path, content: dict, styles: list[dict],
                       masks: list[dict] | None) -> tuple[tuple[int, Image.Image], Settings]:
    """The latest picture an interrupted run of these inputs left: ((steps, image), settings)."""
    if not folder.is_dir():
        raise InputError(f"--resume {folder}", "is not a folder", "give the folder of the intermediates")
    best = None
    for path in [*sorted(folder.glob(f"{out.stem}-step*{out.suffix}")), out]:
        try:
            record = images.read_metadata(path)
        except InputError as e:
            if path.exists():  # found here, not named by the user: skip it, and say so
                print(f"brushwork: warning: skipping {e}", file=sys.stderr)
            continue
        if (record.get("content"), record.get("styles"), record.get("masks")) != (
                content, styles, masks):
            continue
        done = record.get("steps_done") or 0
        if best is None or done > best[0]:
            best = (done, path, record)
    if best is None:
        raise InputError(f"--resume {folder}", f"holds no picture of a run of these inputs "
                         f"named {out.stem}-stepNNNNN{out.suffix}",
                         "give the same content, styles, masks and -o as the interrupted run")
    done, path, record = best
    saved = Settings.from_record(record.get("settings"), str(path))
    return (done, images.load_image(path)), saved


def _resumed_settings(saved: Settings, args: argparse.Namespace) -> Settings:
    """The interrupted run's settings, with what the command line may change on a resume. An
    option that would paint another picture is refused rather than silently dropped."""
    for name, value in typed(args).items():
        changed = saved.with_options({name: value})
        if name in RESUME_MAY_CHANGE:
            saved = changed
        elif changed != saved:
            raise InputError(f"--resume with {flag(name)}", "would change the interrupted run "
                             f"(it used {flag(name)} {shown(getattr(saved, name))})",
                             f"drop {flag(name)} to resume, or start a new run without --resume")
    return saved
