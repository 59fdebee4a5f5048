"""Presets and the strength knob: typed options override a preset, both land in the record, and
strength moves the picture from the photo to fully painted, on every path a user takes."""

import json

import pytest

from brushwork import Settings, examples, images, presets
from brushwork.cli import main

from conftest import PAINTED, moved_from_photo

CONTENT, STYLE = str(examples.CONTENT), str(examples.STARRY_NIGHT)
PAINT = ["--size", "64", "--steps", "10", "--device", "cpu"]


def test_a_preset_sets_its_values_and_typed_options_override_them():
    for name, (_, values) in presets.PRESETS.items():
        s = Settings.from_preset(name)
        assert s.preset == name
        assert all(getattr(s, k) == (tuple(v) if isinstance(v, list) else v)
                   for k, v in values.items() if k != "strength")
    bold = Settings.from_preset("bold", style_scale=1.0, size=300)
    assert bold.style_scale == 1.0 and bold.size == 300 and bold.strength == 0.8
    paper = Settings.from_preset("paper")
    assert paper.init == "noise" and paper.tv_weight == 0 and paper.style_norm == "paper"


def test_strength_scales_the_style_and_smoothing_weights_along_the_curve():
    used = [Settings(strength=s).weights_used for s in (0.0, 0.25, 0.5, 0.75, 1.0)]
    d = Settings()
    assert used[0] == (d.content_weight, 0.0, 0.0)  # nothing but the photo
    assert used[2] == (d.content_weight, d.style_weight, d.tv_weight)  # 0.5: as given
    assert [u[1] for u in used] == sorted(u[1] for u in used)
    assert used[4][1] == pytest.approx(d.style_weight * presets.SPAN)
    assert all(u[2] / d.tv_weight == pytest.approx(u[1] / d.style_weight) for u in used)
    # a typed style weight is the base the knob scales
    assert Settings(style_weight=10, strength=1.0).weights_used[1] == pytest.approx(10 * presets.SPAN)
    assert Settings().weights_used == (d.content_weight, d.style_weight, d.tv_weight)


def test_preset_and_strength_from_the_command_line_land_in_the_record(tmp_path, photo):
    out = tmp_path / "o.png"
    assert main(["stylize", CONTENT, STYLE, "-o", str(out), *PAINT, "--preset", "bold",
                 "--strength", "0.6"]) == 0
    record = images.read_metadata(out)["settings"]
    assert record == Settings.from_preset("bold", strength=0.6, size=64, steps=10,
                                          device="cpu").to_dict()
    assert record["preset"] == "bold" and record["strength"] == 0.6 and record["style_scale"] == 1.5
    assert moved_from_photo(images.load_image(out), photo) > PAINTED


def test_strength_zero_keeps_the_photo_and_one_paints_more(tmp_path, photo):
    moved = {}
    for strength in ("0", "1"):
        out = tmp_path / f"s{strength}.png"
        assert main(["stylize", CONTENT, STYLE, "-o", str(out), *PAINT,
                     "--strength", strength]) == 0
        moved[strength] = moved_from_photo(images.load_image(out), photo)
    assert moved["0"] < 3 < PAINTED < moved["1"]


def test_bad_strength_or_preset_is_one_line(tmp_path, capsys):
    code = main(["stylize", CONTENT, STYLE, "-o", str(tmp_path / "o.png"), *PAINT,
                 "--strength", "1.5"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--strength: must be from 0.0 to 1.0" in err
    code = main(["stylize", CONTENT, STYLE, "-o", str(tmp_path / "o.png"), *PAINT,
                 "--strength", "0", "--content-weight", "0"])
    assert code == 2 and "nothing to optimise" in capsys.readouterr().err
    code = main(["stylize", CONTENT, STYLE, "-o", str(tmp_path / "o.png"), *PAINT,
                 "--preset", "loud"])
    assert code == 2 and "invalid choice: 'loud'" in capsys.readouterr().err


def test_a_jobs_file_line_can_name_a_preset(tmp_path, capsys):
    (tmp_path / "jobs.jsonl").write_text(json.dumps(
        {"content": CONTENT, "styles": [STYLE], "output": "subtle.png",
         "settings": {"preset": "subtle"}}) + "\n")
    out = tmp_path / "out"
    assert main(["batch", "--jobs", str(tmp_path / "jobs.jsonl"), "-o", str(out), *PAINT]) == 0
    record = images.read_metadata(out / "subtle.png")["settings"]
    assert record["preset"] == "subtle" and record["strength"] == 0.3
    assert record["size"] == 64  # the command's options under the line's preset
