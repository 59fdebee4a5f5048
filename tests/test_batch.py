"""Batches on both backends: the same behaviour tests on `local` and on a real local Ray."""

import json
import os
import shutil
import signal

import pytest
from PIL import Image

from brushwork import batch, examples, images
from brushwork.cli import main

import numpy as np

from conftest import PAINTED, moved_from_photo, tiny

STYLES = [str(examples.STARRY_NIGHT), str(examples.STYLES["The Scream (Munch)"])]


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray for the whole test session: 2 CPUs, no dashboard; shut down after."""
    pytest.importorskip("ray")
    with batch.local_ray(num_cpus=2) as ray:
        yield ray


@pytest.fixture(params=["local", "ray"])
def backend(request):
    if request.param == "ray":
        request.getfixturevalue("ray_session")
    return request.param


def _photos(folder, n=2):
    folder.mkdir(exist_ok=True)
    photo = Image.open(examples.CONTENT)
    paths = []
    for i in range(n):
        p = folder / f"photo{i}.jpg"
        photo.crop((i * 40, 0, i * 40 + 300, 225)).save(p)
        paths.append(str(p))
    return paths


def _run(jobs, out, backend, **kw):
    return list(batch.run(jobs, tiny(size=64, steps=4), out, backend=backend, workers=2,
                          threads=1, **kw))


def _leftovers(out):
    return [p.name for p in out.iterdir() if p.name.startswith(".") or p.suffix == ".tmp"]


def test_four_jobs_give_four_outputs_and_a_rerun_does_no_work(tmp_path, backend):
    jobs = batch.pairs(_photos(tmp_path / "in"), STYLES)
    out = tmp_path / "out"
    results = _run(jobs, out, backend)
    assert sorted(r.status for r in results) == ["done"] * 4
    names = sorted(p.name for p in out.glob("*.png"))
    assert names == ["photo0__starry_night.png", "photo0__the_scream.png",
                     "photo1__starry_night.png", "photo1__the_scream.png"]
    record = images.read_metadata(out / "photo1__the_scream.png")
    assert record["content"]["name"] == "photo1.jpg" and record["settings"]["size"] == 64
    assert _leftovers(out) == []
    again = _run(jobs, out, backend)
    assert [r.status for r in again] == ["skipped"] * 4


def test_an_unreadable_input_fails_alone_with_its_reason(tmp_path, backend):
    photos = _photos(tmp_path / "in")
    bad = tmp_path / "in" / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff not really a jpeg")
    jobs = batch.pairs([photos[0], str(bad)], STYLES[:1])
    out = tmp_path / "out"
    results = {r.job.output: r for r in _run(jobs, out, backend)}
    assert results["photo0__starry_night.png"].status == "done"
    assert results["broken__starry_night.png"].status == "failed"
    failures = [json.loads(line) for line in (out / batch.FAILURES).read_text().splitlines()]
    assert len(failures) == 1 and failures[0]["content"] == str(bad)
    assert "damaged or truncated" in failures[0]["error"]
    assert not (out / "broken__starry_night.png").exists()


def test_a_changed_setting_repaints_but_the_same_settings_skip(tmp_path):
    jobs = batch.pairs(_photos(tmp_path / "in", 1), STYLES[:1])
    out = tmp_path / "out"
    _run(jobs, out, "local")
    other = list(batch.run(jobs, tiny(size=64, steps=5), out))
    assert [r.status for r in other] == ["done"]
    assert images.read_metadata(out / jobs[0].output)["settings"]["steps"] == 5


def test_a_worker_killed_mid_job_still_ends_with_every_output_once(tmp_path, ray_session):
    jobs = batch.pairs(_photos(tmp_path / "in"), STYLES)
    out = tmp_path / "out"
    run = batch.run(jobs, tiny(size=64, steps=30), out, backend="ray", workers=2, threads=1)
    first = next(run)
    assert first.status == "done"
    victim = int(first.worker.rsplit(":", 1)[1])
    # Its next job was handed over with the first (two in flight per worker): it is mid-job.
    os.kill(victim, signal.SIGKILL)
    rest = list(run)
    assert sorted(r.status for r in [first, *rest]) == ["done"] * 4
    # The job the victim held was retried: by its restarted actor, a process that did not paint
    # before the kill (victim, the other worker, the restarted one).
    pids = {int(r.worker.rsplit(":", 1)[1]) for r in [first, *rest]}
    assert len(pids) == 3 and victim not in {int(r.worker.rsplit(":", 1)[1]) for r in rest}
    assert sorted(r.job.output for r in [first, *rest]) == sorted(j.output for j in jobs)
    assert len(list(out.glob("*.png"))) == 4 and _leftovers(out) == []
    with pytest.raises(ProcessLookupError):
        os.kill(victim, 0)


def test_jobs_file_with_overrides_through_the_cli(tmp_path, capsys):
    photos = _photos(tmp_path / "in", 1)
    shutil.copy(STYLES[0], tmp_path / "in" / "starry.jpg")
    (tmp_path / "jobs.jsonl").write_text(
        json.dumps({"content": "in/photo0.jpg", "styles": ["in/starry.jpg"],
                    "settings": {"style_weight": 30}}) + "\n"
        + json.dumps({"content": "in/missing.jpg", "styles": ["in/starry.jpg"]}) + "\n")
    out = tmp_path / "out"
    code = main(["batch", "--jobs", str(tmp_path / "jobs.jsonl"), "-o", str(out), "--size", "64",
                 "--steps", "10", "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 1 and "1 done, 0 skipped, 1 failed" in err, err
    painted = out / "photo0__starry.png"
    assert images.read_metadata(painted)["settings"]["style_weight"] == 30
    assert moved_from_photo(painted, photos[0]) > PAINTED
    assert "missing.jpg" in (out / batch.FAILURES).read_text()


def test_photos_x_paintings_from_folders_and_globs_through_the_cli(tmp_path, capsys):
    _photos(tmp_path / "in", 2)
    out = tmp_path / "out"
    code = main(["batch", str(tmp_path / "in"), "--styles", str(examples.FOLDER / "starry*.jpg"),
                 "-o", str(out), "--size", "48", "--steps", "2", "--device", "cpu"])
    assert code == 0, capsys.readouterr().err
    assert sorted(p.name for p in out.glob("*.png")) == ["photo0__starry_night.png",
                                                         "photo1__starry_night.png"]
    code = main(["batch", str(tmp_path / "in"), "--styles", str(examples.FOLDER / "starry*.jpg"),
                 "-o", str(out), "--size", "48", "--steps", "2", "--device", "cpu"])
    assert code == 0 and "0 done, 2 skipped, 0 failed" in capsys.readouterr().err


@pytest.mark.parametrize("args,expect", [
    (["--styles", "{tmp}/none*.jpg"], "matches no files"),
    ([], "needs photos and --styles"),
    (["--styles", STYLES[0], "--workers", "0"], "--workers: must be 1 or more"),
    (["--styles", STYLES[0], "--backend", "dask"], "invalid choice"),
])
def test_bad_batch_input_exits_2_with_one_line(tmp_path, capsys, args, expect):
    photos = [] if "needs photos" in expect else [str(examples.CONTENT)]
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    code = main(["batch", *photos, *args, "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and expect in err, err


def test_frame_runs_cover_the_clip_once_with_warm_up_before_each_but_the_first():
    runs = batch.frame_runs("clip.mp4", 0, 10, 3, warmup=2)
    assert [(r.start, r.keep, r.end) for r in runs] == [(0, 0, 3), (1, 3, 7), (5, 7, 10)]
    assert batch.frame_runs("clip.mp4", 4, 6, 5, warmup=3)[-1].end == 6  # no more runs than frames


def test_a_video_split_across_ray_workers_writes_every_frame_once(tmp_path, ray_session):
    pytest.importorskip("av")
    from brushwork import videoio
    from conftest import write_clip

    clip = write_clip(tmp_path / "pan.mp4", examples.pan_clip(8, (96, 72)))
    out = tmp_path / "out.mp4"
    code = main(["video", str(clip), STYLES[0], "-o", str(out), "--size", "64", "--steps", "12",
                 "--frame-steps", "4", "--device", "cpu", "--backend", "ray", "--workers", "2",
                 "--warmup", "2", "--keep-frames"])
    assert code == 0
    assert videoio.probe(out).frames == 8
    kept = sorted((tmp_path / "out-frames").glob("frame_*.png"))
    assert [p.name for p in kept] == [f"frame_{i:06d}.png" for i in range(8)]
    frames = [np.asarray(Image.open(p), np.float32) for p in kept]
    sources = examples.pan_clip(8, (96, 72))
    assert all(moved_from_photo(p, src) > PAINTED for p, src in zip(kept, sources))
    # The seam between the two runs (frames 3 to 4) is cross-faded: no jump bigger than the
    # change between other neighbouring frames.
    steps = [float(np.abs(b - a).mean()) for a, b in zip(frames, frames[1:])]
    seam, others = steps[3], steps[:3] + steps[4:]
    assert seam <= 2 * float(np.median(others)), (seam, others)


def test_a_rerun_of_an_interrupted_batch_finishes_only_what_was_missing(tmp_path, backend):
    jobs = batch.pairs(_photos(tmp_path / "in"), STYLES)
    out = tmp_path / "out"
    run = batch.run(jobs, tiny(size=64, steps=4), out, backend=backend, workers=2, threads=1)
    first = [next(run), next(run)]
    run.close()  # what Ctrl-C does to the command's loop
    assert [r.status for r in first] == ["done", "done"]
    again = _run(jobs, out, backend)
    assert sorted(r.job.output for r in again if r.status == "skipped") == sorted(
        r.job.output for r in first)
    assert sorted(r.status for r in again) == ["done", "done", "skipped", "skipped"]
    assert len(list(out.glob("*.png"))) == 4 and _leftovers(out) == []
