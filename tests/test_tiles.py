"""Exact tiling: the loss and gradient computed tile by tile are the whole picture's."""

import os

import pytest
import torch

import brushwork
from brushwork import examples, images, layers, memory, prepare, tiles, tiling
from brushwork.losses import content_loss, gram, relative_gram_loss, style_loss, tv_loss
from brushwork.objective import Objective
from brushwork.settings import Settings

from conftest import run_evaluator


def test_the_halo_is_worked_out_from_the_network():
    assert layers.halo(["relu5_1"]) == (80, 16)  # 5 spoilt positions of 16 pixels
    assert layers.halo(["relu4_2"]) == (40, 8)
    assert layers.halo(["relu1_1"]) == (1, 1)
    assert layers.halo(["relu1_1", "pool5"]) == (128, 32)  # 4 positions of 32, on pool5's grid
    assert layers.factor("relu3_1") == 4 and layers.channels("relu3_1") == 256
    assert layers.channels("pool4") == 512 and layers.factor("pool4") == 16


def test_tiles_cover_the_picture_once_on_the_pooling_grid():
    cut = tiling.cut(300, 229, ["relu5_1"], side=96)
    covered = torch.zeros(229, 300, dtype=torch.int32)
    for t in cut:
        covered[t.y0:t.y1, t.x0:t.x1] += 1
        assert t.y0 % 16 == 0 and t.x0 % 16 == 0 and t.cy0 % 16 == 0 and t.cx0 % 16 == 0
        assert t.cy0 == max(0, t.y0 - 80) and t.cx1 == min(300, t.x1 + 80)
    assert covered.eq(1).all() and len(cut) > 4
    assert tiling.cut(300, 229, ["relu5_1"]) == tiling.cut(300, 229, ["relu5_1"], side=512)
    assert len(tiling.cut(300, 229, ["relu5_1"], crop=300 * 229)) == 1


def test_the_cheapest_cut_within_a_crop_size_is_chosen():
    layers = ["relu4_2", "relu5_1"]
    cut = tiling.cut(1024, 768, layers, crop=(464 + 160) ** 2)
    assert max(t.pixels for t in cut) <= (464 + 160) ** 2
    squares = tiling.cut(1024, 768, layers, side=464)  # 3 x 2 near-squares
    assert len(cut) == 4 < len(squares)
    assert sum(t.pixels for t in cut) < sum(t.pixels for t in squares)


def _objective(model, s: Settings, photo, painting, size, luminance=False):
    stat = prepare.style_statistic(s, size, torch.device("cpu"))
    as_rgb = prepare.grey_to_rgb if luminance else prepare.identity
    content = images.to_tensor(images.resize(photo, size))
    content_in = brushwork.color.luminance(content) if luminance else content
    whole = memory.plan(*size, torch.device("cpu"))  # unknown memory: whole
    targets, stats = prepare.targets(model, s, content, content_in, [painting], size, as_rgb,
                                     whole, statistic=stat)
    weights = dict(zip(s.style_layers, prepare.layer_weights((), s.style_layers)))
    regions = prepare.style_regions(stats, [1.0], None, s.style_layers, s.pooling, stat)
    return Objective(targets, regions, content_weight=s.content_weight, style_weight=s.style_weight,
                     layer_weights=weights, tv_weight=s.tv_weight, as_rgb=as_rgb,
                     statistic=stat), content_in


@pytest.mark.parametrize("size,pooling,luminance", [((300, 229), "avg", False),
                                                     ((256, 192), "max", True)])
def test_the_tiled_gradient_is_the_whole_pictures(photo, painting, size, pooling, luminance):
    # the Gram loss: the reference below writes it out by hand (tests/test_style_losses.py
    # checks the other losses' tiled gradients)
    s = Settings(pooling=pooling, preserve_color="luminance" if luminance else "none",
                 style_loss="gram")
    model = brushwork.load_model(s)
    objective, start = _objective(model, s, photo, painting, size, luminance)
    g = torch.Generator().manual_seed(0)
    x = (start + 0.1 * torch.randn(start.shape, generator=g)).clamp(0, 1).requires_grad_(True)

    # The reference: plain autograd through the whole picture, written out independently.
    feats = model(objective.as_rgb(x))
    loss = (s.content_weight * content_loss(feats["relu4_2"], objective.content_targets["relu4_2"])
            + s.style_weight * sum(objective.layer_weights[k] * relative_gram_loss(
                gram(feats[k]), objective.regions[0].targets[k]) for k in s.style_layers)
            + s.tv_weight * tv_loss(x))
    want = torch.autograd.grad(loss, x)[0]

    whole_terms, whole, none = run_evaluator(model, objective, x, tiling.cut(*size, model.layers))
    cut = tiling.cut(*size, model.layers, side=64)
    terms, tiled, progress = run_evaluator(model, objective, x, cut)
    assert none == [] and len(cut) >= 12
    assert [(p.phase, p.tile) for p in progress] == (
        [("gram", i) for i in range(1, len(cut) + 1)] + [("gradient", i) for i in range(1, len(cut) + 1)])
    for got in (whole, tiled):
        assert float((got - want).norm() / want.norm()) <= 1e-4
    assert float(terms["total"]) == pytest.approx(float(loss.detach()), rel=1e-5)
    assert float(whole_terms["total"]) == pytest.approx(float(loss.detach()), rel=1e-5)
    assert set(terms) == {"content", "style", "tv", "total"}


def test_ten_tiled_steps_paint_the_untiled_picture(model, photo, painting):
    s = Settings(size=256, steps=10, scales=1)
    whole = brushwork.stylize(photo, painting, s, model=model)
    steps = list(brushwork.iter_stylize(photo, painting, s.replace(tile=128), model=model,
                                        tile_progress=True))
    tiled = steps[-1].best_image()
    diff = (images.to_tensor(whole) - images.to_tensor(tiled)).abs().mean()
    assert float(diff) <= 1 / 255
    assert steps[-1].tiles == 4
    assert any(isinstance(p, tiles.Progress) for p in steps)
    # and a run that stayed whole moved the picture: the comparison is not of two photos
    assert float((images.to_tensor(whole) - images.to_tensor(images.resize(photo, whole.size))
                  ).abs().mean()) > 5 / 255


def test_a_large_painting_gets_the_same_grams_in_tiles(paper_model, painting):
    model = paper_model
    big = images.to_tensor(images.resize(painting, (300, 229)))
    layers = ["relu1_1", "relu3_1", "relu5_1"]
    whole, _ = tiles.features(model, big, tiling.cut(300, 229, layers), layers, ())
    cut, _ = tiles.features(model, big, tiling.cut(300, 229, layers, side=64), layers, ())
    for k in layers:
        torch.testing.assert_close(cut[k], whole[k], rtol=1e-4, atol=1e-6)
        assert float(style_loss(model(big)[k], whole[k])) < 1e-9


def test_the_memory_plan_tiles_only_what_does_not_fit():
    cpu = torch.device("cpu")
    budget = 8 * 2**30
    small = memory.plan(1024, 768, cpu, budget=budget)
    large = memory.plan(4096, 3072, cpu, budget=budget)
    assert not small.tiled and small.history == 20
    assert large.tiled and large.crop and large.fits and large.history < 20
    assert large.need <= budget
    # a forced tile side and a refusal to tile are honoured
    assert memory.plan(1024, 768, cpu, budget=budget, tile=256).tiles == 12
    assert not memory.plan(4096, 3072, cpu, budget=budget, tile=0).tiled
    assert not memory.plan(4096, 3072, cpu, budget=budget, tile=0).fits


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads VmHWM (Linux)")
def test_a_tiled_run_stays_within_what_its_plan_says_it_needs(tmp_path):
    """The plan against the real thing: a 768 px picture under a 1 GB cap is cut into tiles,
    and the process that paints it (measured by the kernel, VmHWM) stays within the plan's
    own estimate, which stays within the cap. A plan that underestimates fails here."""
    import subprocess
    import sys

    cpu = torch.device("cpu")
    w, h = images.fit_size(*brushwork.load_image(examples.CONTENT).size, 768)
    plan = memory.plan(w, h, cpu, layers=list(Settings().layers), budget=2**30)
    assert plan.tiled and plan.need <= 2**30
    # VmHWM, not ru_maxrss: Linux carries the parent's peak (pytest's, over a GB by then) into
    # ru_maxrss across fork and exec, while VmHWM belongs to the child's own memory.
    script = (
        "import brushwork\n"
        "from brushwork import examples\n"
        "s = brushwork.Settings(size=768, steps=2, scales=1, device='cpu', max_memory=1)\n"
        "brushwork.stylize(examples.CONTENT, examples.STARRY_NIGHT, s)\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]\n"
        "print(int(hwm.split()[1]) * 1024)\n")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    peak = int(run.stdout.split()[-1])
    assert peak <= plan.need * 1.1, (peak / 2**20, plan.need / 2**20)
