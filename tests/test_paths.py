"""Every path a user takes keeps its word (issue 20): typed options change only themselves,
outputs stay in their place and never replace an input, a hostile file is one line, nothing
listens beyond the machine, media keep their timing, masks their alpha and depth."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from brushwork import Settings, batch, examples, images
from brushwork.cli import main

from conftest import PAINTED, moved_from_photo

CONTENT, STYLE = str(examples.CONTENT), str(examples.STARRY_NIGHT)
PAINT = ["--size", "64", "--steps", "10", "--device", "cpu"]


def _one_line(capsys, code, expect, status=2):
    err = capsys.readouterr().err
    assert code == status, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert expect in err, err
    return err


def _defaults_but(record: dict, **typed) -> None:
    """Every setting not typed equals Settings()'s default in the output's record."""
    assert record["settings"] == {**Settings().to_dict(), **typed}


# ---- 1. typed options keep the defaults of what was not typed -------------------------------

def test_batch_with_a_typed_size_keeps_every_other_default(tmp_path):
    out = tmp_path / "out"
    assert main(["batch", CONTENT, "--styles", STYLE, "-o", str(out), *PAINT, "-q"]) == 0
    (png,) = out.glob("*.png")
    _defaults_but(images.read_metadata(png), size=64, steps=10, device="cpu")
    assert moved_from_photo(png) > PAINTED


def test_a_jobs_file_override_keeps_the_other_defaults(tmp_path):
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(json.dumps({"content": CONTENT, "styles": [STYLE],
                                "settings": {"steps": 10}, "output": "a.png"}) + "\n")
    assert main(["batch", "--jobs", str(jobs), "-o", str(tmp_path / "out"), "--size", "64",
                 "--device", "cpu", "-q"]) == 0
    out = tmp_path / "out" / "a.png"
    _defaults_but(images.read_metadata(out), size=64, steps=10, device="cpu")
    assert moved_from_photo(out) > PAINTED


def test_video_demo_keeps_the_defaults_it_does_not_set(tmp_path):
    pytest.importorskip("av")
    out = tmp_path / "demo.mp4"
    assert main(["video", "demo", "-o", str(out), "--frames", ":2", "--steps", "10",
                 "--frame-steps", "2", "--size", "64", "--device", "cpu", "-q"]) == 0
    from brushwork import videoio

    _defaults_but(videoio.read_record(out), size=64, steps=10, device="cpu")


# ---- 2. a jobs file: outputs in their place, every line checked before any work -------------

def _jobs(tmp_path, *lines) -> str:
    path = tmp_path / "jobs.jsonl"
    path.write_text("".join((ln if isinstance(ln, str) else json.dumps(ln)) + "\n" for ln in lines))
    return str(path)


def _job(**kw):
    return {"content": CONTENT, "styles": [STYLE], **kw}


@pytest.mark.parametrize("line, expect", [
    (_job(output="../x.png"), "outside the output folder"),
    (_job(output="/tmp/x.png"), "outside the output folder"),
    (_job(output="../notes.txt"), "outside the output folder"),
    (_job(output="x.txt"), "unknown image extension"),
    (_job(output=3), "output must be a file name"),
    (_job(settings=[1, 2]), "must be a JSON object of settings"),
    (_job(settings={"sise": 64}), "unknown setting 'sise'; did you mean 'size'?"),
    (_job(settings={"style_wieght": 5}), "did you mean 'style_weight'?"),
    (_job(settings={"size": 10}), "--size: must be from 32"),
    ({"content": 5, "styles": [STYLE]}, "content and styles must be file names"),
    ({"content": CONTENT, "styles": [STYLE], "colour": 1}, "unknown key 'colour'"),
    ("[1, 2]", "is not a job"),
    ("{", "is not JSON"),
])
def test_a_bad_job_line_is_one_line_naming_it_before_any_work(tmp_path, capsys, line, expect):
    notes = tmp_path / "notes.txt"
    notes.write_text("the user's notes")
    code = main(["batch", "--jobs", _jobs(tmp_path, line), "-o", str(tmp_path / "out"), *PAINT])
    err = _one_line(capsys, code, expect)
    assert "line 1" in err
    assert notes.read_text() == "the user's notes" and not (tmp_path / "out").exists()


def test_two_jobs_writing_one_file_are_refused_naming_both_lines(tmp_path, capsys):
    jobs = _jobs(tmp_path, _job(output="same.png"), _job(output="./same.png"))
    code = main(["batch", "--jobs", jobs, "-o", str(tmp_path / "out"), *PAINT])
    _one_line(capsys, code, "lines 1 and 2: both write same.png")


def test_a_generated_name_never_takes_a_name_a_job_gave(tmp_path):
    gen = batch.output_name(CONTENT, [STYLE])
    stem = gen.removesuffix(".png")
    jobs = batch.read_jobs(_jobs(tmp_path, _job(), _job(), _job(output=f"{stem}-2.png")))
    outputs = [j.output for j in jobs]
    assert len(set(outputs)) == 3 and outputs[2] == f"{stem}-2.png"


def test_outputs_go_to_subfolders_in_their_format_and_a_bad_one_fails_alone(tmp_path):
    out = tmp_path / "out"
    (out / "taken.png").mkdir(parents=True)  # a folder where a job's file would go
    jobs = _jobs(tmp_path, _job(output="sub/deeper/a.jpg"), _job(output="taken.png"),
                 _job(output="c.webp", settings={"steps": 3}))
    code = main(["batch", "--jobs", jobs, "-o", str(out), *PAINT, "-q"])
    assert code == 1  # one failed, the others were painted
    assert Image.open(out / "sub" / "deeper" / "a.jpg").format == "JPEG"
    assert moved_from_photo(out / "sub" / "deeper" / "a.jpg") > PAINTED
    assert Image.open(out / "c.webp").format == "WEBP"
    (failure,) = [json.loads(ln) for ln in (out / "failures.jsonl").read_text().splitlines()]
    assert failure["output"] == "taken.png" and "not a file" in failure["error"]


def test_failures_jsonl_retries_exactly_the_failed_jobs(tmp_path, capsys):
    out = tmp_path / "out"
    missing = tmp_path / "later.jpg"
    jobs = _jobs(tmp_path, _job(output="ok.png"),
                 {"content": str(missing), "styles": [STYLE], "output": "later.png",
                  "settings": {"seed": 3}})
    assert main(["batch", "--jobs", jobs, "-o", str(out), *PAINT, "-q"]) == 1
    failures = out / "failures.jsonl"
    assert [json.loads(ln)["output"] for ln in failures.read_text().splitlines()] == ["later.png"]
    Image.open(CONTENT).save(missing)  # the user fixes the input
    capsys.readouterr()
    assert main(["batch", "--jobs", str(failures), "-o", str(out), *PAINT]) == 0
    err = capsys.readouterr().err
    assert "1 done, 0 skipped, 0 failed" in err  # only the failed job, not ok.png
    assert images.read_metadata(out / "later.png")["settings"]["seed"] == 3
    assert not failures.exists()


def test_output_folder_under_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    code = main(["batch", CONTENT, "--styles", STYLE, "-o", str(tmp_path / "file" / "out"), *PAINT])
    _one_line(capsys, code, "cannot be created")


def test_a_file_brushwork_did_not_write_is_never_painted_over(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    mine = out / batch.output_name(CONTENT, [STYLE])
    Image.new("RGB", (10, 10), (1, 2, 3)).save(mine)
    before = mine.read_bytes()
    results = list(batch.run(batch.pairs([CONTENT], [STYLE]), Settings(**dict(
        size=64, steps=2, device="cpu")), out))
    assert results[0].status == "failed" and "not a brushwork output" in results[0].error
    assert mine.read_bytes() == before


# ---- 3. no command writes over its own inputs ------------------------------------------------

def test_stylize_refuses_to_write_over_its_photo(tmp_path, capsys):
    photo = tmp_path / "photo.jpg"
    Image.open(CONTENT).save(photo)
    before = photo.read_bytes()
    code = main(["stylize", str(photo), STYLE, "-o", str(tmp_path / "." / "photo.jpg"), *PAINT])
    _one_line(capsys, code, "is the input")
    assert photo.read_bytes() == before


def test_a_batch_output_that_is_an_input_is_refused(tmp_path, capsys):
    photo = tmp_path / "photo.png"
    Image.open(CONTENT).save(photo)
    jobs = _jobs(tmp_path, {"content": "photo.png", "styles": [STYLE], "output": "photo.png"})
    code = main(["batch", "--jobs", jobs, "-o", str(tmp_path), *PAINT])
    _one_line(capsys, code, "is the input")


@pytest.fixture
def clip(tmp_path):
    pytest.importorskip("av")
    from conftest import write_clip

    return write_clip(tmp_path / "clip.mp4", examples.pan_clip(3, (64, 48)), audio=False)


def test_video_refuses_to_write_over_its_clip_or_frames(tmp_path, capsys, clip):
    before = clip.read_bytes()
    code = main(["video", str(clip), STYLE, "-o", str(clip), *PAINT])
    _one_line(capsys, code, "is the input")
    assert clip.read_bytes() == before
    frames = tmp_path / "frames"
    frames.mkdir()
    for i, im in enumerate(examples.pan_clip(2, (64, 48))):
        im.save(frames / f"frame_{i:06d}.png")
    kept = {p.name: p.read_bytes() for p in frames.iterdir()}
    code = main(["video", str(frames), STYLE, "-o", str(frames), *PAINT])
    _one_line(capsys, code, "input folder")
    assert {p.name: p.read_bytes() for p in frames.iterdir()} == kept


def test_a_users_file_in_the_frame_folder_is_never_overwritten_or_deleted(tmp_path, capsys, clip):
    folder = tmp_path / "painted-frames"
    folder.mkdir()
    Image.new("RGB", (8, 8)).save(folder / "frame_000000.png")
    before = (folder / "frame_000000.png").read_bytes()
    code = main(["video", str(clip), STYLE, "-o", str(tmp_path / "painted.mp4"), *PAINT])
    _one_line(capsys, code, "which brushwork did not write")
    assert (folder / "frame_000000.png").read_bytes() == before


# ---- 4. embedded records are untrusted ------------------------------------------------------

HOSTILE = {
    "deep": "[" * 100_000 + "]" * 100_000,
    "long number": '{"settings": {"size": ' + "9" * 5000 + "}}",
    "a list": "[1, 2, 3]",
    "a string": '"hello"',
    "settings a list": '{"settings": [1, 2]}',
    "settings wrong field": '{"settings": {"device": 7}}',
    "steps_done text": '{"settings": {}, "steps_done": "many", "content": {"name": "a", "sha256": "b"}}',
    "NaN": '{"settings": {"style_weight": NaN}}',
}


def _hostile_png(path: Path, text: str) -> Path:
    info = PngImagePlugin.PngInfo()
    info.add_itxt(images.METADATA_KEY, text)
    Image.open(CONTENT).resize((64, 48)).save(path, pnginfo=info)
    return path


@pytest.mark.parametrize("kind", HOSTILE)
def test_a_hostile_record_is_one_line_in_info_and_settings_from(tmp_path, capsys, kind):
    bad = _hostile_png(tmp_path / "bad.png", HOSTILE[kind])
    _one_line(capsys, main(["info", str(bad)]), "has damaged brushwork settings")
    code = main(["stylize", "--settings-from", str(bad), CONTENT, STYLE, "-o",
                 str(tmp_path / "o.png"), *PAINT])
    _one_line(capsys, code, "has damaged brushwork settings")


def test_a_hostile_mp4_record_is_one_line(tmp_path, capsys, clip):
    import av

    bad = tmp_path / "bad.mp4"
    with av.open(str(clip)) as src, av.open(str(bad), "w", format="mp4") as dst:
        dst.metadata["comment"] = HOSTILE["deep"]
        s = dst.add_stream_from_template(src.streams.video[0])
        for pkt in src.demux(src.streams.video[0]):
            if pkt.dts is not None:
                pkt.stream = s
                dst.mux(pkt)
    _one_line(capsys, main(["info", str(bad)]), "has damaged brushwork settings")


def test_a_hostile_file_in_a_batch_folder_fails_its_job_alone(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    jobs = batch.pairs([CONTENT], [STYLE, str(examples.STYLES["The Scream (Munch)"])])
    _hostile_png(out / jobs[0].output, HOSTILE["deep"])
    results = {r.job.output: r for r in batch.run(jobs, Settings(size=64, steps=10, device="cpu"), out)}
    assert results[jobs[0].output].status == "failed"
    assert "damaged" in results[jobs[0].output].error
    assert results[jobs[1].output].status == "done"
    assert moved_from_photo(out / jobs[1].output) > PAINTED


def test_a_hostile_file_beside_an_intermediate_is_skipped_with_a_warning(tmp_path, capsys):
    steps = tmp_path / "steps"
    assert main(["stylize", CONTENT, STYLE, "-o", str(tmp_path / "out.png"), *PAINT,
                 "--save-every", "5", "--save-dir", str(steps), "-q"]) == 0
    (tmp_path / "out.png").unlink()
    _hostile_png(steps / "out-step00009.png", HOSTILE["long number"])
    capsys.readouterr()
    assert main(["stylize", CONTENT, STYLE, "-o", str(tmp_path / "out.png"), "--resume",
                 str(steps), "-q"]) == 0
    err = capsys.readouterr().err
    assert "warning: skipping" in err and "out-step00009.png" in err
    assert images.read_metadata(tmp_path / "out.png")["steps_done"] == 10


# ---- 5. nothing listens beyond the machine unless asked -------------------------------------

def test_the_app_binds_to_loopback_unless_told_otherwise(monkeypatch, capsys):
    pytest.importorskip("streamlit")
    seen = []
    monkeypatch.setattr(os, "execv", lambda exe, cmd: seen.append(cmd))
    main(["app"])
    cmd = seen[-1]
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"
    main(["app", "--server.address", "0.0.0.0", "--server.port=8600"])
    cmd = seen[-1]
    assert cmd.count("--server.address") == 1 and "0.0.0.0" in cmd
    assert "http://0.0.0.0:8600" in capsys.readouterr().out


def test_an_app_option_without_its_value_is_one_line(capsys):
    pytest.importorskip("streamlit")
    _one_line(capsys, main(["app", "--server.port"]), "--server.port needs a value")


def test_more_ray_workers_than_cpus_is_refused_before_ray_starts(tmp_path, capsys):
    pytest.importorskip("ray")
    import ray
    import tempfile

    was = ray.is_initialized()  # another test's Ray session may be up
    before = set(Path(tempfile.gettempdir()).glob("brushwork-ray-*"))
    code = main(["batch", CONTENT, "--styles", STYLE, "-o", str(tmp_path / "o"), *PAINT,
                 "--backend", "ray", "--workers", str(os.cpu_count()), "--threads", "2"])
    _one_line(capsys, code, "CPUs but the Ray cluster has")
    assert ray.is_initialized() == was  # refused before Ray was started
    assert set(Path(tempfile.gettempdir()).glob("brushwork-ray-*")) == before


_LOCAL_RAY = """
import json, os, stat, sys, tempfile
from pathlib import Path
from brushwork import batch

before = set(Path(tempfile.gettempdir()).glob("brushwork-ray-*"))
with batch.local_ray(num_cpus=1) as ray:
    (folder,) = set(Path(tempfile.gettempdir()).glob("brushwork-ray-*")) - before
    token = Path(os.environ["RAY_AUTH_TOKEN_PATH"])
    seen = {"folder_mode": stat.S_IMODE(folder.stat().st_mode), "token_in_folder":
            token.parent == folder, "token_mode": stat.S_IMODE(token.stat().st_mode),
            "auth": os.environ.get("RAY_AUTH_MODE"),
            "works": ray.get(ray.remote(lambda: 1).remote())}
seen["left"] = sorted(map(str, set(Path(tempfile.gettempdir()).glob("brushwork-ray-*")) - before))
seen["env_left"] = "RAY_AUTH_TOKEN_PATH" in os.environ
print(json.dumps(seen))
"""


def test_a_local_ray_is_private_to_its_user_and_leaves_nothing_behind(tmp_path):
    """In a fresh process (another test's Ray may be up in this one)."""
    pytest.importorskip("ray")
    home = tmp_path / "home"  # where Ray would write ~/.ray/auth_token
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    run = subprocess.run([sys.executable, "-c", _LOCAL_RAY], capture_output=True, text=True,
                         timeout=300, env={**env, "HOME": str(home)})
    assert run.returncode == 0, run.stderr[-2000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["folder_mode"] == 0o700  # its sockets, logs and token: this user's only
    assert seen["token_in_folder"] and seen["token_mode"] == 0o600
    # Ray's services listen on the machine's address whatever they are told (it refuses the
    # loopback address), so every call to them must carry the token.
    assert seen["auth"] == "token" and seen["works"] == 1
    assert seen["left"] == [] and not seen["env_left"]
    assert not (home / ".ray").exists()  # no world-readable token in ~/.ray
    assert "Token authentication" not in run.stderr


# ---- 6. cheap checks first -------------------------------------------------------------------

def test_a_videos_declared_size_is_refused_before_a_frame_is_decoded(clip, monkeypatch):
    from brushwork import InputError, videoio

    monkeypatch.setattr(images, "MAX_PIXELS", 1000)
    monkeypatch.setattr(videoio, "_rotated", lambda f: pytest.fail("a frame was decoded"))
    with pytest.raises(InputError, match="over the 0 MP limit"):
        videoio.probe(clip)


def test_a_videos_declared_length_is_checked_from_the_header(clip, monkeypatch):
    from brushwork import InputError, videoio

    monkeypatch.setattr(videoio, "MAX_FRAMES", 2)
    monkeypatch.setattr(videoio, "_rotated", lambda f: pytest.fail("a frame was decoded"))
    with pytest.raises(InputError, match="declares 3 frames"):
        videoio.probe(clip)


# ---- 7. faithful media ----------------------------------------------------------------------

def test_a_variable_frame_rate_keeps_every_frames_time(tmp_path):
    av = pytest.importorskip("av")
    pytest.importorskip("cv2")
    from brushwork import videoio

    src = tmp_path / "vfr.mp4"
    stamps = [0, 30, 500, 530]  # ms
    with av.open(str(src), "w") as c:
        s = c.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.codec_context.time_base = Fraction(1, 1000)
        for t, im in zip(stamps, examples.pan_clip(4, (64, 48))):
            f = av.VideoFrame.from_ndarray(np.asarray(im), format="rgb24")
            f.pts = t
            c.mux(s.encode(f))
        c.mux(s.encode(None))
    out = tmp_path / "out.mp4"
    assert main(["video", str(src), STYLE, "-o", str(out), "--size", "64", "--steps", "2",
                 "--frame-steps", "1", "--device", "cpu", "-q"]) == 0
    assert videoio.probe(out).times == tuple(Fraction(t, 1000) for t in stamps)


def test_a_folder_of_frames_of_mixed_sizes_is_refused(tmp_path, capsys):
    pytest.importorskip("av")
    src = tmp_path / "src"
    src.mkdir()
    Image.new("RGB", (64, 48)).save(src / "f1.png")
    Image.new("RGB", (48, 64)).save(src / "f2.png")
    code = main(["video", str(src), STYLE, "-o", str(tmp_path / "o.mp4"), *PAINT])
    _one_line(capsys, code, "mixed sizes: f2.png is 48x64")


def test_a_mask_honours_alpha_and_16_bit_depth(tmp_path):
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., :3] = 255
    rgba[:, 4:, 3] = 255  # left half transparent white: no style there
    Image.fromarray(rgba, "RGBA").save(tmp_path / "alpha.png")
    m = np.asarray(images.load_mask(tmp_path / "alpha.png"))
    assert m[:, :4].max() == 0 and m[:, 4:].min() == 255
    deep = Image.fromarray(np.full((8, 8), 200, np.uint16))  # 200/65535: 0.3% grey
    deep.save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I;16")
    assert np.asarray(images.load_mask(tmp_path / "deep.png")).max() <= 1


def test_an_overwritten_output_keeps_its_mode_and_a_new_one_follows_the_umask(tmp_path):
    im = Image.new("RGB", (8, 8))
    private = tmp_path / "private.png"
    private.write_bytes(b"")
    private.chmod(0o600)
    images.save_image(im, private)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    old = os.umask(0o027)
    try:
        images.save_image(im, tmp_path / "new.png")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.png").stat().st_mode) == 0o640


def test_sigterm_stops_a_batch_like_ctrl_c(tmp_path):
    out = tmp_path / "out"
    child = subprocess.Popen(
        [sys.executable, "-m", "brushwork", "batch", CONTENT, "--styles", STYLE,
         str(examples.STYLES["The Scream (Munch)"]), "-o", str(out), "--size", "64",
         "--steps", "100000", "--device", "cpu"],
        stderr=subprocess.PIPE, text=True)
    try:
        # A bounded wait for the first step, then SIGTERM; the child must end by itself.
        import select

        ready, _, _ = select.select([child.stderr], [], [], 120)
        assert ready, "the batch printed nothing within 120 s"
        child.send_signal(signal.SIGTERM)
        code = child.wait(timeout=120)
        err = child.stderr.read()
    finally:
        if child.poll() is None:
            child.kill()
    assert code == 130, err
    assert "interrupted" in err and "Traceback" not in err
