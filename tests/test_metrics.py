"""Wang et al.'s metrics (brushwork.metrics) and `brushwork score`: their documented extremes,
and the command as a researcher types it."""

import json

import pytest
from PIL import Image

from brushwork import examples
from brushwork.cli import main
from brushwork.metrics import Scorer

CONTENT, STYLE = str(examples.CONTENT), str(examples.STARRY_NIGHT)


@pytest.fixture(scope="module")
def scorer():
    return Scorer("cpu")


def test_a_picture_against_itself_scores_every_maximum(scorer, photo):
    s = scorer.score(photo, photo, photo, size=128)
    for name in ("cf", "ge", "lp", "colour", "texture", "lp1", "lp2"):
        assert getattr(s, name) == pytest.approx(1.0, abs=1e-5), name
    assert s.style_dist == pytest.approx(0, abs=1e-9) and s.content_dist == pytest.approx(0, abs=1e-9)


def test_a_flat_grey_picture_scores_low_where_the_paper_says(scorer, photo, painting):
    grey = Image.new("RGB", photo.size, (128, 128, 128))
    s = scorer.score(grey, photo, painting, size=128)
    assert s.colour < 0.2  # one histogram bin against a painting's spread of colours
    # its patches are all alike (only the zero-padded border differs): few nearest patches
    assert s.lp2 < 0.15
    assert s.cf < 0.5 and s.ge < 0.6 and s.lp < 0.5
    assert s.style_dist > 0.5 and s.content_dist > 0.5
    # and the photo itself is a better stylisation than grey on every score but none is perfect
    p = scorer.score(photo, photo, painting, size=128)
    assert p.cf == pytest.approx(1.0, abs=1e-5) and p.lp2 > s.lp2 and p.colour > s.colour
    assert p.ge < 1 and p.lp < 1


def test_score_from_the_command_line_as_a_table_and_as_json(tmp_path, capsys):
    code = main(["score", STYLE, CONTENT, "--content", CONTENT, "--style", STYLE,
                 "--size", "128"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0 and out[0].startswith("| picture | cf | ge | lp |")
    rows = {line.split("|")[1].strip(): [float(v) for v in line.split("|")[2:-1]]
            for line in out[2:]}
    assert rows[CONTENT][0] == pytest.approx(1.0, abs=1e-3)  # the photo: its own content
    assert rows[STYLE][1] == pytest.approx(1.0, abs=1e-3)  # the painting: its own style
    code = main(["score", CONTENT, "--content", CONTENT, "--style", STYLE, "--size", "128",
                 "--json"])
    record = json.loads(capsys.readouterr().out)
    assert code == 0 and record["picture"] == CONTENT and record["cf"] == pytest.approx(1, abs=1e-3)


@pytest.mark.parametrize("args,expect", [
    (["score", "{tmp}/nope.png", "--content", CONTENT, "--style", STYLE], "nope.png: no such file"),
    (["score", CONTENT, "--content", CONTENT, "--style", STYLE, "--size", "10"], "--size: 10"),
    (["score", "{tmp}/text.png", "--content", CONTENT, "--style", STYLE], "not an image"),
])
def test_score_refuses_bad_input_in_one_line(tmp_path, capsys, args, expect):
    (tmp_path / "text.png").write_text("not a picture")
    code = main([a.replace("{tmp}", str(tmp_path)) for a in args])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and expect in err, err
