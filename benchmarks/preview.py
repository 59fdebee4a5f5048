"""How soon the web app's preview answers a change, measured in Chromium on this machine: from a
key press on the Strength slider to the new preview picture on the page (the server paints it:
the feed-forward picture and a few L-BFGS steps at 128 px), over several changes.

    python benchmarks/preview.py [--changes 8]

Needs Debian's chromium (Playwright drives it; never `playwright install`). Prints a markdown
table. Run it alone on the machine: the browser and the server share its two cores.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

CHROMIUM = "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    from playwright.sync_api import sync_playwright

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--changes", type=int, default=8)
    a = p.parse_args()
    port = free_port()
    app = subprocess.Popen([sys.executable, "-m", "brushwork", "app", "--server.port", str(port),
                            "--server.address", "127.0.0.1"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(url + "/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(0.3)  # the server is starting: nothing to wait on but its port
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync"])
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.set_default_timeout(120_000)
            page.goto(url)
            preview = page.get_by_alt_text("preview of the settings").first
            preview.wait_for()
            first_seen = preview.get_attribute("src")
            slider = page.get_by_role("slider", name="Strength")
            times, said = [], []
            src = first_seen
            for i in range(a.changes):
                slider.focus()
                start = time.perf_counter()
                slider.press("ArrowRight" if i % 2 == 0 else "ArrowLeft")
                page.wait_for_function(
                    "old => { const i = document.querySelector(\"img[alt='preview of the "
                    "settings']\"); return i && i.src !== old && i.complete; }", arg=src)
                times.append(time.perf_counter() - start)
                src = preview.get_attribute("src")
                said.append(page.get_by_text("Preview, not the result").first.inner_text())
            browser.close()
    finally:
        app.terminate()
        app.wait(timeout=30)
    print("| changes | median s (key press to new preview) | fastest | slowest |")
    print("|---:|---:|---:|---:|")
    print(f"| {len(times)} | {statistics.median(times):.2f} | {min(times):.2f} | "
          f"{max(times):.2f} |")
    print(f"\nthe page said: {said[-1]!r}")


if __name__ == "__main__":
    main()
