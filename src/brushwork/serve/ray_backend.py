"""The service's jobs on Ray workers: one job per worker (or per GPU share), each worker a
`Painter` actor with the model loaded once, streaming each step back to the queue in this
process. A worker lost mid-job raises here; the queue runs the job again or fails it with the
reason, never silently."""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator

from .. import cluster
from .config import ServeConfig


class RayBackend:
    """Slots are the pool's actors; Ray is joined (config.address) or started here."""

    def __init__(self, config: ServeConfig) -> None:
        self._stack = contextlib.ExitStack()
        # Two threads per actor: one paints, the other takes `cancel` meanwhile.
        self.ray, self.actors = self._stack.enter_context(cluster.pool(
            config.workers, config.gpus_per_worker, config.address, config.threads,
            concurrency=2))
        self.slots = len(self.actors)

    def run(self, slot: int, job_id: str, spec: dict, data: dict,
            cancelled: Callable[[], bool]) -> Iterator[dict]:
        stream = self.actors[slot].paint_steps.options(num_returns="streaming").remote(
            job_id, spec, data)
        for ref in stream:
            yield self.ray.get(ref)

    def cancel(self, slot: int, job_id: str) -> None:
        self.actors[slot].cancel.remote(job_id)

    def worker(self, slot: int) -> str:
        return self.ray.get(self.actors[slot].ready.remote())

    def close(self) -> None:
        self._stack.close()
