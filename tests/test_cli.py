import json
import subprocess
import sys

import pytest
from PIL import Image

from brushwork import examples, images
from brushwork.cli import main

CONTENT, STYLE = str(examples.CONTENT), str(examples.STARRY_NIGHT)
FAST = ["--size", "48", "--steps", "3", "--device", "cpu"]


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
    (["stylize", CONTENT, STYLE, "-o", "{tmp}/o.png", "--steps", "0"], "--steps: must be from 1"),
    (["stylize", CONTENT, STYLE, "-o", "{tmp}/o.tga"], "unknown image extension"),
    (["stylize", CONTENT, STYLE, "-o", "{tmp}/no/such/dir/o.png"], "does not exist"),
    (["stylize", CONTENT, STYLE, "-o", "{tmp}/o.png", "--optimizer", "sgd"], "invalid choice"),
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
    code = main(["stylize", CONTENT, STYLE, "-o", str(out), *FAST, "--save-every", "1",
                 "--save-dir", str(tmp_path / "steps"), "--seed", "7"])
    assert code == 0
    im = Image.open(out)
    assert max(im.size) == 48
    record = images.read_metadata(out)
    assert record["settings"]["seed"] == 7 and record["settings"]["size"] == 48
    assert record["content"]["name"] == "tubingen.jpg" and len(record["content"]["sha256"]) == 64
    assert record["styles"][0]["name"] == "starry_night.jpg"
    saved = sorted(p.name for p in (tmp_path / "steps").iterdir())
    assert saved == ["out-step00001.png", "out-step00002.png"]
    # `info` prints what was embedded
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["settings"]["seed"] == 7


def test_settings_from_reproduces_the_image(tmp_path):
    first = tmp_path / "first.png"
    assert main(["stylize", CONTENT, STYLE, "-o", str(first), *FAST, "--init", "noise",
                 "--seed", "5", "--style-weight", "300", "-q"]) == 0
    again = tmp_path / "again.png"
    assert main(["stylize", "--settings-from", str(first), CONTENT, STYLE, "-o", str(again), "-q"]) == 0
    assert list(Image.open(first).tobytes()) == list(Image.open(again).tobytes())
    other = tmp_path / "other.png"
    assert main(["stylize", "--settings-from", str(first), CONTENT, STYLE, "-o", str(other),
                 "--seed", "6", "-q"]) == 0
    assert images.read_metadata(other)["settings"]["style_weight"] == 300
    assert list(Image.open(first).tobytes()) != list(Image.open(other).tobytes())


def test_jpeg_output_follows_extension(tmp_path):
    out = tmp_path / "out.jpg"
    assert main(["stylize", CONTENT, STYLE, "-o", str(out), *FAST, "-q"]) == 0
    assert Image.open(out).format == "JPEG"


def test_demo_and_module_entry_point(tmp_path):
    run = subprocess.run([sys.executable, "-m", "brushwork", "demo", "--size", "48", "--steps", "2",
                          "--device", "cpu"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert Image.open(tmp_path / "brushwork-demo.png").size == (48, 36)
    assert "Traceback" not in run.stderr


def test_help_lists_settings_built_from_the_dataclass(capsys):
    assert main(["stylize", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("--style-weight", "--preserve-color", "--style-blend", "--scales", "--tv-weight",
                 "--pooling", "--weights", "--init", "--seed", "--save-every"):
        assert flag in out
