"""Ray: workers that each load the model once (a `Painter` per worker), a local Ray for one
command or a running cluster joined by address, and a long video cut into runs of consecutive
frames across workers with their seams cross-faded. `pip install 'brushwork[ray]'`.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any

from . import images, optional
from .errors import InputError
from .jobs import FrameRun, Job
from .painter import Painter, read_or_failure
from .settings import Settings

# Jobs handed to each Ray worker at once: one painting, one waiting, so a worker never idles
# while the driver writes a file and sends the next.
IN_FLIGHT = 2
# A job whose worker dies this many times is recorded as failed (it may be what kills it).
RETRIES = 2
# How long every Ray worker has to start before the batch is refused rather than left waiting.
PLACE_SECONDS = 120


def run_on_ray(jobs: list[Job], settings: Settings, workers: int | None, gpus: float,
         address: str | None, threads: int | None):
    with pool(workers, gpus, address, threads) as (ray, actors):
        yield from _drive(ray, actors, jobs, settings)


@contextlib.contextmanager
def pool(workers: int | None, gpus: float, address: str | None, threads: int | None,
         concurrency: int = 1):
    """(ray, `workers` Painter actors): Ray joined at `address` or started here for as long as
    the pool lives, the workers killed on the way out, also when the caller stops early
    (Ctrl-C). `concurrency` 2 lets an actor take `cancel` while it paints (the service)."""
    ray = optional.require("ray", "--backend ray", "ray")
    address = address or os.environ.get("RAY_ADDRESS")
    with contextlib.ExitStack() as stack:
        if not ray.is_initialized():
            stack.enter_context(local_ray() if not address else _joined(ray, address))
        actors: list = []
        try:
            cpus = int(ray.cluster_resources().get("CPU", 1))
            n, per = check_shares(workers, threads, cpus)
            actor = ray.remote(Painter).options(num_cpus=per, num_gpus=gpus, max_restarts=-1,
                                                max_task_retries=RETRIES,
                                                max_concurrency=concurrency)
            actors += [actor.remote(per) for _ in range(n)]
            _wait_placed(ray, actors, gpus)
            yield ray, actors
        finally:
            for a in actors:
                ray.kill(a)


def check_shares(workers: int | None, threads: int | None, cpus: int) -> tuple[int, int]:
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

    ray = optional.require("ray", "--backend ray", "ray")
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
                data = read_or_failure(job)
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
    with pool(len(runs), gpus_per_worker, address, threads) as (ray, actors):
        base, vs = ray.put(settings), ray.put(video_settings)
        refs = {a.paint_frames.remote(r, styles, base, vs, previous if i == 0 else None): i
                for i, (a, r) in enumerate(zip(actors, runs))}
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
                yield from blended(runs, done, next_run, blend)
                next_run += 1


def blended(runs: list[FrameRun], done: dict[int, dict], i: int, blend: bool = True):
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
