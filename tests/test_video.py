"""Video without flicker (brushwork.video): the frame loop, the temporal term, video files."""

from fractions import Fraction

import numpy as np
import pytest
import torch

pytest.importorskip("av")
pytest.importorskip("cv2")
import brushwork  # noqa: E402
from brushwork import examples, flow, tiling, videoio  # noqa: E402
from brushwork.objective import Objective, Region, Temporal  # noqa: E402
from brushwork.statistics import statistic  # noqa: E402

from conftest import run_evaluator, tiny, write_clip  # noqa: E402


def test_a_clip_yields_one_record_per_frame_the_first_fresh_the_rest_from_the_flow(model):
    clip = examples.pan_clip(4, (96, 72))
    frames = list(brushwork.iter_stylize_video(
        clip, examples.STARRY_NIGHT, tiny(size=64, steps=8),
        brushwork.VideoSettings(frame_steps=4), model=model))
    assert [f.index for f in frames] == [0, 1, 2, 3] and [f.number for f in frames] == [1, 2, 3, 4]
    assert frames[0].fresh and not any(f.fresh for f in frames[1:])
    assert frames[0].step.step == 8 and all(f.step.step <= 4 for f in frames[1:])
    assert "temporal" in frames[1].step.losses and "temporal" not in frames[0].step.losses
    assert all(f.consistent > 0.8 for f in frames[1:])
    assert all(f.image().size == (64, 48) for f in frames)
    assert all(f.total == 4 for f in frames)


def test_temporal_weight_zero_paints_every_frame_on_its_own(model):
    clip = examples.pan_clip(2, (96, 72))
    frames = list(brushwork.iter_stylize_video(
        clip, examples.STARRY_NIGHT, tiny(size=64, steps=5),
        brushwork.VideoSettings(temporal_weight=0), model=model))
    assert all(f.fresh and f.step.step == 5 for f in frames)


def test_the_temporal_term_cuts_the_warping_error_of_per_frame_stylisation(model):
    clip = examples.pan_clip(5, (128, 96), pan=1.5)
    s = tiny(size=96, steps=30)
    inputs = [np.asarray(im.resize((96, 72))) for im in clip]

    def e_warp(weight):
        v = brushwork.VideoSettings(temporal_weight=weight, frame_steps=15)
        out = [np.asarray(f.image()) for f in brushwork.iter_stylize_video(
            clip, examples.STARRY_NIGHT, s, v, model=model)]
        return flow.warping_error(out, inputs)

    ours, baseline = e_warp(1000), e_warp(0)
    assert ours < baseline / 2, (ours, baseline)


def test_a_scene_cut_starts_afresh(model, photo, scream):
    shot_a = examples.pan_clip(2, (96, 72))
    shot_b = [scream.resize((96, 72))]
    frames = list(brushwork.iter_stylize_video(
        shot_a + shot_b, examples.STARRY_NIGHT, tiny(size=64, steps=4),
        brushwork.VideoSettings(frame_steps=3), model=model))
    assert [f.fresh for f in frames] == [True, False, True]
    assert frames[2].consistent == 0.0


def test_tiled_gradient_with_the_temporal_term_equals_the_whole(model):
    torch.manual_seed(0)
    x = torch.rand(1, 3, 96, 128)
    target, c = torch.rand_like(x), (torch.rand(1, 1, 96, 128) > 0.3).float()
    style = torch.rand(1, 3, 64, 64)
    feats = model(style)
    grams = {k: (lambda f: f[0].flatten(1) @ f[0].flatten(1).T / f[0, 0].numel())(feats[k])
             for k in ("relu1_1", "relu2_1")}
    obj = Objective({}, (Region(grams),), content_weight=0.0, style_weight=10.0,
                    layer_weights={"relu1_1": 0.5, "relu2_1": 0.5}, tv_weight=1.0,
                    statistic=statistic("gram"), as_rgb=lambda t: t,
                    temporal=Temporal(target, c, 500.0))

    def grad(cut):
        terms, g, _ = run_evaluator(model, obj, x.clone().requires_grad_(True), cut)
        return g, terms

    layers = ["relu1_1", "relu2_1"]
    whole_g, whole_t = grad(tiling.cut(128, 96, layers))
    tiled_g, tiled_t = grad(tiling.cut(128, 96, layers, side=48))
    assert len(tiling.cut(128, 96, layers, side=48)) > 1
    assert float(whole_t["temporal"]) == pytest.approx(
        500.0 * float((c * (x - target) ** 2).sum() / x.numel()), rel=1e-5)
    assert float(tiled_t["temporal"]) == pytest.approx(float(whole_t["temporal"]), rel=1e-5)
    assert torch.allclose(tiled_g, whole_g, rtol=1e-3, atol=1e-6)


def test_frame_rate_sound_and_rotation_survive_a_round_trip(tmp_path):
    clip = examples.pan_clip(6, (64, 48))
    src = write_clip(tmp_path / "in.mp4", clip)
    info = videoio.probe(src)
    assert info.rate == Fraction(30000, 1001) and info.frames == 6 and info.audio
    got = [im for _, im in videoio.read_frames(info, 1, 4)]
    assert len(got) == 3
    out = videoio.write_mp4(got, tmp_path / "out.mp4", info.rate, audio=info, start=1,
                            record={"x": 1})
    back = videoio.probe(out)
    assert back.rate == Fraction(30000, 1001) and back.frames == 3 and back.audio
    assert videoio.read_record(out) == {"x": 1}
    import av

    with av.open(str(out)) as c:
        samples = sum(f.samples for f in c.decode(c.streams.audio[0]))
    # three frames of sound (AAC pads to whole 1024-sample frames, and primes one more)
    assert 3 / (30000 / 1001) <= samples / 44100 <= 3 / (30000 / 1001) + 3 * 1024 / 44100
    # a phone's portrait video: stored landscape, shown turned
    import av as _av

    with _av.open(str(tmp_path / "turned.mp4"), "w") as c:
        s = c.add_stream("libx264", rate=24)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.set_display_rotation(90)
        for i, im in enumerate(clip[:2]):
            f = _av.VideoFrame.from_ndarray(np.asarray(im), format="rgb24")
            f.pts = i
            c.mux(s.encode(f))
        c.mux(s.encode(None))
    turned = videoio.probe(tmp_path / "turned.mp4")
    assert turned.size == (48, 64)
    shown = np.asarray(next(videoio.read_frames(turned))[1], np.float32)
    assert shown.shape == (64, 48, 3)
    # turned a quarter counter-clockwise, as FFmpeg shows it: not clockwise, not upside down
    from PIL import Image as _Image

    def off(turn):
        return float(np.abs(shown - np.asarray(clip[0].transpose(turn), np.float32)).mean())

    right, wrong = off(_Image.Transpose.ROTATE_90), off(_Image.Transpose.ROTATE_270)
    assert right < 8 and wrong > 3 * right, (right, wrong)


@pytest.mark.parametrize("mode", ["luminance", "histogram"])
def test_colour_preservation_carries_over_to_later_frames(model, mode):
    clip = examples.pan_clip(2, (96, 72))

    def chroma_gap(preserve):
        """How far the later frame's colours are from its input frame's (YCbCr chroma)."""
        frames = list(brushwork.iter_stylize_video(
            clip, examples.STARRY_NIGHT, tiny(size=64, steps=12, preserve_color=preserve),
            brushwork.VideoSettings(frame_steps=6), model=model))
        assert not frames[1].fresh and frames[1].step.losses["temporal"] > 0
        out = np.asarray(frames[1].image().convert("YCbCr"), np.float32)[..., 1:]
        src = np.asarray(clip[1].resize((64, 48)).convert("YCbCr"), np.float32)[..., 1:]
        if preserve == "histogram":  # the colour statistics, not each pixel's colour
            return float(np.abs(out.mean((0, 1)) - src.mean((0, 1))).sum()
                         + np.abs(out.std((0, 1)) - src.std((0, 1))).sum())
        return float(np.abs(out - src).mean())

    kept, painted = chroma_gap(mode), chroma_gap("none")
    # about half the painted picture's gap for either eye (0.48 through VGG-19, 0.52 through
    # the compressed network at 64 px and 12 steps): well apart from "not kept" (1.0)
    assert kept < 0.6 * painted, (kept, painted)
