"""Optical flow, Ruder's consistency weights, warping and the warping error (brushwork.flow)."""

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("cv2")
from brushwork import examples, flow, images  # noqa: E402


def _pan(shift: float):
    """Two frames of a pan whose true motion is known: frame 1 is frame 0 moved `shift` px left."""
    a, b = examples.pan_clip(2, (320, 240), pan=shift, zoom=0.0)
    return np.asarray(a), np.asarray(b)


def test_dis_flow_of_a_pan_is_the_known_shift_and_warping_reproduces_the_frame():
    a, b = _pan(2.5)
    back = flow.dis_flow(flow.grey(b), flow.grey(a))  # frame 1 -> frame 0
    inner = back[10:-10, 10:-10]
    assert np.median(inner[..., 0]) == pytest.approx(2.5, abs=0.15)
    assert np.median(inner[..., 1]) == pytest.approx(0.0, abs=0.15)
    warped = flow.warp(images.to_tensor(Image.fromarray(a)), back)
    got = warped[0].permute(1, 2, 0).numpy() * 255
    assert np.abs(got[5:-5, 5:-10] - b[5:-5, 5:-10]).mean() < 3.0  # of 255
    # and it is the warp that does it: the frames themselves differ by far more
    assert np.abs(a[5:-5, 5:-10].astype(float) - b[5:-5, 5:-10]).mean() > 3 * 3.0


def test_consistency_is_zero_where_the_flow_leaves_the_frame_and_one_inside():
    a, b = _pan(3.0)
    c = flow.consistency(flow.dis_flow(flow.grey(b), flow.grey(a)),
                         flow.dis_flow(flow.grey(a), flow.grey(b)))
    assert c.shape == a.shape[:2] and c.dtype == np.float32
    assert c[:, -2:].mean() < 0.1  # these pixels come from beyond frame 0's right edge
    assert c[10:-10, 10:-10].mean() > 0.9


def test_consistency_is_zero_on_a_disoccluded_region():
    """A textured square moves right over a still background: in the new frame, the strip it
    uncovered was hidden before, and the forward-backward check says so."""
    photo = np.asarray(images.load_image(examples.CONTENT).resize((160, 120)))
    patch = np.asarray(images.load_image(examples.STARRY_NIGHT).resize((40, 40)))
    before, now = photo.copy(), photo.copy()
    before[40:80, 40:80] = patch
    now[40:80, 52:92] = patch  # moved 12 px right
    back = flow.dis_flow(flow.grey(now), flow.grey(before))
    ahead = flow.dis_flow(flow.grey(before), flow.grey(now))
    c = flow.consistency(back, ahead)
    uncovered = c[44:76, 42:50]  # background in `now`, under the square in `before`
    assert uncovered.mean() < 0.3
    assert c[5:30, 5:150].mean() > 0.9  # the still background far from the square


def test_warping_error_is_small_for_smooth_motion_and_large_for_flicker():
    frames = [np.asarray(im) for im in examples.pan_clip(4, (128, 96), pan=1.5)]
    smooth = flow.warping_error(frames, frames)
    rng = np.random.default_rng(0)
    flicker = [np.clip(f.astype(int) + rng.integers(-40, 41, size=(1, 1, 3)), 0, 255).astype(np.uint8)
               for f in frames]
    assert smooth < 0.005
    assert flow.warping_error(flicker, frames) > 5 * smooth
