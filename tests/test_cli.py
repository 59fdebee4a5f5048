import json
import re
import subprocess
import sys

import pytest
from PIL import Image

from brushwork import Settings, examples, images
from brushwork.cli import build_parser, main

from conftest import PAINTED, moved_from_photo

CONTENT, STYLE = str(examples.CONTENT), str(examples.STARRY_NIGHT)
FAST = ["--size", "48", "--steps", "3", "--device", "cpu"]  # checks and plumbing only
PAINT = ["--size", "64", "--steps", "10", "--device", "cpu"]  # enough steps to paint


def _one_line_error(capsys, code, expect):
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert expect in err, err
    return err


@pytest.mark.parametrize("args,expect", [
    (["stylize", "missing.jpg", STYLE, "-o", "{tmp}/o.png"], "missing.jpg: no such file"),
    (["stylize", CONTENT, "{tmp}/text.png", "-o", "{tmp}/o.png"], "not an image"),
    (["stylize", CONTENT, "{tmp}/trunc.jpg", "-o", "{tmp}/o.png"], "damaged or truncated"),
    (["stylize", "{tmp}/thin.png", STYLE, "-o", "{tmp}/o.png", "--size", "64"], "under 32 px"),
    (["stylize", CONTENT, STYLE, "-o", "{tmp}/o.png", "--style-weight", "nan"], "--style-weight: must be finite"),
    (["stylize", CONTENT, STYLE, "-o", "{tmp}/o.png", "--content-weight", "-1"], "--content-weight: must be from 0"),
    (["stylize", CONTENT, STYLE, "-o", "{tmp}/o.png", "--steps", "0"], "--steps: 0 steps paint nothing"),
    (["stylize", CONTENT, STYLE, "-o", "{tmp}/o.png", "--steps", "-1"], "--steps: must be from 0"),
    (["stylize", CONTENT, STYLE, "-o", "{tmp}/o.tga"], "unknown image extension"),
    (["stylize", CONTENT, STYLE, "-o", "{tmp}/no/such/dir/o.png"], "does not exist"),
    (["stylize", CONTENT, STYLE, "-o", "{tmp}/o.png", "--optimizer", "sgd"], "invalid choice"),
    (["stylize", CONTENT, STYLE, "-o", "{tmp}/o.png", "--average", "0.9"], "--average: 0.9 is for Adam's pictures"),
    (["stylize", CONTENT, STYLE, STYLE, "-o", "{tmp}/o.png", "--style-blend", "1"], "1 weights for 2 style images"),
    (["stylize", CONTENT, STYLE, "-o", "{tmp}/o.png", "--init", "{tmp}/nope.png"], "--init"),
    (["info", "{tmp}/text.png"], "carries no brushwork settings"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, args, expect):
    (tmp_path / "text.png").write_text("not a picture")
    jpg = tmp_path / "full.jpg"
    Image.new("RGB", (300, 300), (200, 30, 30)).save(jpg)
    (tmp_path / "trunc.jpg").write_bytes(jpg.read_bytes()[:300])
    Image.new("RGB", (900, 20)).save(tmp_path / "thin.png")
    code = main([a.replace("{tmp}", str(tmp_path)) for a in args])
    _one_line_error(capsys, code, expect)


def test_missing_cuda_exits_2(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code = main(["stylize", CONTENT, STYLE, "-o", str(tmp_path / "o.png"), "--device", "cuda"])
    _one_line_error(capsys, code, "--device cuda: no CUDA GPU")


def test_stylize_writes_png_with_settings_and_intermediates(tmp_path, capsys):
    out = tmp_path / "out.png"
    code = main(["stylize", CONTENT, STYLE, "-o", str(out), *PAINT, "--save-every", "4",
                 "--save-dir", str(tmp_path / "steps"), "--seed", "7"])
    assert code == 0
    im = Image.open(out)
    assert max(im.size) == 64 and moved_from_photo(out) > PAINTED
    record = images.read_metadata(out)
    typed = {"seed": 7, "size": 64, "steps": 10, "device": "cpu"}
    assert record["settings"] == {**Settings().to_dict(), **typed}  # untyped: the defaults
    assert record["content"]["name"] == "tubingen.jpg" and len(record["content"]["sha256"]) == 64
    assert record["styles"][0]["name"] == "starry_night.jpg"
    saved = sorted(p.name for p in (tmp_path / "steps").iterdir())
    assert saved == ["out-step00004.png", "out-step00008.png"]
    # `info` prints what was embedded
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["settings"]["seed"] == 7


def test_settings_from_reproduces_the_image(tmp_path):
    first = tmp_path / "first.png"
    assert main(["stylize", CONTENT, STYLE, "-o", str(first), *PAINT, "--init", "noise",
                 "--seed", "5", "--style-weight", "300", "-q"]) == 0
    assert moved_from_photo(first) > PAINTED
    again = tmp_path / "again.png"
    assert main(["stylize", "--settings-from", str(first), CONTENT, STYLE, "-o", str(again), "-q"]) == 0
    assert list(Image.open(first).tobytes()) == list(Image.open(again).tobytes())
    other = tmp_path / "other.png"
    assert main(["stylize", "--settings-from", str(first), CONTENT, STYLE, "-o", str(other),
                 "--seed", "6", "-q"]) == 0
    saved = images.read_metadata(other)["settings"]
    # only --seed was typed: everything else is the first run's, today's defaults included
    assert saved == {**images.read_metadata(first)["settings"], "seed": 6}
    assert saved["style_norm"] == "relative" and saved["style_layer_weights"] == []
    assert list(Image.open(first).tobytes()) != list(Image.open(other).tobytes())


def test_jpeg_output_follows_extension(tmp_path):
    out = tmp_path / "out.jpg"
    assert main(["stylize", CONTENT, STYLE, "-o", str(out), *FAST, "-q"]) == 0
    assert Image.open(out).format == "JPEG"


def test_demo_and_module_entry_point(tmp_path):
    run = subprocess.run([sys.executable, "-m", "brushwork", "demo", *PAINT], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    out = tmp_path / "brushwork-demo.png"
    assert Image.open(out).size == (64, 48) and moved_from_photo(out) > PAINTED
    assert "Traceback" not in run.stderr
    settings = images.read_metadata(out)["settings"]
    typed = {"size": 64, "steps": 10, "device": "cpu"}
    assert settings == {**Settings().to_dict(), **typed}  # the rest are the defaults


def test_help_lists_settings_built_from_the_dataclass(capsys):
    assert main(["stylize", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("--style-weight", "--preserve-color", "--style-blend", "--scales", "--tv-weight",
                 "--pooling", "--weights", "--init", "--seed", "--save-every"):
        assert flag in out


# ---- review findings (issue 15): each of these failed on the code before the fix ----------

@pytest.mark.parametrize("before,form", [(True, ["--size", "auto", "--device", "cpu"]),
                                         (False, ["--size", "auto", "--device", "cpu"]),
                                         (False, ["--size=auto", "--device=cpu"])])
def test_size_auto_before_or_after_the_inputs_and_in_the_equals_form(tmp_path, monkeypatch,
                                                                     before, form):
    from brushwork import memory

    # Pretend the machine has room for a ~100 px run only, so the run stays tiny.
    monkeypatch.setattr(memory, "available_bytes",
                        lambda device: memory.estimate_bytes(96, 72, device) / 0.9)
    out = tmp_path / "o.png"
    inputs = [CONTENT, STYLE, "-o", str(out)]
    argv = ["stylize", *form, *inputs] if before else ["stylize", *inputs, *form]
    code = main([*argv, "--steps", "1", "-q"])
    assert code == 0
    size = images.read_metadata(out)["settings"]["size"]
    assert 64 <= size <= 96 and size % 16 == 0 and max(Image.open(out).size) == size


def test_size_auto_never_suggests_less_than_the_minimum(monkeypatch):
    import torch

    from brushwork import memory

    cpu = torch.device("cpu")
    monkeypatch.setattr(memory, "available_bytes",
                        lambda device: memory.estimate_bytes(20, 15, device) / 0.9)
    assert memory.largest_size(1024, 768, cpu) is None  # 16 px would fit: not a usable size
    monkeypatch.setattr(memory, "available_bytes",
                        lambda device: memory.estimate_bytes(32, 24, device) / 0.9)
    assert memory.largest_size(1024, 768, cpu) == 32


def test_free_memory_counts_what_the_kernel_can_reclaim(tmp_path):
    from brushwork import memory

    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       16000000 kB\nMemFree:          300000 kB\n"
                       "MemAvailable:   12000000 kB\nCached:         11000000 kB\n")
    assert memory.cpu_available(meminfo) == 12000000 * 1024  # not MemFree's 0.3 GB


def _interrupted_run(tmp_path):
    """An interrupted run's leftovers: an intermediate at step 2 of 4 in tmp/steps."""
    steps = tmp_path / "steps"
    assert main(["stylize", CONTENT, STYLE, "-o", str(tmp_path / "out.png"), "--size", "48",
                 "--steps", "4", "--device", "cpu", "--save-every", "2", "--save-dir",
                 str(steps), "-q"]) == 0
    (tmp_path / "out.png").unlink()
    return steps


def test_resume_honours_options_that_keep_the_plan(tmp_path, capsys):
    steps = _interrupted_run(tmp_path)
    out = tmp_path / "out.png"
    code = main(["stylize", CONTENT, STYLE, "-o", str(out), "--resume", str(steps),
                 "--device", "cpu", "--save-every", "1", "--save-dir", str(steps),
                 "--tile", "32", "--max-memory", "3GB"])
    assert code == 0, capsys.readouterr().err
    assert (steps / "out-step00003.png").exists()  # --save-every 1 was honoured
    record = images.read_metadata(out)
    assert record["steps_done"] == 4
    assert record["settings"]["tile"] == 32 and record["settings"]["max_memory"] == 3.0


@pytest.mark.parametrize("text,gb", [("4", 4.0), ("4GB", 4.0), ("4.5g", 4.5), ("512MB", 0.5)])
def test_max_memory_takes_gigabytes_with_or_without_a_unit(text, gb):
    args = build_parser().parse_args(["stylize", "a.jpg", "b.jpg", "-o", "o.png",
                                      "--max-memory", text])
    assert args.max_memory == gb


def test_a_bad_memory_cap_is_one_line(capsys):
    code = main(["stylize", CONTENT, STYLE, "-o", "o.png", "--max-memory", "lots"])
    err = _one_line_error(capsys, code, "invalid memory size 'lots'")
    assert "4GB" in err
    code = main(["stylize", CONTENT, STYLE, "-o", "o.png", "--max-memory", "0.01"])
    _one_line_error(capsys, code, "--max-memory: must be from 0.25")


@pytest.mark.parametrize("option", [["--steps", "9"], ["--style-weight", "3"], ["--seed", "4"]])
def test_resume_refuses_options_that_would_change_the_picture(tmp_path, capsys, option):
    steps = _interrupted_run(tmp_path)
    capsys.readouterr()
    code = main(["stylize", CONTENT, STYLE, "-o", str(tmp_path / "out.png"), "--resume",
                 str(steps), *option])
    err = _one_line_error(capsys, code, f"--resume with {option[0]}: would change")
    assert "drop " + option[0] in err
    # the same value as the interrupted run is no change, and is accepted
    same = {"--steps": "4", "--style-weight": None, "--seed": "0"}[option[0]]
    if same:
        assert main(["stylize", CONTENT, STYLE, "-o", str(tmp_path / "out.png"), "--resume",
                     str(steps), option[0], same, "-q"]) == 0


def test_running_out_of_gpu_memory_mid_run_keeps_the_picture(tmp_path, capsys, monkeypatch):
    import torch

    import brushwork.objective as objective

    calls = {"n": 0}
    real = objective.content_loss

    def oom_at_fourth(f, t):
        calls["n"] += 1
        if calls["n"] == 4:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(f, t)

    monkeypatch.setattr(objective, "content_loss", oom_at_fourth)
    out = tmp_path / "out.png"
    code = main(["stylize", CONTENT, STYLE, "-o", str(out), "--size", "48", "--steps", "10",
                 "--device", "cpu", "--save-every", "0"])
    err = capsys.readouterr().err
    assert code == 1 and "ran out of memory" in err and f"wrote the picture of step 3 to {out}" in err
    assert images.read_metadata(out)["steps_done"] == 3 and max(Image.open(out).size) == 48


def test_webp_output_carries_settings_for_info_and_settings_from(tmp_path, capsys):
    out = tmp_path / "out.webp"
    assert main(["stylize", CONTENT, STYLE, "-o", str(out), *FAST, "--seed", "9", "-q"]) == 0
    assert Image.open(out).format == "WEBP"
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["settings"]["seed"] == 9
    again = tmp_path / "again.png"
    assert main(["stylize", "--settings-from", str(out), CONTENT, STYLE, "-o", str(again), "-q"]) == 0
    assert images.read_metadata(again)["settings"]["seed"] == 9


def test_divergence_through_the_cli_exits_1_with_the_best_picture(tmp_path, capsys, monkeypatch):
    import brushwork.objective as objective

    calls = {"n": 0}
    real = objective.content_loss

    def nan_from_fourth(f, t):
        calls["n"] += 1
        return real(f, t) * (float("nan") if calls["n"] >= 4 else 1.0)

    monkeypatch.setattr(objective, "content_loss", nan_from_fourth)
    out = tmp_path / "out.png"
    code = main(["stylize", CONTENT, STYLE, "-o", str(out), "--size", "48", "--steps", "30",
                 "--device", "cpu", "--save-every", "0"])
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert code == 1 and "Traceback" not in err
    best = int(re.search(r"wrote the best picture \(step (\d+)\)", last).group(1))
    assert 1 <= best <= 3  # a picture from before the loss broke at step 4
    record = images.read_metadata(out)
    assert record["steps_done"] == best
    pixels = images.to_tensor(Image.open(out))
    assert 0.1 < float(pixels.mean()) < 0.9 and float(pixels.std()) > 0.05  # a picture, not noise


def test_save_every_0_writes_no_intermediates(tmp_path):
    assert main(["stylize", CONTENT, STYLE, "-o", str(tmp_path / "o.png"), *FAST,
                 "--save-every", "0", "--save-dir", str(tmp_path / "steps"), "-q"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.png"]


def test_save_dir_that_is_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "steps").write_text("a file")
    code = main(["stylize", CONTENT, STYLE, "-o", str(tmp_path / "o.png"), *FAST,
                 "--save-dir", str(tmp_path / "steps")])
    _one_line_error(capsys, code, "--save-dir")


def test_quiet_prints_nothing(tmp_path):
    run = subprocess.run([sys.executable, "-m", "brushwork", "stylize", CONTENT, STYLE, "-o",
                          str(tmp_path / "o.png"), *FAST, "-q"], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0 and run.stderr == "" and run.stdout == ""
    loud = subprocess.run([sys.executable, "-m", "brushwork", "stylize", CONTENT, STYLE, "-o",
                           str(tmp_path / "o.png"), *FAST], capture_output=True, text=True,
                          timeout=300)
    assert "wrote" in loud.stderr  # without -q it does talk


def test_max_pooling_with_the_caffe_weights(tmp_path):
    out = {}
    for pooling in ("avg", "max"):
        path = tmp_path / f"{pooling}.png"
        assert main(["stylize", CONTENT, STYLE, "-o", str(path), *PAINT, "--pooling", pooling,
                     "-q"]) == 0
        assert images.read_metadata(path)["settings"]["pooling"] == pooling
        assert moved_from_photo(path) > PAINTED
        out[pooling] = Image.open(path).tobytes()
    assert out["avg"] != out["max"]


def test_a_cuda_index_beyond_the_devices_is_refused(tmp_path, capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    code = main(["stylize", CONTENT, STYLE, "-o", str(tmp_path / "o.png"), "--device", "cuda:3"])
    _one_line_error(capsys, code, "--device cuda:3: only 1 CUDA device(s)")


def test_a_tiled_run_from_the_command_line_writes_the_picture(tmp_path, capsys):
    out = tmp_path / "tiled.png"
    assert main(["stylize", CONTENT, STYLE, "-o", str(out), *PAINT,
                 "--tile", "32"]) == 0, capsys.readouterr().err
    record = images.read_metadata(out)
    assert record["steps_done"] == 10 and record["settings"]["tile"] == 32
    assert Image.open(out).size == (64, 48) and moved_from_photo(out) > PAINTED


@pytest.mark.parametrize("options", [
    ["--parameterization", "pyramid"],
    ["--parameterization", "decorrelated"],
    ["--optimizer", "adam", "--lr", "0.05", "--average", "0.9"],
])
def test_the_studys_variants_paint_through_the_command_and_are_recorded(tmp_path, options):
    """--parameterization and --average as a user types them: painted, and in the record."""
    out = tmp_path / "o.png"
    assert main(["stylize", CONTENT, STYLE, "-o", str(out), "--size", "64", "--steps", "16",
                 "--device", "cpu", "-q", *options]) == 0
    assert moved_from_photo(out) > PAINTED
    record = json.loads(Image.open(out).text["brushwork"])["settings"]
    for flag, value in zip(options[::2], options[1::2]):
        got = record[flag[2:].replace("-", "_")]
        assert str(got) == value or float(got) == float(value), (flag, got)


def test_adams_average_is_the_picture_written_and_differs_from_its_last_step(tmp_path):
    import brushwork

    common = dict(size=64, steps=12, device="cpu", optimizer="adam", lr=0.05, scales=1)
    plain = brushwork.stylize(CONTENT, STYLE, Settings(**common))
    averaged = brushwork.stylize(CONTENT, STYLE, Settings(**common, average=0.9))
    assert moved_from_photo(averaged) > PAINTED
    # the average lags the iterate: nearer the photo than the last step, but not the photo
    assert 0 < moved_from_photo(averaged) < moved_from_photo(plain)
