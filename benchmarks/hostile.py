"""`brushwork serve` against the worst a client may send, on this machine (loopback only, every
loop bounded): the server's peak memory for the heaviest request the default limits let through,
and the latency of a submission with 50 event streams open against its idle value.

    python benchmarks/hostile.py                 # both, a fresh server each
    python benchmarks/hostile.py --streams 50 --posts 20
    python benchmarks/hostile.py --memory-only   # the heavy requests alone

Prints a markdown table (docs/reliability.md keeps one). Run it alone on the machine.
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from PIL import Image

from brushwork import examples
from brushwork.serve.config import ServeConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve import peak_mb, serve  # noqa: E402  (benchmarks/serve.py)


def start(data: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    return serve(data, list(extra))


def png(w: int, h: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (120, 80, 40)).save(buf, "PNG")
    return buf.getvalue()


def worst_request(folder: Path) -> list[tuple[str, str]]:
    """The heaviest request under the default limits: the whole decoded-pixel budget in
    pictures each at the per-file cap, 16 paintings with one mask each, refused or not."""
    c = ServeConfig()
    proc, url = start(folder / "worst")
    rows = []
    try:
        idle = peak_mb(proc.pid)
        # A photo at the per-file cap and a painting with the rest of the request's budget:
        # accepted, decoded and checked (then cancelled before it paints).
        side = int((c.max_megapixels * 1e6) ** 0.5)
        rest = int((c.max_request_megapixels * 1e6 - side * side) ** 0.5)
        files = [("photo", ("p.png", png(side, side))), ("paintings", ("s.png", png(rest, rest)))]
        sent = sum(len(f[1][1]) for f in files)
        start_t = time.perf_counter()
        r = httpx.post(url + "/jobs", files=files, data={"settings": '{"size": 1024}'},
                       timeout=600)
        took = time.perf_counter() - start_t
        if r.status_code == 201:
            httpx.post(url + f"/jobs/{r.json()['id']}/cancel", timeout=60)
        rows.append((f"a {side}x{side} photo and a {rest}x{rest} painting ({sent >> 10} kB "
                     f"sent, {(side * side + rest * rest) / 1e6:.0f} MP: the default budget)",
                     f"{r.status_code} in {took:.1f} s; the server's peak RSS "
                     f"{peak_mb(proc.pid) - idle:.0f} MB over idle ({peak_mb(proc.pid):.0f} MB)"))
        rows += junk_requests(url, proc.pid, c)
        many = [("photo", ("p.png", png(64, 64)))] + [
            ("paintings", (f"s{i}.png", png(1000, 1000))) for i in range(80)]
        before = peak_mb(proc.pid)
        r = httpx.post(url + "/jobs", files=many, timeout=600)
        rows.append(("80 paintings of 1000x1000", f"{r.status_code}: {r.json()['message']}; "
                     f"peak +{peak_mb(proc.pid) - before:.0f} MB"))
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return rows


def latency(folder: Path, streams: int, posts: int) -> list[tuple[str, str]]:
    """Median and worst POST /jobs (a tiny job, cancelled at once) idle, then with `streams`
    event streams open on a long job."""
    proc, url = start(folder / "streams", "--max-streams-per-client", str(streams + 1),
                      "--max-steps", "100000", "--max-per-client", "100", "--max-queue", "200")
    photo = Path(examples.CONTENT).read_bytes()
    painting = png(64, 64)

    def post_times() -> list[float]:
        out = []
        for _ in range(posts):
            t = time.perf_counter()
            r = httpx.post(url + "/jobs", files=[("photo", ("p.jpg", photo)),
                                                 ("paintings", ("s.png", painting))],
                           data={"settings": '{"size": 64, "steps": 1}'}, timeout=60)
            out.append(time.perf_counter() - t)
            httpx.post(url + f"/jobs/{r.json()['id']}/cancel", timeout=60)
        return out

    rows = []
    stop = threading.Event()
    try:
        long = httpx.post(url + "/jobs", files=[("photo", ("p.jpg", photo)),
                                                ("paintings", ("s.png", painting))],
                          data={"settings": '{"size": 64, "steps": 100000}'}).json()["id"]
        idle = post_times()
        opened = threading.Semaphore(0)

        def follow() -> None:
            with httpx.Client(timeout=None) as h, h.stream("GET", f"{url}/jobs/{long}/events") as r:
                opened.release()
                for _ in r.iter_lines():
                    if stop.is_set():
                        return

        threads = [threading.Thread(target=follow, daemon=True) for _ in range(streams)]
        for t in threads:
            t.start()
        for _ in threads:
            opened.acquire(timeout=60)
        busy = post_times()
        health = []
        for _ in range(posts):
            t = time.perf_counter()
            httpx.get(url + "/health", timeout=60)
            health.append(time.perf_counter() - t)
        for name, ts in (("POST /jobs, idle", idle), (f"POST /jobs, {streams} streams open", busy),
                         (f"GET /health, {streams} streams open", health)):
            rows.append((name, f"median {1000 * statistics.median(ts):.0f} ms, worst "
                         f"{1000 * max(ts):.0f} ms"))
        rows.append(("ratio of medians", f"{statistics.median(busy) / statistics.median(idle):.2f}"))
    finally:
        stop.set()
        proc.terminate()
        proc.wait(timeout=60)
    return rows


def junk_requests(url: str, pid: int, c: ServeConfig) -> list[tuple[str, str]]:
    """Bytes that are not pictures, as much as the default caps admit: 32 parts of random bytes
    at the per-file cap; the same with a PNG's header and 1x1 pixels, so that they pass the
    first-bytes check and are decoded; and four such requests at once."""
    import os

    n = 2 * c.max_paintings
    cap = c.max_upload_bytes - 4096
    noise = os.urandom(cap)
    header = png(1, 1)
    photo = ("photo", ("p.jpg", Path(examples.CONTENT).read_bytes()))
    rows = []
    for name, part in (("random bytes", noise), ("a 1x1 PNG and random bytes after it",
                                                 header + noise[len(header):])):
        files = [photo] + [("paintings" if i < c.max_paintings else "masks", (f"s{i}.png", part))
                           for i in range(n)]
        before = peak_mb(pid)
        t = time.perf_counter()
        r = httpx.post(url + "/jobs", files=files, timeout=600)
        rows.append((f"a photo and {n} parts of {len(part) / 2**20:.1f} MB, {name}",
                     f"{r.status_code} in {time.perf_counter() - t:.1f} s: "
                     f"{r.json().get('message', r.json().get('state'))[:90]}; "
                     f"peak +{peak_mb(pid) - before:.0f} MB"))
        if r.status_code == 201:
            httpx.post(url + f"/jobs/{r.json()['id']}/cancel", timeout=60)
    files = [photo] + [("paintings", (f"s{i}.png", header + noise[len(header):]))
                       for i in range(c.max_paintings)]
    before = peak_mb(pid)
    t = time.perf_counter()
    codes = []

    def one() -> None:
        codes.append(httpx.post(url + "/jobs", files=files, timeout=600).status_code)

    threads = [threading.Thread(target=one) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    rows.append((f"four such requests at once ({c.max_paintings} padded PNGs each)",
                 f"{sorted(codes)} in {time.perf_counter() - t:.1f} s; "
                 f"peak +{peak_mb(pid) - before:.0f} MB"))
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--streams", type=int, default=50)
    p.add_argument("--posts", type=int, default=20)
    p.add_argument("--memory-only", action="store_true", help="the heavy requests, no latency")
    a = p.parse_args()
    folder = Path(tempfile.mkdtemp())
    print("| probe | answer |\n|---|---|")
    rows = worst_request(folder)
    if not a.memory_only:
        rows += latency(folder, a.streams, a.posts)
    for name, answer in rows:
        print(f"| {name} | {answer} |", flush=True)


if __name__ == "__main__":
    main()
