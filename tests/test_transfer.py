import pytest
import torch
from PIL import Image

import brushwork
from brushwork import DivergenceError, InputError, color, images
from brushwork.transfer import plan_scales
from conftest import tiny


def _run(model, content, styles, **changes):
    return list(brushwork.iter_stylize(content, styles, tiny(**changes), model=model))


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_loss_goes_down(model, photo, painting, optimizer):
    steps = _run(model, photo, painting, optimizer=optimizer, steps=12, init="noise")
    first, last = steps[0].losses["total"], steps[-1].losses["total"]
    assert len(steps) == 12 and last < 0.7 * first
    assert {"content", "style", "total"} <= set(steps[-1].losses)


def test_steps_are_frozen_records_with_image(model, photo, painting):
    steps = _run(model, photo, painting, steps=3)
    s = steps[-1]
    assert (s.step, s.total, s.scale, s.scales) == (3, 3, 1, 1)
    assert s.image().size == s.size == (64, 48)
    with pytest.raises(AttributeError):
        s.step = 5


def test_same_seed_same_image_other_seed_differs(model, photo, painting):
    def pixels(seed):
        return list(brushwork.stylize(photo, painting, tiny(init="noise", seed=seed), model=model).tobytes())

    assert pixels(3) == pixels(3)
    assert pixels(3) != pixels(4)


def test_multiscale_ends_at_requested_size(model, photo, painting):
    s = tiny(size=96, scales=2, steps=6)
    plan = plan_scales(*photo.size, s)
    assert [p.size for p in plan] == [(48, 36), (96, 72)]
    assert plan[0].steps > plan[1].steps  # most of the work at the small, cheap size
    steps = _run(model, photo, painting, size=96, scales=2, steps=6)
    assert [st.scale for st in steps] == [1] * plan[0].steps + [2] * plan[1].steps
    assert steps[-1].image().size == (96, 72)


def test_auto_scales_only_above_256():
    assert len(plan_scales(512, 384, brushwork.Settings(size=256))) == 1
    assert len(plan_scales(512, 384, brushwork.Settings(size=512))) == 3


def test_full_blend_equals_single_style(model, photo, painting, scream):
    single = brushwork.stylize(photo, painting, tiny(), model=model)
    blended = brushwork.stylize(photo, [painting, scream], tiny(style_blend=(1.0, 0.0)), model=model)
    assert single.tobytes() == blended.tobytes()


def test_blend_moves_towards_the_heavier_style(model, photo, painting, scream):
    from brushwork.losses import gram, style_loss

    def style_distance(im, style):
        a, b = (images.to_tensor(images.resize(x, (64, 48))) for x in (im, style))
        fa, fb = model(a), model(b)
        return sum(float(style_loss(fa[k], gram(fb[k]))) for k in ("relu1_1", "relu2_1", "relu3_1"))

    s = tiny(steps=15)
    to_starry = brushwork.stylize(photo, [painting, scream], s.replace(style_blend=(0.9, 0.1)), model=model)
    to_scream = brushwork.stylize(photo, [painting, scream], s.replace(style_blend=(0.1, 0.9)), model=model)
    assert style_distance(to_starry, painting) < style_distance(to_scream, painting)
    assert style_distance(to_scream, scream) < style_distance(to_starry, scream)


def test_blend_count_mismatch_is_an_input_error(photo, painting):
    with pytest.raises(InputError, match="style-blend"):
        brushwork.iter_stylize(photo, [painting], tiny(style_blend=(0.5, 0.5)))


def _chroma(im):
    return color.rgb_to_yiq(images.to_tensor(im))[:, 1:]


def test_luminance_mode_keeps_the_photos_chroma(model, photo, painting):
    s = tiny(steps=10, preserve_color="luminance")
    out = brushwork.stylize(photo, painting, s, model=model)
    plain = brushwork.stylize(photo, painting, s.replace(preserve_color="none"), model=model)
    ref = _chroma(images.resize(photo, out.size))
    kept = (_chroma(out) - ref).abs().mean()
    assert kept < 0.02
    assert kept < 0.5 * (_chroma(plain) - ref).abs().mean()


def test_histogram_matching_gives_the_style_the_photos_colour_stats(photo, painting):
    c, s = images.to_tensor(photo), images.to_tensor(painting)
    matched = color.match_histogram(s, c)
    mu_c, cov_c = color.colour_stats(c)
    mu_m, cov_m = color.colour_stats(matched)
    mu_s, _ = color.colour_stats(s)
    assert (mu_m - mu_c).abs().max() < 0.02 < (mu_s - mu_c).abs().max()
    assert (cov_m - cov_c).abs().max() < 0.005


def test_histogram_mode_output_is_closer_to_photo_colours(model, photo, painting):
    s = tiny(steps=10)
    ref_mu, _ = color.colour_stats(images.to_tensor(images.resize(photo, (64, 48))))

    def colour_gap(im):
        return float((color.colour_stats(images.to_tensor(im))[0] - ref_mu).abs().sum())

    plain = brushwork.stylize(photo, painting, s, model=model)
    kept = brushwork.stylize(photo, painting, s.replace(preserve_color="histogram"), model=model)
    assert colour_gap(kept) < colour_gap(plain)


def test_tv_weight_smooths(model, photo, painting):
    from brushwork.losses import tv_loss

    s = tiny(steps=10, init="noise")
    rough = brushwork.stylize(photo, painting, s, model=model)
    smooth = brushwork.stylize(photo, painting, s.replace(tv_weight=100.0), model=model)
    assert tv_loss(images.to_tensor(smooth)) < tv_loss(images.to_tensor(rough))


def test_style_scale_changes_the_result(model, photo, painting):
    a = brushwork.stylize(photo, painting, tiny(), model=model)
    b = brushwork.stylize(photo, painting, tiny(style_scale=2.0), model=model)
    assert a.tobytes() != b.tobytes()


def test_init_from_file(model, photo, painting, tmp_path):
    init = tmp_path / "init.png"
    Image.new("RGB", (30, 20), (10, 200, 30)).save(init)
    first = _run(model, photo, painting, init=str(init), steps=1)[0]
    assert first.image().size == (64, 48)


def test_nan_guard_rolls_back_and_raises(model, photo, painting, monkeypatch):
    import brushwork.transfer as transfer

    calls = {"n": 0}
    real = transfer.content_loss

    def poisoned(f, t):
        calls["n"] += 1
        return real(f, t) * (float("nan") if calls["n"] >= 4 else 1.0)

    monkeypatch.setattr(transfer, "content_loss", poisoned)
    seen = []
    with pytest.raises(DivergenceError) as err:
        for st in brushwork.iter_stylize(photo, painting, tiny(steps=10), model=model):
            seen.append(st.step)
    assert seen == [1, 2, 3] and err.value.step == 4
    pixels = torch.tensor(list(err.value.image.tobytes()), dtype=torch.float32)
    assert torch.isfinite(pixels).all() and err.value.image.size == (64, 48)
    assert "smaller" in str(err.value)


def test_missing_device_is_refused(photo, painting):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(brushwork.DeviceError, match="no CUDA"):
        brushwork.iter_stylize(photo, painting, tiny(device="cuda"))


def test_bf16_is_refused_off_cuda(photo, painting):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(InputError, match="--precision: bf16 runs on CUDA only"):
        brushwork.iter_stylize(photo, painting, tiny(precision="bf16", device="cpu"))


def test_a_size_that_cannot_fit_names_the_largest_that_does(photo, painting, monkeypatch):
    from brushwork import memory

    monkeypatch.setattr(memory, "available_bytes", lambda device: 2 * 2**30)
    fits = memory.largest_size(*photo.size, torch.device("cpu"))
    assert fits and 256 <= fits < 1024
    assert memory.estimate_bytes(*images.fit_size(*photo.size, fits), torch.device("cpu")) <= 2 * 2**30
    with pytest.raises(InputError, match=f"use --size {fits}"):
        brushwork.iter_stylize(photo, painting, tiny(size=2048))


def test_a_finer_scale_gets_the_photos_detail_back():
    """Coarse-to-fine: the upsampled coarse result plus what the photo loses on the way down and
    up again; with a noise start there is no detail to give back."""
    from brushwork import transfer

    g = torch.Generator().manual_seed(1)
    content = 0.25 + 0.5 * torch.rand(1, 3, 32, 48, generator=g)  # no clamping in play
    prev = torch.full((1, 3, 16, 24), 0.5)
    args = (None, False, g, torch.device("cpu"))
    x = transfer._initial(prev, (48, 32), content, *args, "content")
    low = torch.nn.functional.interpolate(content, size=(16, 24), mode="area")
    detail = content - torch.nn.functional.interpolate(low, size=(32, 48), mode="bicubic",
                                                       align_corners=False)
    torch.testing.assert_close(x, (0.5 + detail).clamp(0, 1))
    assert detail.abs().mean() > 0.05  # the check above is not about a flat picture
    assert torch.equal(transfer._initial(prev, (48, 32), content, *args, "noise"),
                       torch.full((1, 3, 32, 48), 0.5))
    assert torch.equal(transfer._initial(None, (48, 32), content, *args, "content"), content)


def test_long_runs_spend_their_extra_steps_at_full_size():
    from brushwork.transfer import COARSE_STEPS_MAX

    short = plan_scales(1024, 768, brushwork.Settings(size=512, steps=120))
    assert [sc.steps for sc in short] == sorted((sc.steps for sc in short), reverse=True)
    long = plan_scales(1024, 768, brushwork.Settings(size=512, steps=600))
    assert sum(sc.steps for sc in long) == 600
    assert all(sc.steps <= COARSE_STEPS_MAX for sc in long[:-1])
    assert long[-1].steps == 600 - sum(sc.steps for sc in long[:-1]) > 400
