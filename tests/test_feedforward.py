"""The feed-forward picture (Ghiasi et al.'s network on onnxruntime): the instant preset returns a
painted picture of the asked size on every path a user takes, without torch on the command line,
and the fast start reaches the optimisation with its record saying so."""

import subprocess
import sys

import pytest

import brushwork
from brushwork import Settings, examples, feedforward, images
from brushwork.cli import main

from conftest import PAINTED, moved_from_photo

CONTENT, STYLE = str(examples.CONTENT), str(examples.STARRY_NIGHT)


def test_the_instant_preset_paints_a_picture_of_the_asked_size(photo, painting):
    settings = Settings.from_preset("instant", size=300)
    assert (settings.steps, settings.init) == (0, "fast")
    steps = list(brushwork.iter_stylize(photo, painting, settings))
    assert [(s.step, s.total) for s in steps] == [(0, 0)]
    picture = brushwork.stylize(photo, painting, settings)
    assert picture.size == images.fit_size(*photo.size, 300)
    assert moved_from_photo(picture, photo) > PAINTED


def test_strength_moves_the_instant_picture_from_the_photo(photo, painting):
    net = feedforward.load_network()
    moved = [moved_from_photo(feedforward.instant(photo, [painting], Settings.from_preset(
        "instant", size=128, strength=s), net), photo) for s in (0.05, 0.5, 1.0)]
    assert moved == sorted(moved) and moved[0] < moved[2] - 5


def test_two_paintings_blend_by_their_style_vectors(photo, painting, scream):
    net = feedforward.load_network()
    one = feedforward.instant(photo, [painting], Settings.from_preset("instant", size=96), net)
    both = feedforward.instant(photo, [painting, scream], Settings.from_preset(
        "instant", size=96, style_blend=(0.5, 0.5)), net)
    assert moved_from_photo(both, one) > 3


def test_instant_on_the_command_line_writes_the_picture_with_its_record(tmp_path, capsys):
    out = tmp_path / "instant.png"
    assert main(["stylize", CONTENT, STYLE, "--preset", "instant", "--size", "200",
                 "-o", str(out)]) == 0
    record = images.read_metadata(out)
    assert record["settings"]["preset"] == "instant" and record["settings"]["steps"] == 0
    assert record["steps_done"] == 0
    assert images.load_image(out).size == images.fit_size(*images.load_image(CONTENT).size, 200)
    assert moved_from_photo(out) > PAINTED


def test_the_instant_command_never_imports_torch(tmp_path):
    """The instant picture's whole process: no torch import (about 2 s of the 0.1 budget)."""
    out = tmp_path / "i.png"
    code = ("import sys; from brushwork.cli import main; rc = main(sys.argv[1:]); "
            "print('torch' in sys.modules); sys.exit(rc)")
    done = subprocess.run([sys.executable, "-c", code, "stylize", CONTENT, STYLE, "--preset",
                           "instant", "--size", "128", "-q", "-o", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False" and out.exists()


@pytest.mark.parametrize("args, expect", [
    (["--preset", "instant", "--style-masks", str(examples.FOLDER / "tubingen.jpg")],
     "--style-masks: regions need the optimisation"),
    (["--preset", "instant", "--preserve-color", "histogram"], "--preserve-color histogram"),
    (["--steps", "0"], "--steps: 0 steps paint nothing"),
])
def test_what_the_instant_picture_cannot_do_is_one_line(tmp_path, capsys, args, expect):
    assert main(["stylize", CONTENT, STYLE, *args, "-o", str(tmp_path / "o.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expect in err
    assert not (tmp_path / "o.png").exists()


def test_a_missing_extra_is_one_line_naming_the_install(tmp_path, capsys, monkeypatch):
    def missing(name):
        raise feedforward.importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(feedforward.importlib.metadata, "distribution", missing)
    assert main(["stylize", CONTENT, STYLE, "--preset", "instant", "-o",
                 str(tmp_path / "o.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install 'brushwork[instant]'" in err


def test_the_fast_start_reaches_the_optimisation_and_its_record_says_so(tmp_path, photo,
                                                                        painting, model):
    settings = Settings(size=96, steps=12, init="fast", device="cpu")
    start = feedforward.instant(photo, [painting], settings)
    steps = list(brushwork.iter_stylize(photo, painting, settings, model=model))
    assert [s.step for s in steps] == list(range(1, 13))
    first = steps[0].image()  # the picture the first step evaluated: the feed-forward one
    assert moved_from_photo(first, start.resize(first.size)) < 3
    assert moved_from_photo(first, photo) > PAINTED
    out = tmp_path / "fast.png"
    assert main(["stylize", CONTENT, STYLE, "--init", "fast", "--size", "64", "--steps", "3",
                 "--device", "cpu", "-q", "-o", str(out)]) == 0
    assert images.read_metadata(out)["settings"]["init"] == "fast"


def test_a_changed_network_file_is_refused(monkeypatch):
    monkeypatch.setattr(feedforward, "PREDICT", (feedforward.PREDICT[0], "0" * 64))
    with pytest.raises(brushwork.InputError, match="is not the file brushwork was tested with"):
        feedforward.load_network()
