"""`brushwork batch`: many photos x many paintings (or a jobs file), on this machine or a Ray
cluster; every job once, a job that fails fails alone, a summary at the end."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..errors import InputError
from .common import (EXIT_INTERRUPTED, add_backend_options, add_settings_options,
                     check_workers, interruptible, progress, say, settings_from)


def add_parsers(sub) -> None:
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
    add_backend_options(bt)
    bt.add_argument("-q", "--quiet", action="store_true", help="no progress bar or messages")
    add_settings_options(bt)


def run(args: argparse.Namespace) -> int:
    """Every job once; a summary; exit 1 if any failed."""
    from .. import batch

    if args.jobs:
        jobs = batch.read_jobs(args.jobs)
    else:
        if not args.contents or not args.styles:
            raise InputError("batch", "needs photos and --styles (or --jobs FILE.jsonl)",
                             "give e.g. photos/ --styles paintings/ -o out/")
        jobs = batch.pairs(batch.expand(args.contents, "content"), batch.expand(args.styles, "style"))
    check_workers(args)
    if getattr(args, "size", None) == "auto":
        raise InputError("--size auto", "is for single pictures", "give a size, e.g. 512")
    settings = settings_from(args)
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise InputError(f"-o {out}", "is a file", "give a folder")
    tell = say(args.quiet)
    began = time.perf_counter()
    counts = {"done": 0, "skipped": 0, "failed": 0}
    results = batch.run(jobs, settings, out, backend=args.backend, workers=args.workers,
                        gpus_per_worker=args.gpus_per_worker, address=args.address,
                        threads=args.threads)  # checks the outputs before any work
    bar = progress(len(jobs), args.quiet, unit="job")
    try:
        with interruptible():
            tell(f"brushwork: {len(jobs)} job{'s' * (len(jobs) != 1)} into {out} "
                 f"({args.backend} backend)")
            for r in results:
                counts[r.status] += 1
                bar.update(1)
                if r.status == "failed":
                    bar.write(f"brushwork: failed: {r.error}", file=sys.stderr)
                elif bar.disable:
                    tell(f"brushwork: {r.status} {r.path}" + (
                        f" ({r.seconds:.1f} s on {r.worker})" if r.status == "done" else ""))
    except KeyboardInterrupt:
        results.close()  # stops the workers and writes failures.jsonl
        bar.close()
        tell(f"brushwork: interrupted; {counts['done']} done, {counts['skipped']} skipped, "
             f"{counts['failed']} failed; run the same command to finish")
        return EXIT_INTERRUPTED
    bar.close()
    failed = counts["failed"]
    tell(f"brushwork: {counts['done']} done, {counts['skipped']} skipped, {failed} failed in "
         f"{time.perf_counter() - began:.0f} s" + (f"; reasons in {out / batch.FAILURES}"
                                                    if failed else ""))
    return 1 if failed else 0
