"""Load test of the web app: N browser sessions (Debian's Chromium via Playwright) start runs on
one `brushwork app` server at once. Reports sessions, wall time, the server's peak RSS, how many
sessions were told they wait, and errors. The short pytest variant is in tests/test_browser.py.

    python benchmarks/load_app.py [--sessions 6] [--size 96] [--steps 12]
"""

from __future__ import annotations

import argparse
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from test_browser import CHROMIUM, server_peak_rss_mib, start_run, running_app  # noqa: E402

from brushwork import images  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sessions", type=int, default=6)
    p.add_argument("--size", type=int, default=96)
    p.add_argument("--steps", type=int, default=12)
    a = p.parse_args()
    from playwright.sync_api import sync_playwright

    errors, told_busy, done = [], 0, 0
    with running_app() as url, sync_playwright() as pw:
        start = time.perf_counter()
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        pages = [browser.new_context(accept_downloads=True).new_page()
                 for _ in range(a.sessions)]
        for seed, page in enumerate(pages, start=100):
            start_run(page, url, a.size, a.steps, seed=seed)
        pages[-1].get_by_text("Busy").first.wait_for(timeout=120_000)
        told_busy = sum(1 for page in pages if page.get_by_text("Busy").count())
        for seed, page in enumerate(pages, start=100):
            try:
                page.get_by_text("Done in").wait_for(timeout=600_000)
                with page.expect_download() as info:
                    page.get_by_role("button", name="Download PNG (settings embedded)").click()
                path = Path(info.value.path())
                got = images.read_metadata(path)["settings"]["seed"]
                if got != seed:
                    errors.append(f"session {seed} received seed {got}'s picture")
                done += 1
            except Exception as e:  # a load test counts failures instead of stopping
                errors.append(f"session {seed}: {type(e).__name__}: {str(e)[:120]}")
        browser.close()
        wall = time.perf_counter() - start
        rss = server_peak_rss_mib(url)
        alive = urllib.request.urlopen(url + "/_stcore/health", timeout=5).status == 200
    print("| sessions | size | steps each | finished | told to wait (once all had started) | errors | wall s | server peak RSS MiB | server up after |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    print(f"| {a.sessions} | {a.size} | {a.steps} | {done} | {told_busy} | {len(errors)} | {wall:.0f} "
          f"| {rss:.0f} | {'yes' if alive else 'NO'} |")
    for e in errors:
        print("error:", e)


if __name__ == "__main__":
    main()
