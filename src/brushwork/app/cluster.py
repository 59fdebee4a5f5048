"""`brushwork app --backend ray`: each visitor's picture is a job in one queue whose jobs run on
Ray workers, the service's queue and backend (brushwork.serve) in the app's process. The page
shows the place in line, the estimated start and the progress as it does for a local run."""

from __future__ import annotations

import os
import queue
import tempfile
import threading


def start():
    """The queue, on a store in a temporary folder and Ray workers as the options said.

    Ray is started from a thread of its own that lives as long as the server: Ray's processes
    die with the *thread* that started them (Linux's parent-death signal), and each of
    Streamlit's script runs is a thread that ends when the page is drawn."""
    out: queue.Queue = queue.Queue()

    def host() -> None:
        try:
            out.put(_build())
        except BaseException as e:  # noqa: BLE001  handed to the caller, who shows it
            out.put(e)
            return
        threading.Event().wait()  # keep this thread, Ray's parent, alive

    threading.Thread(target=host, name="brushwork-ray-host", daemon=True).start()
    got = out.get()
    if isinstance(got, BaseException):
        raise got
    return got


def _build():
    from brushwork.serve.config import ServeConfig
    from brushwork.serve.ray_backend import RayBackend
    from brushwork.serve.runner import Runner
    from brushwork.serve.store import Store

    env = os.environ.get
    config = ServeConfig(
        data=tempfile.mkdtemp(prefix="brushwork-app-"), backend="ray",
        workers=int(env("BRUSHWORK_APP_WORKERS")) if env("BRUSHWORK_APP_WORKERS") else None,
        threads=int(env("BRUSHWORK_APP_THREADS")) if env("BRUSHWORK_APP_THREADS") else None,
        gpus_per_worker=float(env("BRUSHWORK_APP_GPUS_PER_WORKER") or 0),
        address=env("BRUSHWORK_APP_ADDRESS"), expire_hours=1.0)
    runner = Runner(Store(config.data), RayBackend(config), expire_seconds=config.expire_seconds)
    runner.start()
    return runner


def submit(runner, client: str, settings, content, styles, masks) -> str:
    """Queue one picture; returns its job id."""
    from brushwork import images

    files = {"content": content.data, **{f"style-{i}": s.data for i, s in enumerate(styles)},
             **{f"mask-{i}": m.data for i, m in enumerate(masks or ())}}
    names = {"content": content.name, "styles": [s.name for s in styles],
             "masks": [m.name for m in masks] if masks else None}
    w, h = images.fit_size(*content.im.size, settings.size)
    return runner.submit(client, settings, names, files, w * h)


def follow(runner, job_id: str, seconds: float = 1.0):
    """The job's status each time it changes (at least every `seconds`), until it ends."""
    from brushwork.serve.store import ENDED

    version = -1
    while True:
        row = runner.store.get(job_id)
        if row is None:
            return
        yield runner.status(row)
        if row.state in ENDED:
            return
        version = runner.wait(version, seconds)
