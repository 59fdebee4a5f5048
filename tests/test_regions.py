"""Regions: guided Gram matrices, one mask per style, the photo kept where no mask is white."""

import pytest
import torch
from PIL import Image

import brushwork
from brushwork import images, memory, prepare, regions, tiling
from brushwork.cli import main
from brushwork.errors import InputError
from brushwork.losses import gram, relative_gram_loss
from brushwork.statistics import statistic

from conftest import run_evaluator

GRAM = statistic("gram")
from brushwork.objective import Objective
from brushwork.settings import Settings


def _half(width: int, height: int, left: bool) -> Image.Image:
    im = Image.new("L", (width, height), 0)
    im.paste(255, (0, 0, width // 2, height) if left else (width // 2, 0, width, height))
    return im


def _evaluate(model, objective, x):
    """The loss terms and gradient of the whole picture, untiled."""
    terms, grad, _ = run_evaluator(model, objective, x,
                                   tiling.cut(*x.shape[-1:-3:-1], model.layers))
    return terms, grad


def test_an_all_white_mask_is_exactly_the_unguided_loss(model, photo, painting):
    s = Settings()
    size = (96, 72)
    content = images.to_tensor(images.resize(photo, size))
    whole = memory.plan(*size, torch.device("cpu"))  # unknown memory: whole
    targets, grams = prepare.targets(model, s, content, content, [painting], size,
                                       prepare.identity, whole)
    white = torch.ones(1, 1, 72, 96)
    weights = dict(zip(s.style_layers, prepare.layer_weights((), s.style_layers)))
    common = dict(content_weight=1.0, style_weight=100.0, layer_weights=weights, tv_weight=300.0,
                  statistic=GRAM, as_rgb=prepare.identity)
    plain = Objective(targets, prepare.style_regions(grams, [1.0], None, s.style_layers, "avg", GRAM),
                      **common)
    guided = Objective(targets, prepare.style_regions(grams, [1.0], [white], s.style_layers, "avg",
                                                      GRAM), **common)
    assert guided.regions[0].masks is not None and plain.regions[0].masks is None
    x = (content + 0.05 * torch.randn(content.shape, generator=torch.Generator().manual_seed(0)))
    a_terms, a_grad = _evaluate(model, plain, x.clamp(0, 1).requires_grad_(True))
    b_terms, b_grad = _evaluate(model, guided, x.clamp(0, 1).requires_grad_(True))
    assert float(a_terms["style"]) > 0
    assert float(a_terms["total"]) == float(b_terms["total"])
    assert torch.equal(a_grad, b_grad)


def test_masks_are_carried_through_the_networks_pooling():
    mask = torch.zeros(1, 1, 64, 96)
    mask[..., :, :48] = 1
    at = regions.layer_masks(mask, ["relu1_1", "relu3_1", "relu5_1"], "avg")
    assert at["relu1_1"].shape[-2:] == (64, 96) and at["relu5_1"].shape[-2:] == (4, 6)
    assert float(at["relu3_1"][..., :, :12].min()) == 1 and float(at["relu3_1"][..., :, 12:].max()) == 0


def _gram_distance(model, picture: Image.Image, box, painting: Image.Image) -> float:
    layers = ["relu1_1", "relu2_1", "relu3_1"]
    part = images.to_tensor(picture.crop(box))
    theirs = model(images.to_tensor(images.resize(painting, images.fit_size(*painting.size, 128))))
    ours = model(part)
    return sum(float(relative_gram_loss(gram(ours[k]), gram(theirs[k]))) for k in layers)


def test_two_styles_on_two_halves_each_take_their_own(model, photo, painting, scream):
    s = Settings(size=128, steps=40, scales=1)
    left, right = _half(128, 96, True), _half(128, 96, False)
    out = brushwork.stylize(photo, [painting, scream], s, model=model, masks=[left, right])
    boxes = [(0, 0, 56, 96), (72, 0, 128, 96)]  # the halves, away from the border
    for box, own, other in ((boxes[0], painting, scream), (boxes[1], scream, painting)):
        assert _gram_distance(model, out, box, own) < _gram_distance(model, out, box, other)


def test_a_kept_region_stays_the_photo(model, photo, painting):
    s = Settings(size=128, steps=20, scales=1)
    mask = _half(37, 50, True)  # another size and shape than the photo: resized to it
    out = brushwork.stylize(photo, painting, s, model=model, masks=[mask])
    assert out.size == (128, 96)
    ours = images.to_tensor(out)
    theirs = images.to_tensor(images.resize(photo, out.size))
    edge = round(regions.FEATHER * 128) * 2 + 2  # the feathered edge lies in the painted half
    kept = (ours - theirs)[..., :, 64:].abs().mean()
    painted = (ours - theirs)[..., :, : 64 - edge].abs().mean()
    assert float(kept) < 2 / 255 < float(painted)


def test_bad_masks_are_refused_before_any_work(photo, painting, tmp_path):
    black = Image.new("L", (40, 30), 0)
    with pytest.raises(InputError, match="style mask 1: is black everywhere"):
        brushwork.iter_stylize(photo, painting, Settings(size=64), masks=[black])
    with pytest.raises(InputError, match="--style-masks: 2 masks for 1 style images"):
        brushwork.iter_stylize(photo, painting, Settings(size=64), masks=[black, black])
    text = tmp_path / "mask.png"
    text.write_text("not a picture")
    with pytest.raises(InputError, match="style mask 1"):
        brushwork.iter_stylize(photo, painting, Settings(size=64), masks=[str(text)])


def test_the_command_line_paints_regions_and_records_the_masks(tmp_path, capsys):
    from brushwork import examples

    sky = tmp_path / "sky.png"
    _half(64, 48, True).save(sky)
    out = tmp_path / "out.png"
    args = ["stylize", str(examples.CONTENT), str(examples.STARRY_NIGHT), "-o", str(out),
            "--size", "64", "--steps", "2", "--device", "cpu"]
    assert main([*args, "--style-masks", str(sky)]) == 0, capsys.readouterr().err
    record = images.read_metadata(out)
    assert [m["name"] for m in record["masks"]] == ["sky.png"] and len(record["masks"][0]["sha256"]) == 64
    capsys.readouterr()
    empty = tmp_path / "empty.png"
    Image.new("L", (64, 48), 0).save(empty)
    assert main([*args, "--style-masks", str(empty)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is black everywhere" in err and "Traceback" not in err
