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
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from . import images
from .errors import BrushworkError, InputError
from .settings import Settings, check_keys

BACKENDS = ("local", "ray")
FAILURES = "failures.jsonl"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif")
# Jobs handed to each Ray worker at once: one painting, one waiting, so a worker never idles
# while the driver writes a file and sends the next.
IN_FLIGHT = 2
# A job whose worker dies this many times is recorded as failed (it may be what kills it).
RETRIES = 2
# How long every Ray worker has to start before the batch is refused rather than left waiting.
PLACE_SECONDS = 120


@dataclass(frozen=True)
class Job:
    """One picture to paint: a photo, its paintings, setting overrides, and the output's name."""

    content: str
    styles: tuple[str, ...]
    output: str  # file name inside the output folder
    overrides: Mapping[str, Any] = field(default_factory=dict)

    def settings(self, base: Settings) -> Settings:
        return base.with_options(self.overrides)


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
    "output": optional name}. Relative paths are relative to the file. Everything a job says is
    checked here, before any work: a bad line is one InputError naming its line."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        why = e.strerror if isinstance(e, OSError) else "not UTF-8 text"
        raise InputError(f"--jobs {p}", f"cannot be read ({why})", "check the path") from None
    jobs: list[tuple[int, Job, bool]] = []  # (line, job, output named by the line)
    for n, line in enumerate(lines, start=1):
        if line.strip():
            jobs.append(_job(line, f"--jobs {p} line {n}", p.parent) + (n,))
    if not jobs:
        raise InputError(f"--jobs {p}", "holds no jobs", "write one JSON job per line")
    named: dict[str, int] = {}
    for job, explicit, n in jobs:
        if explicit:
            key = os.path.normcase(job.output)
            if key in named:
                raise InputError(f"--jobs {p} lines {named[key]} and {n}", f"both write {job.output}",
                                 "give each job its own output")
            named[key] = n
    return _unique([job for job, _, _ in jobs], [own for _, own, _ in jobs])


def _job(line: str, where: str, folder: Path) -> tuple[Job, bool]:
    """One line of a jobs file as a Job, and whether it named its output."""
    example = '{"content": "photo.jpg", "styles": ["painting.jpg"]}'
    try:
        d = json.loads(line)
    except (ValueError, RecursionError):
        raise InputError(where, "is not JSON", f"write e.g. {example}") from None
    if not isinstance(d, dict) or "content" not in d or "styles" not in d:
        raise InputError(where, "is not a job", f"write e.g. {example}")
    unknown = set(d) - {"content", "styles", "settings", "output", "error"}
    if unknown:  # "error" is what failures.jsonl adds: retrying it reads it back as jobs
        raise InputError(where, f"unknown key {sorted(unknown)[0]!r}",
                         "use content, styles, settings and output")
    content, styles = d["content"], d["styles"]
    styles = styles if isinstance(styles, list) else [styles]
    if not isinstance(content, str) or not content or not styles or not all(
            isinstance(s, str) and s for s in styles):
        raise InputError(where, "content and styles must be file names",
                         f"write e.g. {example}")
    overrides = d.get("settings") or {}
    check_keys(overrides, f"{where} settings")
    try:  # refuse bad values up front, naming the line and the field
        Settings().with_options(overrides)
    except InputError as e:
        raise InputError(f"{where} settings {e.what}", e.problem, e.fix) from None
    output = d.get("output")
    if output is not None:
        output = check_output_name(output, where)
    here = lambda f: str(f if Path(f).is_absolute() else folder / f)  # noqa: E731
    return (Job(here(content), tuple(here(s) for s in styles),
                output or output_name(content, styles), dict(overrides)), output is not None)


def check_output_name(output: Any, where: str) -> str:
    """A job's output: a relative path inside the output folder, in a format we write."""
    if not isinstance(output, str) or not output.strip():
        raise InputError(where, "output must be a file name", 'write e.g. "output": "a.png"')
    norm = os.path.normpath(output)
    if os.path.isabs(output) or norm == ".." or norm.startswith(".." + os.sep) or norm == ".":
        raise InputError(where, f"output {output!r} is outside the output folder",
                         "give a relative name such as sub/a.png")
    if Path(norm).suffix.lower() not in images.OUTPUT_FORMATS:
        raise InputError(where, f"output {output!r} has an unknown image extension",
                         "end it with .png, .jpg or .webp")
    return norm


def _unique(jobs: list[Job], named: Sequence[bool] | None = None) -> list[Job]:
    """Two photos with one name from different folders get -2, -3 ... rather than one file;
    a generated name never takes one that a job named itself (`named[i]`: job i did)."""
    named = named or [False] * len(jobs)
    taken = {os.path.normcase(j.output) for j, own in zip(jobs, named) if own}
    out = []
    for j, own in zip(jobs, named):
        if own:
            out.append(j)
            continue
        stem, suffix = os.path.splitext(j.output)
        name, n = j.output, 1
        while os.path.normcase(name) in taken:
            n += 1
            name = f"{stem}-{n}{suffix}"
        taken.add(os.path.normcase(name))
        out.append(Job(j.content, j.styles, name, j.overrides) if name != j.output else j)
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
    jobs = list(jobs)
    out = Path(outdir)
    _check_outputs(jobs, out)
    if backend == "ray" and not (address or os.environ.get("RAY_ADDRESS")):
        _shares(workers, threads, os.cpu_count() or 1)  # a local Ray has this machine's CPUs
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


def _check_outputs(jobs: list[Job], out: Path) -> None:
    """Before any work: every output is a name inside `out`, no two jobs write one file, and no
    job writes over an input of the batch."""
    seen: dict[str, Job] = {}
    inputs = {os.path.realpath(f): f for j in jobs for f in (j.content, *j.styles)}
    for job in jobs:
        check_output_name(job.output, f"job {job.content}")
        key = os.path.normcase(os.path.normpath(job.output))
        if key in seen:
            raise InputError(f"jobs {seen[key].content} and {job.content}",
                             f"both write {job.output}", "give each job its own output")
        seen[key] = job
        target = os.path.realpath(out / job.output)
        if target in inputs:
            raise InputError(f"job {job.content}", f"its output {out / job.output} is the input "
                             f"{inputs[target]}; writing it would replace that file",
                             "choose another -o or output name")


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
                       _ray(todo, settings, workers, gpus, address, threads))
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


def _inputs(job: Job) -> tuple[bytes, list[bytes]]:
    """The photo's and paintings' bytes; InputError naming one that cannot be read."""
    return (images.read_file(job.content, f"content image {job.content}"),
            [images.read_file(s, f"style image {s}") for s in job.styles])


def _record(job: Job, settings: Settings, data: tuple[bytes, list[bytes]] | None = None) -> dict:
    """What the job's output carries: version, settings, and the inputs' names and hashes."""
    from .records import file_record, run_record

    content, styles = data or _inputs(job)
    return run_record(job.settings(settings), file_record(Path(job.content).name, content),
                      [file_record(Path(p).name, d) for p, d in zip(job.styles, styles)])


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
        want = _record(job, settings)
    except (InputError, OSError):
        return False  # an unreadable input fails as the job's own problem
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

    def ready(self) -> str:
        return self.worker

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
            fmt = images.OUTPUT_FORMATS[Path(job.output).suffix.lower()]
            png = images.encode_image(picture, fmt, {**record, "steps_done": settings.steps})
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
        from .vgg import load_model

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
    """(ray, `workers` Painter actors): Ray joined at `address` or started here for as long as
    the pool lives, the workers killed on the way out, also when the caller stops early
    (Ctrl-C)."""
    ray = _import_ray()
    address = address or os.environ.get("RAY_ADDRESS")
    with contextlib.ExitStack() as stack:
        if not ray.is_initialized():
            stack.enter_context(local_ray() if not address else _joined(ray, address))
        pool: list = []
        try:
            cpus = int(ray.cluster_resources().get("CPU", 1))
            n, per = _shares(workers, threads, cpus)
            actor = ray.remote(Painter).options(num_cpus=per, num_gpus=gpus, max_restarts=-1,
                                                max_task_retries=RETRIES)
            pool += [actor.remote(per) for _ in range(n)]
            _wait_placed(ray, pool, gpus)
            yield ray, pool
        finally:
            for a in pool:
                ray.kill(a)


def _shares(workers: int | None, threads: int | None, cpus: int) -> tuple[int, int]:
    """(workers, threads each) on `cpus` CPUs; more than the CPUs is refused, since an actor
    that can never be placed waits forever."""
    n = workers or max(1, cpus)
    per = threads or max(1, cpus // n)
    if n * per > cpus:
        raise InputError(f"--workers {n} --threads {per}", f"need {n * per} CPUs but the "
                         f"Ray cluster has {cpus}", "give fewer workers or threads, or leave "
                         "them out to share the CPUs")
    return n, per


@contextlib.contextmanager
def local_ray(**init_options: Any):
    """A Ray for this process alone, shut down and removed afterwards. Its session folder
    (sockets, logs) and its authentication token live in a folder private to this user, removed
    on the way out: Ray's own are world-writable folders and a world-readable token in ~/.ray.
    Ray's services listen on the machine's network address whatever they are told (Ray turns
    127.0.0.1 into that address), so token authentication is what keeps others out: every call
    to them must carry the token, which only this user can read."""
    import secrets
    import shutil
    import tempfile

    ray = _import_ray()
    private = tempfile.mkdtemp(prefix="brushwork-ray-")  # 0700
    env = {}
    if not any(os.environ.get(k) for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")):
        token = os.path.join(private, "token")
        fd = os.open(token, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        env = {"RAY_AUTH_TOKEN_PATH": token}
    saved = {k: os.environ.get(k) for k in (*env, "RAY_AUTH_MODE")}
    os.environ.update(env)  # Ray's own processes read it from the environment they start with
    try:
        _forget_ray_token()
        # Ray turns token authentication on for a new local cluster and says so on stderr;
        # it is what we want, so the notice is not shown.
        notice = logging.getLogger("ray._private.authentication.authentication_token_setup")
        level = notice.level
        notice.setLevel(logging.ERROR)
        try:
            ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False,
                     _temp_dir=os.path.join(private, "r"), **init_options)
        finally:
            notice.setLevel(level)
        try:
            yield ray
        finally:
            ray.shutdown()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(private, ignore_errors=True)


def _forget_ray_token() -> None:
    """Ray caches the token it loaded once per process: a second local Ray has a new one."""
    try:
        from ray._raylet import AuthenticationTokenLoader

        AuthenticationTokenLoader.instance().reset_cache()
    except (ImportError, AttributeError):  # another Ray version: nothing cached to forget
        pass


@contextlib.contextmanager
def _joined(ray, address: str):
    """Ray joined at a running cluster's `address`, left on the way out."""
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise InputError(f"--address {address}", f"no Ray cluster answers there ({e})",
                         "start one with `ray start --head`, or leave --address out") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def _wait_placed(ray, pool: list, gpus: float) -> None:
    """Every worker started within PLACE_SECONDS, or InputError instead of a batch that hangs
    (a GPU share the cluster does not have, say)."""
    try:
        ray.get([a.ready.remote() for a in pool], timeout=PLACE_SECONDS)
    except ray.exceptions.GetTimeoutError:
        raise InputError("--backend ray", f"{len(pool)} workers could not all start within "
                         f"{PLACE_SECONDS} s" + (f" (each asks for {gpus:g} GPU)" if gpus else ""),
                         "give fewer --workers, --threads or --gpus-per-worker") from None


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


def _import_ray():
    try:
        import ray
    except ModuleNotFoundError:
        raise InputError("--backend ray", "needs Ray", "run: pip install 'brushwork[ray]'") from None
    return ray

