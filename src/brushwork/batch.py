"""Many photos x many paintings, on one machine or a Ray cluster.

A batch is a list of `Job`s (one photo, its paintings, its own setting overrides, its output
name). `run` paints them with a backend and yields one `Result` per job as it finishes:

- "local": this process, the model loaded once, jobs one after another;
- "ray": Ray Core actors (`pip install 'brushwork[ray]'`), each loading the model once, kept busy
  by a driver loop on `ray.wait`. Actors that die are restarted and their jobs retried.

Workers only compute: they send the encoded picture back, and this process, which owns the
output folder, writes it atomically. So a worker killed at any moment leaves no half-written
file, and a job that runs twice writes the same file twice. A rerun skips jobs whose output
exists with the same inputs and settings; a job that fails is recorded in failures.jsonl with
its one-line reason while the rest go on.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from . import images
from .errors import BrushworkError, InputError
from .settings import Settings

BACKENDS = ("local", "ray")
FAILURES = "failures.jsonl"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif")
# Jobs handed to each Ray worker at once: one painting, one waiting, so a worker never idles
# while the driver writes a file and sends the next.
IN_FLIGHT = 2
# A job whose worker dies this many times is recorded as failed (it may be what kills it).
RETRIES = 2


@dataclass(frozen=True)
class Job:
    """One picture to paint: a photo, its paintings, setting overrides, and the output's name."""

    content: str
    styles: tuple[str, ...]
    output: str  # file name inside the output folder
    overrides: Mapping[str, Any] = field(default_factory=dict)

    def settings(self, base: Settings) -> Settings:
        return Settings.from_dict({**base.to_dict(), **self.overrides}) if self.overrides else base


@dataclass(frozen=True)
class Result:
    """How a job ended: "done", "skipped" (its output was already there) or "failed"."""

    job: Job
    status: str
    path: Path | None = None
    error: str | None = None
    seconds: float = 0.0
    worker: str = ""  # host:pid of the process that painted it


def expand(inputs: Sequence[str], what: str) -> list[str]:
    """Files, folders (their images, sorted) and globs, in the order given."""
    out: list[str] = []
    for item in inputs:
        if any(c in item for c in "*?["):
            found = sorted(glob.glob(item))
            if not found:
                raise InputError(f"{what} {item}", "matches no files", "check the pattern")
            out += found
        elif Path(item).is_dir():
            found = sorted(str(p) for p in Path(item).iterdir()
                           if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
            if not found:
                raise InputError(f"{what} {item}", "is a folder with no images", "give image files")
            out += found
        else:
            out.append(item)  # a missing file fails as its own job, with its reason
    return out


def output_name(content: str, styles: Sequence[str]) -> str:
    """<content>__<style>.png (styles joined by +)."""
    return f"{Path(content).stem}__{'+'.join(Path(s).stem for s in styles)}.png"


def pairs(contents: Sequence[str], styles: Sequence[str]) -> list[Job]:
    """Every photo with every painting."""
    return _unique([Job(c, (s,), output_name(c, [s])) for c in contents for s in styles])


def read_jobs(path: str | os.PathLike) -> list[Job]:
    """Jobs from a JSON-lines file: {"content": ..., "styles": [...], "settings": {...},
    "output": optional name}. Relative paths are relative to the file."""
    p = Path(path)
    try:
        lines = p.read_text().splitlines()
    except OSError as e:
        raise InputError(f"--jobs {p}", f"cannot be read ({e.strerror})", "check the path") from None
    jobs = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            content = d["content"]
            styles = d["styles"] if isinstance(d["styles"], list) else [d["styles"]]
        except (ValueError, KeyError, TypeError):
            raise InputError(f"--jobs {p} line {n}", "is not a job",
                             'write {"content": "photo.jpg", "styles": ["painting.jpg"]}') from None
        overrides = d.get("settings") or {}
        Settings.from_dict({**Settings().to_dict(), **overrides})  # refuse bad values up front
        here = lambda f: str(f if Path(f).is_absolute() else p.parent / f)  # noqa: E731
        jobs.append(Job(here(content), tuple(here(s) for s in styles),
                        d.get("output") or output_name(content, styles), overrides))
    if not jobs:
        raise InputError(f"--jobs {p}", "holds no jobs", "write one JSON job per line")
    return _unique(jobs)


def _unique(jobs: list[Job]) -> list[Job]:
    """Two photos with one name from different folders get -2, -3 ... rather than one file."""
    seen: dict[str, int] = {}
    out = []
    for j in jobs:
        n = seen[j.output] = seen.get(j.output, 0) + 1
        if n > 1:
            stem, suffix = os.path.splitext(j.output)
            j = Job(j.content, j.styles, f"{stem}-{n}{suffix}", j.overrides)
        out.append(j)
    return out


def run(jobs: Iterable[Job], settings: Settings | None = None, outdir: str | os.PathLike = ".",
        *, backend: str = "local", workers: int | None = None, gpus_per_worker: float = 0.0,
        address: str | None = None, threads: int | None = None) -> Iterator[Result]:
    """Paint `jobs` into `outdir` and yield a `Result` for each as it finishes (skipped ones
    first). `workers`, `gpus_per_worker` and `address` are for the Ray backend; `threads` is the
    CPU threads each worker paints with (default: the cores shared out among workers)."""
    settings = settings or Settings()
    if backend not in BACKENDS:
        raise InputError("--backend", f"unknown backend {backend!r}", "choose local or ray")
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    if not os.access(out, os.W_OK):
        raise InputError(f"-o {out}", "is not writable", "choose a folder you can write to")
    return _run(list(jobs), settings, out, backend, workers, gpus_per_worker, address, threads)


def _run(jobs: list[Job], settings: Settings, out: Path, backend: str, workers: int | None,
         gpus: float, address: str | None, threads: int | None) -> Iterator[Result]:
    failures = out / FAILURES
    failures.unlink(missing_ok=True)  # the last run's failures are retried now
    todo = []
    for job in jobs:
        if _complete(out / job.output, job, settings):
            yield Result(job, "skipped", out / job.output)
        else:
            todo.append(job)
    if not todo:
        return
    results = (_local(todo, settings, threads) if backend == "local" else
               _ray(todo, settings, workers, gpus, address, threads))
    for job, outcome in results:
        yield _finish(out, job, outcome, failures)


def _finish(out: Path, job: Job, outcome: dict, failures: Path) -> Result:
    """Write a worker's picture (atomically) or record its failure."""
    if outcome.get("png") is not None:
        path = out / job.output
        images.write_atomic(path, outcome["png"])
        return Result(job, "done", path, seconds=outcome["seconds"], worker=outcome["worker"])
    with open(failures, "a") as f:
        f.write(json.dumps({"content": job.content, "styles": list(job.styles),
                            "output": job.output, "error": outcome["error"]}) + "\n")
    return Result(job, "failed", error=outcome["error"], seconds=outcome.get("seconds", 0.0),
                  worker=outcome.get("worker", ""))


def _inputs(job: Job) -> tuple[bytes, list[bytes]]:
    """The photo's and paintings' bytes; InputError naming one that cannot be read."""
    return (images.read_file(job.content, f"content image {job.content}"),
            [images.read_file(s, f"style image {s}") for s in job.styles])


def _record(job: Job, settings: Settings, data: tuple[bytes, list[bytes]] | None = None) -> dict:
    """What the job's output carries: version, settings, and the inputs' names and hashes."""
    from .transfer import file_record, run_record

    content, styles = data or _inputs(job)
    return run_record(job.settings(settings), file_record(Path(job.content).name, content),
                      [file_record(Path(p).name, d) for p, d in zip(job.styles, styles)])


def _complete(path: Path, job: Job, settings: Settings) -> bool:
    """The output exists and was painted from these inputs with these settings."""
    if not path.is_file():
        return False
    try:
        saved = images.read_metadata(path)
        want = _record(job, settings)
    except (InputError, OSError):
        return False
    keep = ("settings", "content", "styles")
    return {k: saved.get(k) for k in keep} == {k: want[k] for k in keep}


# ---- what a worker does: one job in, an encoded picture (or a one-line reason) out ----------

class Painter:
    """Paints jobs in one process, loading each model once."""

    def __init__(self, threads: int | None = None) -> None:
        import torch

        if threads:
            torch.set_num_threads(threads)
        self._models: dict = {}
        self.worker = f"{socket.gethostname()}:{os.getpid()}"

    def paint(self, job: Job, base: Settings, data: tuple[bytes, list[bytes]]) -> dict:
        """One job, from its inputs' bytes (read by the driver: workers on other machines need
        no shared files)."""
        from .transfer import stylize

        began = time.perf_counter()
        try:
            settings = job.settings(base)
            record = _record(job, base, data)
            content = images.load_image(data[0], name=f"content image {job.content}")
            styles = [images.load_image(d, name=f"style image {p}")
                      for p, d in zip(job.styles, data[1])]
            picture = stylize(content, styles, settings, model=self._model(settings))
            png = images.encode_image(picture, "PNG", {**record, "steps_done": settings.steps})
            return {"png": png, "seconds": time.perf_counter() - began, "worker": self.worker}
        except BrushworkError as e:  # this job's own problem: the next job goes on
            return self._failed(e, began)

    def paint_frames(self, run: "FrameRun", styles: list[bytes], base: Settings,
                     video_settings, previous: bytes | None = None) -> dict:
        """Frames run.start .. run.end-1 of a video (warm-up included), as encoded PNGs."""
        from . import video

        began = time.perf_counter()
        try:
            paintings = [images.load_image(d, name=f"style image {i}")
                         for i, d in enumerate(styles, start=1)]
            before = images.load_image(previous) if previous is not None else None
            frames = []
            for f in video.iter_stylize_video(run.video, paintings, base, video_settings,
                                              start=run.start, end=run.end, previous=before,
                                              model=self._model(base)):
                frames.append((f.index, images.encode_image(f.image(), "PNG"), f.fresh,
                               f.step.step, f.seconds))
            return {"frames": frames, "seconds": time.perf_counter() - began,
                    "worker": self.worker}
        except BrushworkError as e:
            return self._failed(e, began)

    def _model(self, settings: Settings):
        """The network for these settings' layers, weights, pooling and device, loaded once."""
        from .device import resolve_device
        from .transfer import load_model

        key = (settings.weights, settings.pooling, settings.content_layers,
               settings.style_layers, settings.device)
        if key not in self._models:
            self._models[key] = load_model(settings, resolve_device(settings.device))
        return self._models[key]

    def _failed(self, e: BrushworkError, began: float) -> dict:
        return {"error": str(e), "seconds": time.perf_counter() - began, "worker": self.worker}


def _read(job: Job) -> tuple[bytes, list[bytes]] | dict:
    """The job's inputs, or the outcome of a job whose input cannot be read."""
    try:
        return _inputs(job)
    except InputError as e:
        return {"error": str(e), "worker": f"{socket.gethostname()}:{os.getpid()}"}


def _local(jobs: list[Job], settings: Settings, threads: int | None):
    painter = Painter(threads)
    for job in jobs:
        data = _read(job)
        yield job, data if isinstance(data, dict) else painter.paint(job, settings, data)


def _ray(jobs: list[Job], settings: Settings, workers: int | None, gpus: float,
         address: str | None, threads: int | None):
    with _pool(workers, gpus, address, threads) as (ray, pool):
        yield from _drive(ray, pool, jobs, settings)


@contextlib.contextmanager
def _pool(workers: int | None, gpus: float, address: str | None, threads: int | None):
    """(ray, `workers` Painter actors): Ray joined at `address` or started here (and shut down
    after), the workers killed on the way out, also when the caller stops early (Ctrl-C)."""
    ray = _import_ray()
    started = not ray.is_initialized()
    if started:
        _init_ray(ray, address)
    pool: list = []
    try:
        cpus = int(ray.available_resources().get("CPU", 1))
        n = workers or max(1, cpus)
        per = threads or max(1, cpus // n)
        actor = ray.remote(Painter).options(num_cpus=per, num_gpus=gpus, max_restarts=-1,
                                            max_task_retries=RETRIES)
        pool += [actor.remote(per) for _ in range(n)]
        yield ray, pool
    finally:
        for a in pool:
            ray.kill(a)
        if started:
            ray.shutdown()


def _drive(ray, pool: list, jobs: list[Job], settings: Settings):
    """Keep every actor busy with up to IN_FLIGHT jobs; yield (job, outcome) as each ends."""
    queue = list(reversed(jobs))
    pending: dict = {}  # object ref -> (job, actor)
    load = {i: 0 for i in range(len(pool))}
    base = ray.put(settings)

    def feed():
        """Hand out jobs; yields (job, outcome) for those whose inputs cannot be read."""
        for i, a in enumerate(pool):
            while queue and load[i] < IN_FLIGHT:
                job = queue.pop()
                data = _read(job)
                if isinstance(data, dict):  # fails here, without a worker
                    yield job, data
                    continue
                pending[a.paint.remote(job, base, data)] = (job, i)
                load[i] += 1

    yield from feed()
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            job, i = pending.pop(ref)
            load[i] -= 1
            try:
                outcome = ray.get(ref)
            except ray.exceptions.RayError as e:  # the worker died more often than retried
                outcome = {"error": f"{job.content}: its worker died ({type(e).__name__}); "
                                    "rerun the batch to try again", "worker": ""}
            yield job, outcome
        yield from feed()


# ---- a long video across workers ------------------------------------------------------------

@dataclass(frozen=True)
class FrameRun:
    """Consecutive frames of a video for one worker: it paints start .. end-1, and the frames
    before `keep` are warm-up (painted to come into step with the flow, then blended away)."""

    video: str
    start: int
    keep: int
    end: int


def frame_runs(video: str, start: int, end: int, runs: int, warmup: int) -> list[FrameRun]:
    """`runs` runs of about equal length covering start .. end-1; each but the first starts
    `warmup` frames early."""
    runs = max(1, min(runs, end - start))
    cuts = [start + round(i * (end - start) / runs) for i in range(runs + 1)]
    return [FrameRun(video, max(start, a - warmup) if i else a, a, b)
            for i, (a, b) in enumerate(zip(cuts, cuts[1:]))]


def paint_video(video: str, styles: list[bytes], settings: Settings, video_settings,
                start: int, end: int, *, workers: int, warmup: int,
                previous: bytes | None = None, gpus_per_worker: float = 0.0,
                address: str | None = None, threads: int | None = None, blend: bool = True,
                raw: dict | None = None):
    """Paint frames start .. end-1 of `video` in `workers` runs on Ray, and yield
    (index, PIL image, fresh, steps, seconds) in frame order as runs finish.

    A run that starts afresh in the middle of the clip lands in its own optimum: its frames
    cannot match the run before it, however many warm-up frames it paints (docs/video.md
    measures it). So each run's warm-up frames overlap the previous run's last ones, and the
    written frames there cross-fade from the one run to the other, spreading the change over
    the overlap instead of a jump at one frame. For measuring: `blend=False` drops the warm-up
    frames instead, and `raw` (a dict) receives every run's frames, warm-up included."""
    runs = frame_runs(video, start, end, workers, warmup)
    with _pool(len(runs), gpus_per_worker, address, threads) as (ray, pool):
        base, vs = ray.put(settings), ray.put(video_settings)
        refs = {a.paint_frames.remote(r, styles, base, vs, previous if i == 0 else None): i
                for i, (a, r) in enumerate(zip(pool, runs))}
        done: dict[int, dict] = raw if raw is not None else {}
        next_run = 0
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1)
            for ref in ready:
                i = refs.pop(ref)
                try:
                    outcome = ray.get(ref)
                except ray.exceptions.RayError as e:
                    outcome = {"error": f"frames {runs[i].keep}-{runs[i].end - 1}: their worker "
                                        f"died ({type(e).__name__}); --resume continues"}
                if "error" in outcome:
                    raise InputError(f"video {video}", outcome["error"], "see the message")
                done[i] = {f[0]: f for f in outcome["frames"]}
            while next_run in done:  # in order: run i's tail waits for run i+1's warm-up
                if next_run + 1 < len(runs) and next_run + 1 not in done:
                    break
                yield from _blended(runs, done, next_run, blend)
                next_run += 1


def _blended(runs: list[FrameRun], done: dict[int, dict], i: int, blend: bool = True):
    """Run i's written frames: those the next run's warm-up overlaps are cross-faded into it."""
    import numpy as np
    from PIL import Image

    run, frames = runs[i], done[i]
    after = done.get(i + 1, {}) if blend else {}
    overlap = [k for k in range(run.keep, run.end) if k in after]
    for k in range(run.keep, run.end):
        index, png, fresh, steps, seconds = frames[k]
        im = images.load_image(png)
        if k in after:  # the next run's warm-up: fade towards it
            t = (overlap.index(k) + 1) / (len(overlap) + 1)
            other = np.asarray(images.load_image(after[k][1]), dtype=np.float32)
            mix = (1 - t) * np.asarray(im, dtype=np.float32) + t * other
            im = Image.fromarray(mix.round().clip(0, 255).astype(np.uint8))
        yield index, im, fresh, steps, seconds


def _init_ray(ray, address: str | None) -> None:
    address = address or os.environ.get("RAY_ADDRESS")
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise InputError(f"--address {address}", f"no Ray cluster answers there ({e})",
                         "start one with `ray start --head`, or leave --address out") from None


def _import_ray():
    try:
        import ray
    except ModuleNotFoundError:
        raise InputError("--backend ray", "needs Ray", "run: pip install 'brushwork[ray]'") from None
    return ray

