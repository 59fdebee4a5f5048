"""End to end in a real browser: `brushwork app` on a free local port, driven by Playwright in
Debian's Chromium. Screenshots land in test-artifacts/ (look at them)."""

import contextlib
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

from brushwork import Settings, examples, images

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


@contextlib.contextmanager
def running_app(*extra: str):
    """`brushwork app` on a free local port; yields its URL once it answers, stops it after."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "brushwork", "app", "--server.port", str(port),
         "--server.address", "127.0.0.1", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    first_line = proc.stdout.readline()
    assert f"localhost:{port}" in first_line  # `brushwork app` prints where it serves
    # The server's output is drained as it comes: a full pipe would stop the server (Ray's
    # workers log to it).
    log: list[str] = []
    threading.Thread(target=lambda: log.extend(proc.stdout), daemon=True).start()
    deadline = time.monotonic() + 60
    while True:  # wait for the health endpoint, not a fixed time
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("brushwork app did not come up: " + "".join(log)[-2000:])
            time.sleep(0.2)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(scope="module")
def server():
    with running_app() as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


# Every wait below is for an event on the page; this only caps how long one may take. On a
# loaded machine (CI beside a demo run) an upload took over Playwright's default 30 s to show.
PAGE_TIMEOUT_MS = 180_000


def _page(browser, **options):
    context = browser.new_context(**options)
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    return context.new_page()


def _download(page, path: Path) -> Path:
    """Click the result's download button and save the file to `path`."""
    with page.expect_download() as info:
        page.get_by_role("button", name="Download PNG (settings embedded)").click()
    info.value.save_as(path)
    return path


def _set_number(page, label: str, value: int) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Enter")


def test_upload_run_preview_download(server, browser, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    # a 1280x720 laptop screen: Start, the run and its result fit it
    page = _page(browser, viewport={"width": 1280, "height": 720}, accept_downloads=True)
    page.goto(server)
    page.get_by_text("Start painting").wait_for()
    uploads = page.locator('input[type="file"]')
    # one file, then the next once the first is drawn by the server, as a person uploads (two
    # uploads a few milliseconds apart on a server still starting left the second undrawn once
    # in about eight CI runs; not seen here in 18 tries, loaded or not)
    uploads.nth(0).set_input_files(str(examples.CONTENT))
    page.get_by_alt_text("photo: tubingen.jpg").wait_for()
    uploads.nth(1).set_input_files(str(examples.STYLES["The Scream (Munch)"]))
    page.get_by_alt_text("painting: the_scream.jpg").wait_for()
    _set_number(page, "Size (px)", 96)
    _set_number(page, "Steps", 8)
    start = page.get_by_role("button", name="Start painting")
    assert _in_view(page, start)
    start.click()
    page.get_by_text("Done in").wait_for(timeout=180_000)
    # The result: at its own 96 px, with a before/after swipe that works in the browser alone.
    frame = page.locator("iframe[title='st.iframe']").first
    frame.wait_for()
    assert _in_view(page, frame)  # in view when the run ends, without scrolling
    swipe = page.frame_locator("iframe[title='st.iframe']").first
    # the result's caption, saying what differed from the defaults and how far it got
    swipe.get_by_text("the_scream.jpg · size 96 · steps 8 · step 8 of 8").first.wait_for()
    picture = swipe.get_by_role("img").first
    assert picture.get_attribute("alt") == "#1: tubingen.jpg × the_scream.jpg · size 96 · steps 8 · step 8 of 8"
    assert picture.evaluate("i => [i.naturalWidth, Math.round(i.getBoundingClientRect().width)]") \
        == [96, 96]
    photo = swipe.get_by_alt_text("the photo it was painted from")
    assert photo.evaluate("i => i.style.clipPath || getComputedStyle(i).clipPath") \
        == "inset(0px 50% 0px 0px)"
    swipe.get_by_role("slider").fill("80")  # drag towards the photo: no rerun, no round trip
    assert photo.evaluate("i => i.style.clipPath") == "inset(0px 20% 0px 0px)"
    page.screenshot(path=str(ARTIFACTS / "app-result.png"), full_page=True)
    saved = _download(page, tmp_path / "download.png")
    im = Image.open(saved)
    assert im.format == "PNG" and max(im.size) == 96
    record = images.read_metadata(saved)
    assert record["content"]["name"] == "tubingen.jpg"
    assert record["styles"][0]["name"] == "the_scream.jpg"
    assert record["settings"]["steps"] == 8
    # the result is still there after the download click
    assert page.get_by_role("button", name="Download PNG (settings embedded)").is_visible()
    # leaving the page would lose the session's pictures: the browser asks first
    asked = []
    page.once("dialog", lambda d: (asked.append(d.type), d.accept()))  # then leave
    page.close(run_before_unload=True)
    page.wait_for_event("close")  # at once when nothing asks
    assert asked == ["beforeunload"]


def _in_view(page, locator) -> bool:
    """The element lies wholly inside the window as it is scrolled now."""
    box = locator.bounding_box()
    size = page.viewport_size
    return (box is not None and box["y"] >= 0 and box["y"] + box["height"] <= size["height"]
            and box["x"] + box["width"] <= size["width"])


def _start(page):
    from playwright.sync_api import expect

    start = page.get_by_role("button", name="Start painting")
    start.first.wait_for()  # the page has loaded
    # Until a rerun has finished, Streamlit can show the old button beside the new one.
    expect(start).to_have_count(1)
    return start


def test_a_refused_upload_paints_nothing_in_its_place(server, browser, tmp_path):
    """A file brushwork cannot read is refused in the page, in words; the example photo is not
    painted in its place: Start waits, and says why."""
    from playwright.sync_api import expect

    page = _page(browser)
    page.goto(server)
    example = page.get_by_alt_text("photo: Tübingen (example)")
    example.wait_for()
    fake = tmp_path / "fake.png"
    fake.write_text("this is not a picture")
    page.locator('input[type="file"]').nth(0).set_input_files(str(fake))
    page.get_by_text("fake.png: is not an image brushwork can read").first.wait_for()
    page.get_by_text("Start waits: the photo was refused (see Photo)").wait_for()
    expect(_start(page)).to_be_disabled()
    expect(example).to_have_count(0)  # not the example instead
    page.screenshot(path=str(ARTIFACTS / "app-bad-upload.png"))


def test_a_number_out_of_range_is_refused_beside_it_not_replaced(server, browser):
    """Size typed as 10 stays 10 and is refused under the widget, in its words; Start waits
    until it is fixed (Streamlit's own range check showed 10 and ran 256)."""
    from playwright.sync_api import expect

    page = _page(browser, viewport={"width": 1280, "height": 720})
    page.goto(server)
    _start(page).wait_for()
    _set_number(page, "Size (px)", 10)
    page.get_by_text("Start waits: Size (px): must be from 32 to 8192, got 10").wait_for()
    reason = page.locator("[data-testid='stSidebar']").get_by_text("must be from 32 to 8192, got 10")
    expect(reason).to_have_count(1)  # under the widget too
    expect(_start(page)).to_be_disabled()
    assert page.get_by_label("Size (px)", exact=True).input_value() == "10"  # as typed
    page.screenshot(path=str(ARTIFACTS / "app-out-of-range.png"))
    _set_number(page, "Size (px)", 64)
    expect(_start(page)).to_be_enabled()
    page.get_by_text(f"64 px, {Settings().steps} steps").wait_for()


def test_a_photo_the_size_cannot_paint_is_refused_before_start(server, browser, tmp_path):
    """A 4000x20 photo is 512x3 at 512 px: said in the page before Start, which waits (it
    used to pass the upload and fail after Start under a bar that never moved)."""
    from playwright.sync_api import expect

    page = _page(browser)
    page.goto(server)
    _start(page).wait_for()
    wide = tmp_path / "wide.png"
    Image.new("RGB", (4000, 20), (200, 40, 40)).save(wide)
    page.locator('input[type="file"]').nth(0).set_input_files(str(wide))
    size = Settings().size  # the app's default, the command line's
    w, h = images.fit_size(4000, 20, size)
    page.get_by_text(f"The photo: at a longer side of {size} px this 4000x20 image is "
                     f"{w}x{h}").wait_for()
    expect(_start(page)).to_be_disabled()


def test_masks_that_do_not_fit_keep_start_waiting(server, browser, tmp_path):
    """Upload masks for two paintings with one mask: the reason is in the page and Start waits
    (the run used to blend both paintings everywhere)."""
    from playwright.sync_api import expect

    page = _page(browser, viewport={"width": 1400, "height": 1200})
    page.goto(server)
    _start(page).wait_for()
    starry, scream = examples.STYLES["The Starry Night (van Gogh)"], examples.STYLES["The Scream (Munch)"]
    page.locator('input[type="file"]').nth(1).set_input_files([str(starry), str(scream)])
    # drawn by the server (the uploader's own chip shows before the page has run again)
    page.get_by_alt_text("painting: the_scream.jpg").wait_for()
    _settled(page)
    page.get_by_text("Regions: a different painting in each part").click()
    _choose(page, "Where the paintings go", "Upload masks")
    page.get_by_text("Start waits: Regions: upload 2 masks, one per painting").wait_for()
    expect(_start(page)).to_be_disabled()
    mask = tmp_path / "left.png"
    Image.new("L", (64, 48), 255).save(mask)
    page.locator('input[type="file"]').nth(2).set_input_files(str(mask))
    page.get_by_text("Start waits: Regions: 1 masks for 2 paintings").wait_for()
    expect(_start(page)).to_be_disabled()
    page.screenshot(path=str(ARTIFACTS / "app-masks-do-not-fit.png"), full_page=True)


def start_run(page, server, size: int, steps: int, seed: int | None = None) -> None:
    page.goto(server)
    page.get_by_text("Start painting").wait_for()
    _set_number(page, "Size (px)", size)
    _set_number(page, "Steps", steps)
    if seed is not None:
        page.get_by_text("Advanced").click()
        _set_number(page, "Seed", seed)
    page.get_by_role("button", name="Start painting").click()


def test_stop_keeps_the_latest_picture(server, browser, tmp_path):
    page = _page(browser, viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    # far too many steps to finish by itself, whatever the machine's speed: only Stop ends it
    start_run(page, server, 128, 100000, seed=7)
    # the progress says the time left, once a few steps have set the pace
    progress = page.get_by_text(re.compile(r"Step \d+/100000 · about .+ left")).first
    progress.wait_for(timeout=120_000)
    seen = int(re.search(r"Step (\d+)/100000", progress.inner_text()).group(1))
    # While it paints, nothing that would end it can be changed: the settings, the inputs and
    # Start are locked, and Start says what is happening.
    assert page.get_by_label("Size (px)", exact=True).is_disabled()
    assert page.get_by_label("Steps", exact=True).is_disabled()
    assert page.get_by_role("button", name="Painting ...").is_disabled()
    page.get_by_role("button", name="Stop").click()
    message = page.get_by_text("Stopped. Kept the picture at step")
    message.wait_for()
    kept = int(re.search(r"at step (\d+)", message.inner_text()).group(1))
    assert seen <= kept < 100000  # the latest picture, not an older preview
    page.get_by_role("button", name="Download PNG (settings embedded)").wait_for()
    page.screenshot(path=str(ARTIFACTS / "app-stopped.png"))
    # the server is free again, the page unlocked: a new run starts and finishes, with the
    # numbers the page held while locked (Streamlit's browser side once put Seed back to 0)
    assert not page.get_by_label("Steps", exact=True).is_disabled()
    assert page.get_by_label("Seed", exact=True).input_value() == "7"
    _set_number(page, "Steps", 2)
    page.get_by_role("button", name="Start painting").click()
    page.get_by_text("Done in").wait_for(timeout=120_000)
    settings = images.read_metadata(_download(page, tmp_path / "after-stop.png"))["settings"]
    assert (settings["seed"], settings["size"], settings["steps"]) == (7, 128, 2)


def server_peak_rss_mib(url: str) -> float:
    """VmHWM of the Streamlit process serving `url` (a child of `brushwork app`)."""
    port = url.rsplit(":", 1)[1]
    for status in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            cmd = status.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"streamlit" in b" ".join(cmd) and port.encode() in cmd:
            for line in (status.parent / "status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    raise AssertionError("streamlit server process not found")


def test_concurrent_sessions_queue_in_turn_and_keep_their_own_results(server, browser, tmp_path):
    """Three users: the first paints, the others are told their place in line, each gets its
    own picture, and the server's memory stays that of one run. Event-driven: the first run is
    far too long to finish by itself and is stopped once both others are seen waiting."""
    pages = [_page(browser, accept_downloads=True) for _ in range(3)]
    start_run(pages[0], server, 96, 100000, seed=11)
    pages[0].get_by_text(re.compile(r"Step \d+/100000 ·")).first.wait_for(timeout=120_000)
    start_run(pages[1], server, 96, 12, seed=12)
    pages[1].get_by_text("You are next in line").wait_for()
    start_run(pages[2], server, 96, 12, seed=13)
    pages[2].get_by_text("You are number 2 in line").wait_for()
    # Stop while still in line: nothing was painted, and the page says so (not "Kept the
    # picture at step N" about another picture); then back in line.
    pages[2].get_by_role("button", name="Stop").click()
    pages[2].get_by_text("Stopped before its first step: nothing was painted.").wait_for()
    _start(pages[2]).click()
    pages[2].get_by_text("You are number 2 in line").wait_for()
    pages[0].get_by_role("button", name="Stop").click()
    pages[0].get_by_text("Stopped. Kept the picture at step").wait_for()
    for seed, page in zip((11, 12, 13), pages):
        if seed != 11:
            page.get_by_text("Done in").wait_for(timeout=240_000)
        path = _download(page, tmp_path / f"{seed}.png")
        assert images.read_metadata(path)["settings"]["seed"] == seed  # no leaks between users
    peak = server_peak_rss_mib(server)
    assert peak < 2500, f"{peak:.0f} MiB"


def test_a_preview_waits_for_another_visitors_picture(server, browser, tmp_path):
    """Two visitors: while one paints, the other's preview is not painted beside it (it would
    slow that picture); the page says it waits, and the preview comes by itself once the
    server is free, with no click and with the numbers the visitor typed meanwhile."""
    from playwright.sync_api import expect

    painter, other = _page(browser), _page(browser, accept_downloads=True)
    start_run(painter, server, 96, 100000, seed=21)
    painter.get_by_text(re.compile(r"Step \d+/100000 ·")).first.wait_for(timeout=120_000)
    other.goto(server)
    other.get_by_text("Start painting").wait_for()
    _set_number(other, "Size (px)", 64)
    _set_number(other, "Steps", 3)
    other.get_by_text("Advanced").click()
    _set_number(other, "Seed", 22)
    other.get_by_text("Preview waits: another picture is being painted").wait_for()
    expect(other.get_by_alt_text("preview of the settings")).to_have_count(0)
    # the waiting page stays live: Start is there to join the line
    expect(_start(other)).to_be_enabled()
    painter.get_by_role("button", name="Stop").click()
    painter.get_by_text("Stopped. Kept the picture at step").wait_for()
    other.get_by_alt_text("preview of the settings").first.wait_for()
    expect(other.get_by_text("Preview waits")).to_have_count(0)
    other.get_by_text("Preview, not the result", exact=False).first.wait_for()
    # the page the server reran kept what its visitor typed
    _start(other).click()
    other.get_by_text("Done in").wait_for(timeout=120_000)
    settings = images.read_metadata(_download(other, tmp_path / "other.png"))["settings"]
    assert (settings["seed"], settings["size"], settings["steps"]) == (22, 64, 3)


def test_upload_limit_and_xsrf_protection(server, browser, tmp_path):
    page = _page(browser)
    page.goto(server)
    page.get_by_text("Start painting").wait_for()
    big = tmp_path / "huge.png"
    big.write_bytes(b"\x89PNG" + os.urandom(26 * 2**20))
    page.locator('input[type="file"]').nth(0).set_input_files(str(big))
    # refused in the page, in words (not in the uploader's hover tooltip), and Start waits
    page.get_by_text("huge.png: is over 25 MB; upload a smaller file").first.wait_for()
    page.get_by_text("Start waits: the photo was refused").wait_for()
    assert _start(page).is_disabled()
    # An upload without the XSRF token is refused by the server itself.
    req = urllib.request.Request(server + "/_stcore/upload_file/abc/def", data=b"x", method="PUT")
    try:
        urllib.request.urlopen(req, timeout=10)
        raise AssertionError("upload without an XSRF token was accepted")
    except urllib.error.HTTPError as e:
        # 403 is XSRF's own refusal (Tornado's check of the _xsrf cookie); without XSRF the
        # same request reaches the upload handler and fails there with 400.
        assert e.code == 403, (e.code, e.read()[:200])


def _settled(page) -> None:
    """Wait until the page has run to its end: nothing stale, nothing running. (A server-drawn
    element can show while the rest of the page is still from the run before.)"""
    page.wait_for_function("() => !document.querySelector('[data-stale=\"true\"]') && "
                           "!document.querySelector('[data-testid=stStatusWidgetRunningIcon]')")


def _choose(page, label: str, option: str) -> None:
    """Click a radio option by the end of its label (a painting's name follows its swatch)."""
    page.get_by_role("radiogroup", name=label).get_by_text(
        re.compile(re.escape(option) + "$")).click()


def _drag(page, box, start: tuple[float, float], end: tuple[float, float]) -> None:
    """Drag across the canvas from `start` to `end`, given as fractions of its size, frame by
    frame as a hand does (a drag done within one frame leaves the canvas a shape it had
    mid-drag), once the canvas has applied its latest colour and tool."""
    frames = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
    page.evaluate(frames)
    page.mouse.move(box["x"] + start[0] * box["width"], box["y"] + start[1] * box["height"])
    page.mouse.down()
    for k in range(1, 21):
        t = k / 20
        page.mouse.move(box["x"] + (start[0] + t * (end[0] - start[0])) * box["width"],
                        box["y"] + (start[1] + t * (end[1] - start[1])) * box["height"])
        page.evaluate(frames)
    page.mouse.up()


def test_paint_two_regions_on_the_canvas_and_each_half_takes_its_painting(server, browser, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    page = _page(browser, viewport={"width": 1500, "height": 1600}, accept_downloads=True)
    page.goto(server)
    page.get_by_text("Start painting").wait_for()
    starry, scream = examples.STYLES["The Starry Night (van Gogh)"], examples.STYLES["The Scream (Munch)"]
    page.locator('input[type="file"]').nth(1).set_input_files([str(starry), str(scream)])
    page.get_by_alt_text("painting: the_scream.jpg").wait_for()  # drawn by the server
    _settled(page)
    page.get_by_text("Regions: a different painting in each part").click()
    _choose(page, "Where the paintings go", "Paint regions")
    page.get_by_text("Nothing painted yet: the paintings go everywhere.").wait_for()
    _choose(page, "Tool", "rectangle")
    page.get_by_text("with the rectangle").wait_for()  # the canvas draws rectangles now
    canvas = page.locator("canvas.upper-canvas").first
    canvas.wait_for()
    box = canvas.bounding_box()
    # each painting's name with its colour's swatch and its number
    brushes = page.get_by_role("radiogroup", name="Paint with")
    assert "■ 1: starry_night.jpg" in brushes.inner_text()
    _drag(page, box, (0.02, 0.02), (0.5, 0.98))  # the left half in painting 1
    waiting = page.get_by_text("No region painted yet for 2: the_scream.jpg")
    waiting.wait_for()
    _choose(page, "Paint with", "2: the_scream.jpg")
    page.get_by_text("Now painting: 2: the_scream.jpg").wait_for()  # the canvas has its colour
    _drag(page, canvas.bounding_box(), (0.5, 0.02), (0.98, 0.98))  # the right half in painting 2
    waiting.wait_for(state="hidden")  # both regions are in the map now
    # Undo and redo are buttons of the page, always in view (the canvas's own show on hover)
    page.get_by_role("button", name="↶ Undo").click()
    waiting.wait_for()  # the second region is gone again
    page.get_by_role("button", name="↷ Redo").click()
    waiting.wait_for(state="hidden")  # and back
    page.screenshot(path=str(ARTIFACTS / "app-regions-painted.png"), full_page=True)
    _set_number(page, "Size (px)", 96)
    _set_number(page, "Steps", 12)
    page.get_by_role("button", name="Start painting").click()
    page.get_by_text("Done in").wait_for(timeout=240_000)
    page.screenshot(path=str(ARTIFACTS / "app-regions-result.png"), full_page=True)
    saved = _download(page, tmp_path / "regions.png")
    record = images.read_metadata(saved)
    assert [m["name"] for m in record["masks"]] == ["painted region 1.png", "painted region 2.png"]
    picture = images.to_tensor(Image.open(saved).convert("RGB"))
    w = picture.shape[-1]
    left, right = picture[..., : w // 2 - 8].mean(dim=(0, 2, 3)), picture[..., w // 2 + 8:].mean(dim=(0, 2, 3))
    # The Starry Night is blue, The Scream orange: blue over red on the left, not on the right.
    assert float(left[2] - left[0]) > float(right[2] - right[0]) + 0.05


def test_video_mode_paints_the_demo_clip_and_downloads_the_mp4(server, browser, tmp_path):
    from brushwork import videoio

    page = _page(browser, viewport={"width": 1400, "height": 1100}, accept_downloads=True)
    page.goto(server)
    page.get_by_text("Start painting").wait_for()
    page.get_by_role("radiogroup", name="What to paint").get_by_text("Video", exact=True).click()
    page.get_by_role("button", name="Start painting the video").wait_for()
    page.get_by_text("The app paints the first").wait_for()
    _set_number(page, "Size (px)", 48)
    _set_number(page, "Steps", 3)
    _set_number(page, "Steps per later frame", 2)
    page.get_by_role("button", name="Start painting the video").click()
    page.get_by_text(re.compile(r"Done: \d+ frames")).wait_for(timeout=240_000)
    page.screenshot(path=str(ARTIFACTS / "app-video.png"), full_page=True)
    with page.expect_download() as info:
        page.get_by_role("button", name="Download MP4").click()
    info.value.save_as(tmp_path / "clip.mp4")
    clip = videoio.probe(tmp_path / "clip.mp4")
    assert clip.frames == 24 and clip.size == (48, 36) and clip.rate == 24
    assert videoio.read_record(tmp_path / "clip.mp4")["content"]["name"].startswith("demo")


def test_the_ray_backend_paints_for_two_sessions_at_once_and_queues_a_third(browser, tmp_path):
    """`brushwork app --backend ray --workers 2`: two visitors paint at the same time (each
    page shows its own steps advancing), a third is told its place in line and starts by
    itself when a worker is free; each gets its own picture."""
    pytest.importorskip("ray")
    with running_app("--backend", "ray", "--workers", "2", "--threads", "1") as url:
        pages = [_page(browser, accept_downloads=True) for _ in range(3)]
        for page, seed in zip(pages[:2], (41, 42)):
            start_run(page, url, 96, 100000, seed=seed)
        for page in pages[:2]:  # both running at once: no run waits for the other
            page.get_by_text(re.compile(r"Step \d+/100000")).first.wait_for(timeout=240_000)
        start_run(pages[2], url, 96, 12, seed=43)
        pages[2].get_by_text("You are number 1 in line").wait_for()
        pages[0].get_by_role("button", name="Stop").click()
        pages[0].get_by_text("Stopped. Kept the picture at step").wait_for()
        pages[2].get_by_text("Done in").wait_for(timeout=240_000)
        pages[1].get_by_role("button", name="Stop").click()
        pages[1].get_by_text("Stopped. Kept the picture at step").wait_for()
        pages[2].screenshot(path=str(ARTIFACTS / "app-ray.png"))
        for page, seed in zip(pages, (41, 42, 43)):
            path = _download(page, tmp_path / f"{seed}.png")
            record = images.read_metadata(path)
            assert record["settings"]["seed"] == seed  # its own picture, not another's
        assert record["steps_done"] == 12


def test_a_change_previews_at_once_and_never_replaces_the_result(server, browser):
    """The preview answers a slider without Start, says it is a preview, and stays out of the
    result's place: a finished result keeps its picture and download when the preview
    changes, and while a picture paints no preview is drawn."""
    from playwright.sync_api import expect

    page = _page(browser, viewport={"width": 1280, "height": 720})
    page.goto(server)
    _start(page).wait_for()
    caption = page.get_by_text("Preview, not the result", exact=False)
    caption.first.wait_for()
    first = page.get_by_alt_text("preview of the settings").first.get_attribute("src")
    _set_number(page, "Size (px)", 64)
    _set_number(page, "Steps", 30)
    page.get_by_text("64 px, 30 steps").wait_for()
    _start(page).click()
    page.get_by_text("Painting ...").first.wait_for()
    expect(page.get_by_alt_text("preview of the settings")).to_have_count(0)  # not while painting
    page.get_by_text("Done in").wait_for()
    result = page.locator("iframe[title='st.iframe']").first
    result.wait_for()
    slider = page.get_by_role("slider", name="Strength")
    slider.focus()
    for _ in range(4):
        slider.press("ArrowRight")
    # A new preview, painted on the change: one preview on the page, and not the first one
    # (Streamlit keeps the previous draw's elements until its rerun has ended).
    page.wait_for_function(
        "old => { const i = document.querySelectorAll(\"img[alt='preview of the settings']\");"
        " return i.length === 1 && i[0].src !== old && i[0].complete; }", arg=first)
    caption.first.wait_for()
    expect(page.get_by_role("button", name="Download PNG (settings embedded)")).to_be_visible()
    swipe = page.frame_locator("iframe[title='st.iframe']").first  # the result, still shown
    expect(swipe.get_by_role("img").first).to_have_attribute("alt", re.compile(r"^#1: "))
    page.screenshot(path=str(ARTIFACTS / "app-preview.png"), full_page=True)
