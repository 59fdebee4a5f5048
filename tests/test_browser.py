"""End to end in a real browser: `brushwork app` on a free local port, driven by Playwright in
Debian's Chromium. Screenshots land in test-artifacts/ (look at them)."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

from brushwork import examples, images

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
pytestmark = pytest.mark.browser

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError("CI must install Debian's chromium package (see .ci/run)")
    pytest.skip("needs Debian's chromium: apt-get install chromium", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "brushwork", "app", "--server.port", str(port),
         "--server.address", "127.0.0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    first_line = proc.stdout.readline()
    assert f"localhost:{port}" in first_line  # `brushwork app` prints where it serves
    deadline = time.monotonic() + 60
    while True:  # wait for the health endpoint, not a fixed time
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("brushwork app did not come up: " + proc.stdout.read()[-2000:])
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


def _set_number(page, label: str, value: int) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Enter")


def test_upload_run_preview_download(server, browser, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1100}, accept_downloads=True)
    page.goto(server)
    page.get_by_text("Start painting").wait_for(timeout=60_000)
    uploads = page.locator('input[type="file"]')
    uploads.nth(0).set_input_files(str(examples.CONTENT))
    uploads.nth(1).set_input_files(str(examples.STYLES["The Scream (Munch)"]))
    page.get_by_text("tubingen.jpg").first.wait_for()
    page.get_by_text("the_scream.jpg").first.wait_for()
    _set_number(page, "Size", 96)
    _set_number(page, "Steps", 8)
    page.get_by_role("button", name="Start painting").click()
    page.get_by_text("Done in").wait_for(timeout=180_000)
    page.get_by_text("Step 8/8").first.wait_for()
    page.screenshot(path=str(ARTIFACTS / "app-result.png"), full_page=True)
    with page.expect_download() as info:
        page.get_by_role("button", name="Download PNG (settings embedded)").click()
    saved = tmp_path / "download.png"
    info.value.save_as(saved)
    im = Image.open(saved)
    assert im.format == "PNG" and max(im.size) == 96
    record = images.read_metadata(saved)
    assert record["content"]["name"] == "tubingen.jpg"
    assert record["styles"][0]["name"] == "the_scream.jpg"
    assert record["settings"]["steps"] == 8
    # the result is still there after the download click
    assert page.get_by_role("button", name="Download PNG (settings embedded)").is_visible()


def test_bad_upload_shows_a_message_and_keeps_the_page(server, browser, tmp_path):
    page = browser.new_page()
    page.goto(server)
    page.get_by_text("Start painting").wait_for(timeout=60_000)
    fake = tmp_path / "fake.png"
    fake.write_text("this is not a picture")
    page.locator('input[type="file"]').nth(0).set_input_files(str(fake))
    page.get_by_text("fake.png: is not an image brushwork can read").wait_for(timeout=30_000)
    assert page.get_by_role("button", name="Start painting").is_visible()
    page.screenshot(path=str(ARTIFACTS / "app-bad-upload.png"))
