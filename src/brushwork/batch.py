"""Many photos x many paintings, on one machine or a Ray cluster.

A batch is a list of `Job`s (one photo, its paintings, its own setting overrides, its output
name). `run` paints them with a backend and yields one `Result` per job as it finishes:

- "local": this process, the model loaded once, jobs one after another;
- "ray": Ray Core actors (`pip install 'brushwork[ray]'`, brushwork.cluster), each loading the
  model once, kept busy by a driver loop on `ray.wait`. Actors that die are restarted and their
  jobs retried.

Workers only compute: they send the encoded picture back, and this process, which owns the
output folder, writes it atomically. So a worker killed at any moment leaves no half-written
file, and a job that runs twice writes the same file twice. A rerun skips jobs whose output
exists with the same inputs and settings; a job that fails is recorded in failures.jsonl with
its one-line reason while the rest go on.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable, Iterator

from . import cluster, images
from .cluster import frame_runs, local_ray, paint_video  # noqa: F401  (documented here)
from .errors import InputError
from .jobs import (FrameRun, Job, Result, check_output_name, check_outputs,  # noqa: F401
                   expand, output_name, pairs, read_jobs)
from .painter import Painter, read_or_failure
from .settings import Settings

BACKENDS = ("local", "ray")
FAILURES = "failures.jsonl"


def run(jobs: Iterable[Job], settings: Settings | None = None, outdir: str | os.PathLike = ".",
        *, backend: str = "local", workers: int | None = None, gpus_per_worker: float = 0.0,
        address: str | None = None, threads: int | None = None) -> Iterator[Result]:
    """Paint `jobs` into `outdir` and yield a `Result` for each as it finishes (skipped ones
    first). `workers`, `gpus_per_worker` and `address` are for the Ray backend; `threads` is the
    CPU threads each worker paints with (default: the cores shared out among workers)."""
    settings = settings or Settings()
    if backend not in BACKENDS:
        raise InputError("--backend", f"unknown backend {backend!r}", "choose local or ray")
    jobs = list(jobs)
    out = Path(outdir)
    check_outputs(jobs, out)
    if backend == "ray" and not (address or os.environ.get("RAY_ADDRESS")):
        cluster.check_shares(workers, threads, os.cpu_count() or 1)  # a local Ray has this machine's CPUs
    if out.exists() and not out.is_dir():
        raise InputError(f"-o {out}", "is a file", "give a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"-o {out}", f"cannot be created ({e.strerror})",
                         "give a folder you can write to") from None
    if not os.access(out, os.W_OK):
        raise InputError(f"-o {out}", "is not writable", "choose a folder you can write to")
    return _run(jobs, settings, out, backend, workers, gpus_per_worker, address, threads)


def _run(jobs: list[Job], settings: Settings, out: Path, backend: str, workers: int | None,
         gpus: float, address: str | None, threads: int | None) -> Iterator[Result]:
    failures = Failures(out / FAILURES)
    try:
        todo = []
        for job in jobs:
            state = _complete(out / job.output, job, settings)
            if state is True:
                failures.resolved(job)
                yield Result(job, "skipped", out / job.output)
            elif state:  # a file brushwork did not write is in the way: never overwrite it
                yield failures.failed(job, {"error": state})
            else:
                todo.append(job)
        if todo:
            results = (_local(todo, settings, threads) if backend == "local" else
                       cluster.run_on_ray(todo, settings, workers, gpus, address, threads))
            for job, outcome in results:
                yield _finish(out, job, outcome, failures)
        failures.finished = True
    finally:
        failures.write()


class Failures:
    """failures.jsonl: the jobs that failed, one job line each, so `--jobs OUTDIR/failures.jsonl`
    retries exactly those. Written atomically when the run ends; a run stopped early keeps the
    earlier failures it did not get to."""

    def __init__(self, path: Path) -> None:
        self.path, self.finished = path, False
        self.new: dict[str, dict] = {}
        self.settled: set[str] = set()
        self.old: dict[str, dict] = {}
        try:
            for line in path.read_text(encoding="utf-8").splitlines():
                d = json.loads(line)
                if isinstance(d, dict) and isinstance(d.get("output"), str):
                    self.old[d["output"]] = d
        except (OSError, ValueError, UnicodeDecodeError, RecursionError):
            pass

    def failed(self, job: Job, outcome: dict) -> Result:
        self.settled.add(job.output)
        self.new[job.output] = {"content": os.path.abspath(job.content),
                                "styles": [os.path.abspath(s) for s in job.styles],
                                "settings": dict(job.overrides), "output": job.output,
                                "error": outcome["error"]}
        return Result(job, "failed", error=outcome["error"], seconds=outcome.get("seconds", 0.0),
                      worker=outcome.get("worker", ""))

    def resolved(self, job: Job) -> None:
        self.settled.add(job.output)

    def write(self) -> None:
        lines = dict(self.new)
        if not self.finished:
            lines = {**{k: v for k, v in self.old.items() if k not in self.settled}, **lines}
        if not lines:
            self.path.unlink(missing_ok=True)
            return
        text = "".join(json.dumps(v) + "\n" for v in lines.values())
        try:
            images.write_atomic(self.path, text.encode())
        except OSError:
            pass  # the folder vanished or became read-only: the summary still counts them


def _finish(out: Path, job: Job, outcome: dict, failures: Failures) -> Result:
    """Write a worker's picture (atomically) or record its failure."""
    if outcome.get("png") is not None:
        path = out / job.output
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            images.write_atomic(path, outcome["png"])
        except OSError as e:
            return failures.failed(job, {"error": f"{path}: cannot be written ({e.strerror}); "
                                         "free the name or choose another -o", **outcome,
                                         "png": None})
        failures.resolved(job)
        return Result(job, "done", path, seconds=outcome["seconds"], worker=outcome["worker"])
    return failures.failed(job, outcome)


def _complete(path: Path, job: Job, settings: Settings) -> bool | str:
    """True: the output exists and was painted from these inputs with these settings. False:
    it is to be painted. A reason (str): a file brushwork did not write is in the way."""
    if not path.exists() and not path.is_symlink():
        return False
    if not path.is_file():
        return f"{path}: is in the way (not a file); move it or choose another -o"
    try:
        saved = images.read_metadata(path)
    except InputError as e:
        return (f"{path}: exists and is not a brushwork output ({e.problem}); move it away to "
                "paint this job")
    try:
        want = job.record(settings)
    except (InputError, OSError):
        return False  # an unreadable input fails as the job's own problem
    keep = ("settings", "content", "styles")
    return {k: saved.get(k) for k in keep} == {k: want[k] for k in keep}


def _local(jobs: list[Job], settings: Settings, threads: int | None):
    painter = Painter(threads)
    for job in jobs:
        data = read_or_failure(job)
        yield job, data if isinstance(data, dict) else painter.paint(job, settings, data)
