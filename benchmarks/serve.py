"""`brushwork serve` under load, on this machine: N clients (threads, loopback only) submit small
jobs at once against the local and the Ray backend; each follows its jobs' events. Prints a
markdown table: jobs per minute, time to the first preview and to the result (median and 95th
percentile), errors, and the server's peak memory; and `brushwork batch` on the same jobs for
comparison. Bounded: every wait has a deadline.

    python benchmarks/serve.py                      # 4 clients x 2 jobs, 128 px, 30 steps
    python benchmarks/serve.py --clients 8 --gpu    # on a CUDA machine (--gpus-per-worker 0.5)
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from brushwork import examples
from brushwork.client import Client

DEADLINE = 1800  # seconds for one backend's whole run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def serve(data: Path, extra: list[str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "brushwork", "serve", "--data", str(data),
                             "--port", str(port), "--max-per-client", "1000", "--max-queue",
                             "1000", *extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("the server did not come up")


def load(url: str, clients: int, per: int, settings: dict) -> dict:
    firsts, results, errors = [], [], []
    began = time.monotonic()

    def client(i: int) -> None:
        with Client(url) as c:
            jobs = []
            for k in range(per):
                try:
                    jobs.append((c.submit(examples.CONTENT, examples.STARRY_NIGHT,
                                          {**settings, "seed": i * 100 + k}), time.monotonic()))
                except Exception as e:  # noqa: BLE001  counted, not raised
                    errors.append(str(e))
            for job, sent in jobs:
                first = None
                for ev in c.events(job):
                    if first is None and ev["state"] == "running" and (ev["preview"] or ev["step"]):
                        first = time.monotonic() - sent
                if ev["state"] != "done":
                    errors.append(ev.get("error") or ev["state"])
                    continue
                c.result_bytes(job)
                firsts.append(first or 0.0)
                results.append(time.monotonic() - sent)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=DEADLINE)
    wall = time.monotonic() - began
    return {"wall": wall, "firsts": firsts, "results": results, "errors": errors}


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def batch(folder: Path, n: int, settings: dict, extra: list[str]) -> float:
    """`brushwork batch` on n copies of the same job: wall seconds."""
    jobs = folder / "jobs.jsonl"
    import json

    jobs.write_text("".join(json.dumps({"content": str(examples.CONTENT),
                                        "styles": [str(examples.STARRY_NIGHT)],
                                        "settings": {"seed": k}, "output": f"{k}.png"}) + "\n"
                            for k in range(n)))
    began = time.monotonic()
    subprocess.run([sys.executable, "-m", "brushwork", "batch", "--jobs", str(jobs), "-o",
                    str(folder / "out"), "--size", str(settings["size"]), "--steps",
                    str(settings["steps"]), "--device", settings["device"], "-q", *extra],
                   check=True, timeout=DEADLINE)
    return time.monotonic() - began


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--jobs", type=int, default=2, help="jobs per client")
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--gpu", action="store_true")
    a = p.parse_args()
    settings = {"size": a.size, "steps": a.steps, "device": "cuda" if a.gpu else "cpu"}
    cpus = os.cpu_count() or 1
    ray_extra = (["--backend", "ray", "--workers", "2", "--gpus-per-worker", "0.5"] if a.gpu
                 else ["--backend", "ray", "--workers", str(cpus), "--threads", "1"])
    n = a.clients * a.jobs
    print(f"{a.clients} clients x {a.jobs} jobs at {a.size} px, {a.steps} steps, on "
          f"{settings['device']} ({cpus} CPUs)\n")
    print("| backend | jobs/min | first preview median / p95 (s) | result median / p95 (s) | "
          "errors | server peak MB | batch jobs/min | serve / batch |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, extra, batch_extra in (("local", [], []), ("ray", ray_extra, ray_extra)):
        with tempfile.TemporaryDirectory() as tmp:
            proc, url = serve(Path(tmp) / "data", extra)
            try:
                r = load(url, a.clients, a.jobs, settings)
                mem = peak_mb(proc.pid)
            finally:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    proc.kill()
            rate = len(r["results"]) / r["wall"] * 60
            b = batch(Path(tmp), n, settings, batch_extra)
            brate = n / b * 60
            print(f"| {name} | {rate:.1f} | {pct(r['firsts'], .5):.1f} / {pct(r['firsts'], .95):.1f} | "
                  f"{pct(r['results'], .5):.1f} / {pct(r['results'], .95):.1f} | "
                  f"{len(r['errors'])} | {mem:.0f} | {brate:.1f} | {rate / brate:.2f} |", flush=True)


if __name__ == "__main__":
    main()
