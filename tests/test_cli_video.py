"""`brushwork video`: a clip through the command line, Ctrl-C and --resume, bad inputs."""

import json
import signal
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

pytest.importorskip("av")
pytest.importorskip("cv2")
from brushwork import examples, images, videoio  # noqa: E402
from brushwork.cli import main  # noqa: E402

from conftest import PAINTED, moved_from_photo, write_clip  # noqa: E402

STYLE = str(examples.STARRY_NIGHT)
FAST = ["--size", "48", "--steps", "3", "--frame-steps", "2", "--device", "cpu"]


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """Eight frames of a pan across the bundled photo, at 29.97 fps, with sound."""
    return write_clip(tmp_path_factory.mktemp("clip") / "pan.mp4",
                      examples.pan_clip(8, (96, 72)))


def test_a_clip_goes_through_the_cli_with_its_frame_rate_and_sound(clip, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    assert main(["video", str(clip), STYLE, "-o", str(out), "--frames", "2:7", *FAST]) == 0
    info = videoio.probe(out)
    assert info.frames == 5 and info.rate == Fraction(30000, 1001) and info.audio
    assert info.size == (48, 36)
    assert not (tmp_path / "out-frames").exists()  # the finished frames were tidied away
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["content"]["name"] == "pan.mp4" and record["frames"] == [2, 7]
    assert record["video"]["frame_steps"] == 2 and record["settings"]["size"] == 48


def test_a_folder_of_frames_in_and_png_frames_out(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    photo = images.resize(images.load_image(examples.CONTENT), (64, 48))
    shots = [photo, photo.transpose(0), photo.transpose(1)]  # as is, mirrored, upside down
    for i, im in enumerate(shots):
        im.save(src / f"shot-{i + 9}.png")  # 9, 10, 11: by name, 10 and 11 would come first
    out = tmp_path / "painted"
    assert main(["video", str(src), STYLE, "-o", str(out), "--size", "64", "--steps", "10",
                 "--frame-steps", "4", "--device", "cpu"]) == 0
    frames = sorted(out.glob("frame_*.png"))
    assert [p.name for p in frames] == [f"frame_{i:06d}.png" for i in range(3)]
    assert images.read_metadata(frames[1])["frame"] == 1
    for i, path in enumerate(frames):  # frame i was painted from shot 9 + i: the order is kept
        gaps = [moved_from_photo(path, shot) for shot in shots]
        assert min(range(3), key=gaps.__getitem__) == i, gaps
    assert moved_from_photo(frames[0], shots[0]) > PAINTED


def test_the_demo_clip_goes_through_the_cli(tmp_path):
    out = tmp_path / "demo.mp4"
    assert main(["video", "demo", "-o", str(out), "--frames", ":3", *FAST]) == 0
    info = videoio.probe(out)
    assert info.frames == 3 and info.rate == 24


def _start(clip, out, *extra):
    cmd = [sys.executable, "-m", "brushwork", "video", str(clip), STYLE, "-o", str(out), *FAST,
           *extra]
    # SIGINT back to its default in the child: a test run started in the background inherits
    # it ignored, and Python then never turns it into KeyboardInterrupt.
    return subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for_frames(proc, n: int) -> list[str]:
    lines = []
    for line in proc.stderr:  # blocks until the CLI reports a finished frame: no sleeping
        lines.append(line)
        if sum("brushwork: frame" in x for x in lines) >= n:
            return lines
    raise AssertionError("the run ended early: " + "".join(lines))


def test_ctrl_c_writes_the_frames_done_and_resume_finishes_only_the_rest(tmp_path):
    frames = examples.pan_clip(40, (96, 72))
    clip = write_clip(tmp_path / "long.mp4", frames)
    out = tmp_path / "out.mp4"
    # Forty frames: the run is still going when the signal arrives after the second.
    proc = _start(clip, out)
    _wait_for_frames(proc, 2)
    proc.send_signal(signal.SIGINT)
    rest = proc.stderr.read()
    assert proc.wait(timeout=120) == 130, rest
    done = videoio.probe(out).frames
    assert 2 <= done < 40 and f"wrote {done} frames" in rest
    kept = sorted((tmp_path / "out-frames").glob("frame_*.png"))
    assert len(kept) == done
    before = [p.read_bytes() for p in kept]
    run = subprocess.run([sys.executable, "-m", "brushwork", "video", str(clip), STYLE, "-o",
                          str(out), *FAST, "--resume",
                          "--keep-frames"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert f"resuming after frame {done - 1}" in run.stderr
    painted = [int(line.split()[2]) for line in run.stderr.splitlines()
               if line.startswith("brushwork: frame")]
    assert painted == list(range(done, 40))  # nothing done before was painted again
    assert [p.read_bytes() for p in kept] == before
    assert videoio.probe(out).frames == 40


def test_resume_refuses_other_settings_and_may_paint_further(clip, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["video", str(clip), STYLE, "-o", str(out), "--frames", ":2", *FAST]) == 0
    capsys.readouterr()
    code = main(["video", str(clip), STYLE, "-o", str(out), "--frames", ":4", *FAST,
                 "--style-weight", "5", "--resume"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "other inputs or settings" in err
    assert main(["video", str(clip), STYLE, "-o", str(out), "--frames", ":4", *FAST,
                 "--resume"]) == 0
    err = capsys.readouterr().err
    assert [line.split()[2] for line in err.splitlines() if "brushwork: frame" in line] == ["2", "3"]


def _text(path):
    path.write_text("not a video")
    return path


def _audio_only(path):
    import av

    with av.open(str(path), "w") as c:
        a = c.add_stream("aac", rate=44100)
        a.layout = "mono"
        f = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp",
                                       layout="mono")
        f.sample_rate, f.pts = 44100, 0
        c.mux(a.encode(f))
        c.mux(a.encode(None))
    return path


@pytest.mark.parametrize("make,args,expect", [
    (lambda d: _text(d / "text.mp4"), [], "is not a video brushwork can read"),
    (lambda d: _audio_only(d / "sound.m4a"), [], "has no video stream"),
    (lambda d: (d / "empty").mkdir() or d / "empty", [], "zero frames"),
    (lambda d: d / "missing.mp4", [], "does not exist"),
    (None, ["-o", "{tmp}/no/such/dir/o.mp4"], "does not exist"),
    (None, ["-o", "{tmp}/o.avi"], "unknown video extension"),
    (None, ["--frames", "5:2"], "selects no frames"),
    (None, ["--frames", "100:"], "has 8 frames"),
    (None, ["--temporal-weight", "-1"], "--temporal-weight: must be"),
    (None, ["--fps", "fast"], "--fps: invalid frame rate"),
])
def test_bad_video_input_exits_2_with_one_line(clip, tmp_path, capsys, make, args, expect):
    source = make(tmp_path) if make else clip
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    out = [] if "-o" in args else ["-o", str(tmp_path / "o.mp4")]
    code = main(["video", str(source), STYLE, *out, *FAST, *args])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert expect in err, err


def test_frames_beyond_the_pixel_cap_are_refused(clip, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(images, "MAX_PIXELS", 96 * 72 - 1)
    code = main(["video", str(clip), STYLE, "-o", str(tmp_path / "o.mp4"), *FAST])
    err = capsys.readouterr().err
    assert code == 2 and "MP limit" in err and err.count("\n") == 1
