"""The style losses beside the Gram matrix (w2, sliced): zero at the painting, equal to slow
reference formulas, and exact through blends, masks and tiles."""

import numpy as np
import pytest
import torch

import brushwork
from brushwork import images, losses, prepare, tiles, tiling
from brushwork.objective import Objective
from brushwork.settings import Settings
from brushwork.statistics import statistic

from conftest import moved_from_photo, run_evaluator

SLICED = dict(generator=torch.Generator().manual_seed(3), channels=[8])


def _features(seed: int, n: int = 8, h: int = 6, w: int = 7) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.relu(torch.randn(1, n, h, w, generator=g, dtype=torch.float64) + 0.3).float()


def _whole(stat, f: torch.Tensor) -> torch.Tensor:
    return stat.share(f, 1 / f[0, 0].numel())


def _sqrtm(a: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh(a)
    return (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T


def test_w2_is_the_gaussian_wasserstein_distance_written_out():
    stat = statistic("w2")
    a, b = _features(0), _features(1, h=9, w=5)
    got = float(losses.w2_loss(_whole(stat, a), stat.target(_whole(stat, b))))
    # The slow formula, position by position, in float64.
    fa = a[0].reshape(8, -1).double().numpy().T
    fb = b[0].reshape(8, -1).double().numpy().T
    ma, mb = fa.mean(0), fb.mean(0)
    ca = sum(np.outer(p - ma, p - ma) for p in fa) / len(fa)
    cb = sum(np.outer(p - mb, p - mb) for p in fb) / len(fb)
    root = _sqrtm(cb)
    w2 = ((ma - mb) ** 2).sum() + np.trace(ca + cb - 2 * _sqrtm(root @ ca @ root))
    assert got == pytest.approx(w2 / ((mb**2).sum() + np.trace(cb)), rel=1e-3)
    assert got > 0.01
    own = _whole(stat, b)
    assert float(losses.w2_loss(own, stat.target(own))) == pytest.approx(0, abs=1e-4)


def test_the_trace_square_roots_gradient_is_right():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(5, 5, generator=g, dtype=torch.float64)
    spd = (x @ x.T + 0.5 * torch.eye(5, dtype=torch.float64)).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda m: losses.trace_sqrtm((m + m.T) / 2), (spd,))


def test_sliced_is_the_sorted_projections_distance_written_out():
    stat = statistic("sliced", **SLICED)
    a, b = _features(0), _features(1)  # the same size: quantiles are the sorted values
    got = float(losses.sliced_loss(_whole(stat, a), stat.target(_whole(stat, b))))
    pa, pb = _whole(stat, a)[:-1].double(), _whole(stat, b)[:-1].double()
    slow = float(((pa.sort(dim=1).values - pb.sort(dim=1).values) ** 2).mean())
    assert got == pytest.approx(slow / float((pb**2).mean()), rel=1e-4)
    assert got > 0.01
    own = _whole(stat, b)
    assert float(losses.sliced_loss(own, stat.target(own))) == pytest.approx(0, abs=1e-7)
    # Its directions are a rotation: the projections keep every feature's length.
    d = _whole(stat, a)[:-1]
    torch.testing.assert_close(d.square().sum(0), a[0].reshape(8, -1).square().sum(0))


@pytest.mark.parametrize("name", ["gram", "w2", "sliced"])
def test_a_one_hot_blend_is_that_painting_and_a_half_blend_their_mixture(name):
    stat = statistic(name, **SLICED) if name == "sliced" else statistic(name)
    a, b, x = _whole(stat, _features(0)), _whole(stat, _features(1)), _whole(stat, _features(2))
    loss = lambda target: float(stat.loss(x, stat.target(target)))  # noqa: E731
    assert loss(stat.blend([a, b], [1.0, 0.0])) == pytest.approx(loss(a), rel=1e-6)
    assert loss(stat.blend([a, b], [0.0, 1.0])) == pytest.approx(loss(b), rel=1e-6)
    # Half of each: the statistics of both paintings' positions together (a mixture).
    both = _whole(stat, torch.cat([_features(0), _features(1)], dim=-1))
    assert loss(stat.blend([a, b], [0.5, 0.5])) == pytest.approx(loss(both), rel=1e-4)
    assert loss(a) != pytest.approx(loss(b), rel=1e-3)


@pytest.mark.parametrize("name", ["w2", "sliced"])
def test_a_masked_statistic_is_the_region_alone(name):
    stat = statistic(name, **SLICED) if name == "sliced" else statistic(name)
    f = _features(0, w=8)
    mask = torch.zeros(1, 1, 6, 8)
    mask[..., :, :3] = 1
    target = stat.target(_whole(stat, _features(5)))
    guided = stat.share(f, 1 / float(mask.square().sum()), mask)
    alone = _whole(stat, f[..., :, :3].contiguous())
    assert float(stat.loss(guided, target)) == pytest.approx(float(stat.loss(alone, target)),
                                                             rel=1e-4)


@pytest.mark.parametrize("name", ["w2", "sliced"])
def test_the_tiled_gradient_is_the_whole_pictures_for_every_loss(model, photo, painting, name):
    size = (200, 152)
    s = Settings(style_loss=name)
    stat = prepare.style_statistic(s, size, torch.device("cpu"))
    content = images.to_tensor(images.resize(photo, size))
    plan = brushwork.memory.plan(*size, torch.device("cpu"))
    targets, stats = prepare.targets(model, s, content, content, [painting], size,
                                     prepare.identity, plan, statistic=stat)
    weights = dict(zip(s.style_layers, prepare.layer_weights((), s.style_layers)))
    objective = Objective(targets, prepare.style_regions(stats, [1.0], None, s.style_layers,
                                                         s.pooling, stat),
                          content_weight=1.0, style_weight=100.0, layer_weights=weights,
                          tv_weight=300.0, as_rgb=prepare.identity, statistic=stat)
    x = (content + 0.1 * torch.randn(content.shape, generator=torch.Generator().manual_seed(0)))
    x = x.clamp(0, 1)

    def evaluate(cut):
        return run_evaluator(model, objective, x.clone().requires_grad_(True), cut)[:2]

    whole_terms, whole = evaluate(tiling.cut(*size, model.layers))
    cut = tiling.cut(*size, model.layers, side=64)
    terms, tiled = evaluate(cut)
    assert len(cut) >= 6 and float(whole_terms["style"]) > 0
    assert float((tiled - whole).norm() / whole.norm()) <= 1e-4
    assert float(terms["total"]) == pytest.approx(float(whole_terms["total"]), rel=1e-5)


def test_a_large_painting_gets_the_same_statistics_in_tiles(model, painting):
    big = images.to_tensor(images.resize(painting, (300, 229)))
    layers = ["relu1_1", "relu3_1", "relu4_1"]
    for stat in (statistic("w2"), statistic("sliced", generator=torch.Generator().manual_seed(0),
                                            channels=[64, 256, 512])):
        whole, _ = tiles.features(model, big, tiling.cut(300, 229, layers), layers, (),
                                  statistic=stat)
        cut, _ = tiles.features(model, big, tiling.cut(300, 229, layers, side=64), layers, (),
                                statistic=stat)
        for k in layers:
            a, b = stat.target(whole[k]), stat.target(cut[k])
            if stat.joined:  # the same positions, in another order: the same quantiles
                torch.testing.assert_close(a.values, b.values, rtol=1e-4, atol=1e-5)
            else:  # the moments, sums over positions, whose mean and covariance the loss reads
                torch.testing.assert_close(cut[k], whole[k], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", ["w2", "sliced"])
def test_each_loss_paints_from_the_command_line_and_is_recorded(photo, name, tmp_path):
    from brushwork import examples
    from brushwork.cli import main

    out = tmp_path / "out.png"
    assert main(["stylize", str(examples.CONTENT), str(examples.STARRY_NIGHT), "-o", str(out),
                 "--size", "64", "--steps", "10", "--style-loss", name]) == 0
    assert moved_from_photo(brushwork.load_image(out), photo) > 8.0
    record = brushwork.read_metadata(out)
    assert Settings.from_record(record["settings"]) == Settings(size=64, steps=10, style_loss=name)


def test_a_record_from_before_the_new_losses_means_gram():
    old = Settings().to_dict()
    del old["style_loss"]
    assert Settings.from_record(old).style_loss == "gram"
