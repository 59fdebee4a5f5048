"""The `brushwork` command line: stylize, demo, info, app.

Options of `stylize` and `demo` are built from `Settings`' fields. Every problem with the input
ends as one line on stderr and exit status 2; Ctrl-C writes the latest image and exits 130.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from . import examples, images
from .errors import BrushworkError, DivergenceError, InputError
from .settings import Settings, VideoSettings, field_type, flag

if TYPE_CHECKING:
    from PIL import Image

EXIT_INPUT = 2
EXIT_INTERRUPTED = 130
DEFAULT_SAVE_EVERY = 200


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> typing.NoReturn:  # one line, not usage + error
        self.exit(EXIT_INPUT, f"brushwork: {message}; see '{self.prog} --help'\n")


def add_settings_options(parser: argparse.ArgumentParser, cls: type = Settings) -> None:
    """One option per field of `cls` (Settings, VideoSettings). Defaults are SUPPRESS so that
    only what the user typed overrides the dataclass (or --settings-from); the help shows the
    dataclass default."""
    groups: dict[str, argparse._ArgumentGroup] = {}
    for f in dataclasses.fields(cls):
        meta = f.metadata
        group = groups.setdefault(meta["group"], parser.add_argument_group(f"{meta['group']} settings"))
        kind, is_tuple = field_type(f.name, cls)
        nargs = "+" if is_tuple else None
        default = f.default if f.default is not None else "auto"
        if isinstance(default, tuple):
            default = " ".join(map(str, default)) or "equal"
        choices = meta.get("choices")
        metavar = None
        if choices and (meta.get("path_ok") or meta.get("pattern")):
            metavar = "{" + ",".join(choices) + ("," + meta["pattern"] if meta.get("pattern") else ",PATH") + "}"
            choices = None
        if f.name == "size":
            kind = _size
        elif f.name == "max_memory":
            kind = _gigabytes
        group.add_argument(flag(f.name), dest=f.name, type=kind, nargs=nargs, choices=choices,
                           metavar=metavar, default=argparse.SUPPRESS,
                           help=f"{meta['help']} (default: {default})".replace("%", "%%"))


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(prog="brushwork", description="Neural style transfer (Gatys et al.).")
    parser.add_argument("--version", action="version", version=f"brushwork {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    st = sub.add_parser("stylize", help="paint a photo in the style of one or more paintings")
    st.add_argument("content", help="the photo")
    st.add_argument("styles", nargs="+", help="one or more style images")
    st.add_argument("-o", "--output", required=True, help="output image (.png, .jpg or .webp)")
    st.add_argument("--style-masks", nargs="+", metavar="MASK",
                    help="one greyscale image per style, white where that style applies (any "
                         "size); where no mask is white the photo is kept")
    st.add_argument("--settings-from", metavar="IMAGE",
                    help="start from the settings embedded in an earlier brushwork output")
    _add_run_options(st)

    demo = sub.add_parser("demo", help="the bundled Tübingen photo as The Starry Night")
    demo.add_argument("-o", "--output", default="brushwork-demo.png", help="(default: %(default)s)")
    _add_run_options(demo)

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
    _add_backend_options(vid)
    vid.add_argument("-q", "--quiet", action="store_true", help="no progress bar or messages")
    add_settings_options(vid)
    add_settings_options(vid, VideoSettings)

    bt = sub.add_parser("batch", help="paint many photos x many paintings, on this machine or a "
                        "Ray cluster (needs: pip install 'brushwork[ray]' for --backend ray)")
    bt.add_argument("contents", nargs="*", metavar="CONTENT",
                    help="photos: files, folders (their images) or quoted globs")
    bt.add_argument("--styles", nargs="+", metavar="STYLE", default=[],
                    help="paintings: files, folders or quoted globs; every photo gets every one")
    bt.add_argument("--jobs", metavar="FILE.jsonl", help='jobs instead of photos x paintings, one '
                    'JSON a line: {"content": ..., "styles": [...], "settings": {...}}')
    bt.add_argument("-o", "--output", required=True, metavar="OUTDIR",
                    help="output folder: <content>__<style>.png, and failures.jsonl")
    _add_backend_options(bt)
    bt.add_argument("-q", "--quiet", action="store_true", help="no progress bar or messages")
    add_settings_options(bt)

    info = sub.add_parser("info", help="print the settings embedded in a brushwork output")
    info.add_argument("image")

    app = sub.add_parser("app", help="start the web app (needs: pip install 'brushwork[app]')",
                         add_help=False)
    app.add_argument("streamlit_args", nargs=argparse.REMAINDER,
                     help="passed to streamlit run, e.g. --server.port 8502")
    return parser


def _add_backend_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("backend")
    g.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="local: this process; ray: Ray workers, on this machine or a cluster "
                        "(default: local)")
    g.add_argument("--workers", type=int, metavar="N",
                   help="Ray workers (default: one per CPU the cluster has)")
    g.add_argument("--gpus-per-worker", type=float, default=0.0, metavar="F",
                   help="GPUs each Ray worker holds; 0.5 puts two on a GPU (default: 0)")
    g.add_argument("--threads", type=int, metavar="N",
                   help="CPU threads each worker paints with (default: the CPUs shared out)")
    g.add_argument("--address", metavar="ADDR",
                   help="join a running Ray cluster (default: $RAY_ADDRESS, else start a local "
                        "one for this command)")


def _add_run_options(p: argparse.ArgumentParser) -> None:
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


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["app"]:  # everything after `app` belongs to streamlit
        return _app(argv[1:])
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # --help, --version and usage errors: argparse has printed them
        return int(e.code or 0)
    except BrushworkError as e:
        print(f"brushwork: {e}", file=sys.stderr)
        return EXIT_INPUT
    try:
        if args.command == "info":
            print(json.dumps(_info(args.image), indent=2, ensure_ascii=False))
            return 0
        if args.command == "video":
            from .cli_video import run_video

            return run_video(args)
        if args.command == "batch":
            return _batch(args)
        return _stylize(args)
    except BrushworkError as e:
        print(f"brushwork: {e}", file=sys.stderr)
        return EXIT_INPUT


def _batch(args: argparse.Namespace) -> int:
    """`brushwork batch`: every job once; a summary; exit 1 if any failed."""
    import time

    from . import batch

    if args.jobs:
        jobs = batch.read_jobs(args.jobs)
    else:
        if not args.contents or not args.styles:
            raise InputError("batch", "needs photos and --styles (or --jobs FILE.jsonl)",
                             "give e.g. photos/ --styles paintings/ -o out/")
        jobs = batch.pairs(batch.expand(args.contents, "content"), batch.expand(args.styles, "style"))
    _check_workers(args)
    if getattr(args, "size", None) == "auto":
        raise InputError("--size auto", "is for single pictures", "give a size, e.g. 512")
    settings = _settings_from(args)
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise InputError(f"-o {out}", "is a file", "give a folder")
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, file=sys.stderr))
    began = time.perf_counter()
    counts = {"done": 0, "skipped": 0, "failed": 0}
    results = batch.run(jobs, settings, out, backend=args.backend, workers=args.workers,
                        gpus_per_worker=args.gpus_per_worker, address=args.address,
                        threads=args.threads)  # checks the outputs before any work
    bar = _progress(len(jobs), args.quiet, unit="job")
    # SIGTERM (a closed terminal, a job scheduler) is handled like Ctrl-C.
    previous_term = signal.signal(signal.SIGTERM, _raise_interrupt)
    say(f"brushwork: {len(jobs)} job{'s' * (len(jobs) != 1)} into {out} ({args.backend} backend)")
    try:
        for r in results:
            counts[r.status] += 1
            bar.update(1)
            if r.status == "failed":
                bar.write(f"brushwork: failed: {r.error}", file=sys.stderr)
            elif bar.disable:
                say(f"brushwork: {r.status} {r.path}" + (f" ({r.seconds:.1f} s on {r.worker})"
                                                         if r.status == "done" else ""))
    except KeyboardInterrupt:
        results.close()  # stops the workers and writes failures.jsonl
        bar.close()
        say(f"brushwork: interrupted; {counts['done']} done, {counts['skipped']} skipped, "
            f"{counts['failed']} failed; run the same command to finish")
        return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous_term)
    bar.close()
    failed = counts["failed"]
    say(f"brushwork: {counts['done']} done, {counts['skipped']} skipped, {failed} failed in "
        f"{time.perf_counter() - began:.0f} s" + (f"; reasons in {out / batch.FAILURES}"
                                                   if failed else ""))
    return 1 if failed else 0


def _check_workers(args: argparse.Namespace) -> None:
    if args.workers is not None and args.workers < 1:
        raise InputError("--workers", f"must be 1 or more, got {args.workers}", "give e.g. 2")
    if args.threads is not None and args.threads < 1:
        raise InputError("--threads", f"must be 1 or more, got {args.threads}", "give e.g. 1")
    if not 0 <= args.gpus_per_worker <= 64:
        raise InputError("--gpus-per-worker", f"must be from 0 to 64, got {args.gpus_per_worker}",
                         "give e.g. 1 or 0.5")


def _info(path: str) -> dict:
    if Path(path).suffix.lower() in (".mp4", ".mov"):
        from .videoio import read_record

        record = read_record(path, path)
        if record is None:
            raise InputError(path, "carries no brushwork settings", "give a brushwork output")
        return record
    return images.read_metadata(path)


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


def _size(text: str) -> int | str:
    """--size takes a number or `auto` (resolved once the photo and device are known)."""
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid size {text!r}: give a number of pixels or auto")


def _gigabytes(text: str) -> float:
    """--max-memory takes GB: 4, 4GB, 4.5G or 512MB."""
    t = text.strip().upper().replace(" ", "").removesuffix("B")
    scale = 1 / 1024 if t.endswith("M") else 1.0
    try:
        return float(t.rstrip("MG")) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid memory size {text!r}: give GB such as 4, 4GB "
                                         "or 512MB")


def _auto_size(settings: Settings, content: Image.Image) -> Settings:
    """`--size auto`: the largest size (up to memory.MAX_AUTO_SIZE) whose run fits in the chosen
    device's free memory or --max-memory, tiled if --tile allows."""
    from . import memory
    from .device import resolve_device

    device = resolve_device(settings.device)
    fits = memory.largest_size(*content.size, device, settings.precision == "bf16",
                               tile=settings.tile, max_memory_gb=settings.max_memory)
    return settings.replace(size=fits or settings.size)  # None: the run's own check explains


def _typed(args: argparse.Namespace, cls: type = Settings) -> dict[str, Any]:
    """The settings the user typed (options default to SUPPRESS, so only typed ones are set)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in vars(args).items() if k in names}


def _settings_from(args: argparse.Namespace) -> Settings:
    """Two steps: the base (today's defaults, or the record of --settings-from read with the
    meaning it had when written), then the options typed on the command line over it."""
    base = Settings()
    if getattr(args, "settings_from", None):
        name = f"--settings-from {args.settings_from}"
        record = images.read_metadata(args.settings_from, name)
        if "settings" not in record:
            raise InputError(name, "has damaged brushwork settings (no settings)",
                             "give an output that brushwork wrote")
        base = Settings.from_record(record["settings"], name)
    return base.with_options(_typed(args))


def _stylize(args: argparse.Namespace) -> int:
    from .records import run_record
    from .transfer import iter_stylize
    from .device import describe, resolve_device
    from .tiles import Progress

    if args.command == "demo":
        args.content, args.styles = str(examples.CONTENT), [str(examples.STARRY_NIGHT)]
    auto_size = getattr(args, "size", None) == "auto"
    if auto_size:
        del args.size
    settings = _settings_from(args)
    out = images.check_output_path(args.output)
    if args.save_every < 0:
        raise InputError("--save-every", f"must be 0 or more, got {args.save_every}",
                         "pass 0 to turn intermediates off")
    save_dir = Path(args.save_dir) if args.save_dir else out.parent
    if args.save_every and args.save_dir:
        if save_dir.exists() and not save_dir.is_dir():
            raise InputError(f"--save-dir {save_dir}", "is a file", "give a folder")
        save_dir.mkdir(parents=True, exist_ok=True)
    images.check_not_input(out, [args.content, *args.styles, *(getattr(args, "style_masks", None) or [])])
    # Each input is read once: its bytes give the SHA-256 for the metadata and the picture.
    content_im, content = _read_image(args.content, "content image")
    read = [_read_image(s, f"style image {i}") for i, s in enumerate(args.styles, start=1)]
    style_ims, styles = [im for im, _ in read], [rec for _, rec in read]
    mask_ims = masks = None
    if getattr(args, "style_masks", None):
        read = [_read_image(m, f"style mask {i}", mask=True)
                for i, m in enumerate(args.style_masks, start=1)]
        mask_ims, masks = [im for im, _ in read], [rec for _, rec in read]
    if auto_size:
        settings = _auto_size(settings, content_im)
    resume = None
    if args.resume:
        resume, saved = _find_resume_point(Path(args.resume), out, content, styles, masks)
        settings = _resumed_settings(saved, args)
    steps = iter_stylize(content_im, style_ims, settings, resume=resume,  # checks the rest
                         tile_progress=True, masks=mask_ims)
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, file=sys.stderr))
    say(f"brushwork: painting {args.content} in the style of {', '.join(args.styles)} "
        f"on {describe(resolve_device(settings.device))}")

    def record(step_no: int) -> dict:
        return run_record(settings, content, styles, steps_done=step_no, masks=masks)

    last = previous = None
    bar = _progress(settings.steps, args.quiet)
    if resume:
        bar.update(resume[0])
        say(f"brushwork: resuming at step {resume[0]}/{settings.steps}")
    # SIGTERM (a closed terminal, a job scheduler) is handled like Ctrl-C: keep the picture.
    previous_term = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        for last in steps:
            if isinstance(last, Progress):  # a tile within a long step: show where it is
                bar.set_postfix_str(f"tile {last.tile}/{last.tiles} "
                                    f"({'pass 1' if last.phase == 'gram' else 'pass 2'})")
                last = previous
                continue
            previous = last
            tiled = f" in {last.tiles} tiles" if last.tiles > 1 else ""
            bar.set_description(f"scale {last.scale}/{last.scales} {last.size[0]}x{last.size[1]}"
                                f"{tiled}", refresh=False)
            bar.set_postfix({k: f"{v:.3g}" for k, v in last.losses.items()}, refresh=False)
            bar.update(1)
            if args.save_every and last.step % args.save_every == 0 and last.step < last.total:
                path = save_dir / f"{out.stem}-step{last.step:05d}{out.suffix}"
                images.save_image(last.best_image(), path, record(last.step))
                if bar.disable:  # no progress bar (a log, a pipe): one line per intermediate
                    say(f"brushwork: step {last.step}/{last.total}: wrote {path}")
    except KeyboardInterrupt:
        bar.close()
        if last is None:
            say("brushwork: interrupted before the first step; nothing written")
            return EXIT_INTERRUPTED
        images.save_image(last.best_image(), out, record(last.step))
        say(f"brushwork: interrupted at step {last.step}/{last.total}; wrote {out}")
        return EXIT_INTERRUPTED
    except DivergenceError as e:
        bar.close()
        images.save_image(e.image, out, record(e.step))
        print(f"brushwork: {e}; wrote the best picture (step {e.step}) to {out}", file=sys.stderr)
        return 1
    except BrushworkError as e:  # mid-run (the GPU ran out of memory, say): keep the picture
        bar.close()
        if last is None:
            raise
        images.save_image(last.best_image(), out, record(last.step))
        print(f"brushwork: {e}; wrote the picture of step {last.step} to {out}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous_term)
    bar.close()
    assert last is not None
    images.save_image(last.best_image(), out, record(last.step))
    say(f"brushwork: wrote {out}")
    return 0


def _read_image(path: str, what: str, mask: bool = False) -> tuple[Image.Image, dict[str, str]]:
    """An input picture (or mask) and its metadata record (name and SHA-256), from one read of
    the file."""
    from .records import file_record

    data = images.read_file(path, f"{what} {path}")
    load = images.load_mask if mask else images.load_image
    return load(data, name=f"{what} {path}"), file_record(Path(path).name, data)


def _find_resume_point(folder: Path, out: Path, content: dict, styles: list[dict],
                       masks: list[dict] | None):
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


# Settings that do not change the picture's plan: a resumed run may take them from the command line.
RESUME_MAY_CHANGE = ("device", "tile", "max_memory")


def _resumed_settings(saved: Settings, args: argparse.Namespace) -> Settings:
    """The interrupted run's settings, with what the command line may change on a resume. An
    option that would paint another picture is refused rather than silently dropped."""
    for name, value in _typed(args).items():
        changed = saved.with_options({name: value})
        if name in RESUME_MAY_CHANGE:
            saved = changed
        elif changed != saved:
            raise InputError(f"--resume with {flag(name)}", "would change the interrupted run "
                             f"(it used {flag(name)} {_shown(getattr(saved, name))})",
                             f"drop {flag(name)} to resume, or start a new run without --resume")
    return saved


def _shown(value: Any) -> str:
    return " ".join(map(str, value)) if isinstance(value, tuple) else str(value)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _progress(total: int | None, quiet: bool, unit: str = "step", initial: int = 0):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit=unit, dynamic_ncols=True, file=sys.stderr,
                disable=quiet or not sys.stderr.isatty())


def _app(streamlit_args: list[str]) -> int:
    try:
        import streamlit  # noqa: F401
    except ModuleNotFoundError:
        print("brushwork: the web app needs Streamlit; run: pip install 'brushwork[app]'",
              file=sys.stderr)
        return EXIT_INPUT
    from . import app as app_module

    options: dict[str, str] = {}
    rest = list(streamlit_args)
    while rest:  # Streamlit's --server.* options, in either --name=value or --name value form
        arg = rest.pop(0)
        if not arg.startswith("--"):
            continue
        name, eq, value = arg.partition("=")
        if not eq:
            if not rest or rest[0].startswith("--"):
                print(f"brushwork: app: {name} needs a value; e.g. {name}=VALUE",
                      file=sys.stderr)
                return EXIT_INPUT
            value = rest.pop(0)
        options[name] = value
    port = options.get("--server.port", "8501")
    # Only this machine unless asked: the app has no login (README, "Web app").
    address = options.get("--server.address")
    cmd = [sys.executable, "-m", "streamlit", "run", app_module.__file__,
           "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--server.maxUploadSize", str(app_module.MAX_UPLOAD_MB), "--client.toolbarMode", "minimal",
           *([] if address else ["--server.address", "127.0.0.1"]), *streamlit_args]
    host = "localhost" if address in (None, "127.0.0.1", "localhost") else address
    print(f"brushwork: web app at http://{host}:{port}  (Ctrl-C stops it)", flush=True)
    # Become the server (same process): Ctrl-C, SIGTERM and a service manager reach it directly,
    # and no orphaned server is left holding the port.
    os.execv(sys.executable, cmd)
