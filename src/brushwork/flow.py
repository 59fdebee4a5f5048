"""Optical flow between video frames, Ruder et al.'s consistency weights, warping, and the
warping error of Lai et al. (the standard measure of flicker).

Flow is computed on the *input* frames (the photo sequence, not the stylised pictures) with
OpenCV's DIS; the measure uses Farneback's method, a different one, so that it does not reward a
picture for agreeing with the very flow it was made with. Flows are (H, W, 2) float32 arrays of
(dx, dy) in pixels; `a -> b` means a(p) ~ b(p + flow(p)). OpenCV is imported where used
(pip install 'brushwork[video]').
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from . import optional

# Ruder et al.'s forward-backward check (their consistencyChecker): a pixel is disoccluded when
# its flow and the flow back from where it lands do not cancel to within this much ...
FB_RELATIVE, FB_ABSOLUTE = 0.01, 0.5
# ... and on a motion boundary when the flow's gradient is large next to the flow itself.
MB_RELATIVE, MB_ABSOLUTE = 0.01, 0.002
# "Slightly blurred": a 3x3 Gaussian, so the temporal term fades in at an occlusion's edge
# instead of switching on at a hard line the style would trace.
BLUR_SIGMA = 0.8


def _cv2():
    return optional.require("cv2", "video", "video")


def grey(frame: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (H, W) uint8 luminance, what the flow methods read."""
    return _cv2().cvtColor(np.ascontiguousarray(frame), _cv2().COLOR_RGB2GRAY)


def dis_flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Flow a -> b of two greyscale uint8 frames with DIS, preset MEDIUM, refined down to the
    full resolution.

    Why: on the bundled pan and zoom at 256x192, whose true flow is known, the mean end-point
    error is 0.21 px for ULTRAFAST, 0.11 for FAST, 0.085 for MEDIUM and 0.037 for MEDIUM at
    finest scale 0 (MEDIUM stops at half resolution), for 0.5, 1.3, 8 and 17 ms. Every later
    frame starts from the previous one warped, so a tenth of a pixel of error smears brushwork
    that is a few pixels wide; 17 ms is under 1% of a frame's painting on this CPU
    (benchmarks/video.py). Ruder et al.'s DeepFlow took about 20 s a frame."""
    cv2 = _cv2()
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    dis.setFinestScale(0)
    return dis.calc(a, b, None)


def farneback_flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Flow a -> b with Farneback's method: the measuring stick, not used by the loss."""
    return _cv2().calcOpticalFlowFarneback(a, b, None, 0.5, 4, 21, 3, 7, 1.5, 0)


def _sample(values: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """values(p + flow(p)), bilinear, edge pixels repeated outside."""
    cv2 = _cv2()
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(values, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def consistency(backward: np.ndarray, forward: np.ndarray, blur: bool = True) -> np.ndarray:
    """Ruder et al.'s per-pixel weights c for frame t, (H, W) float32 in [0, 1].

    `backward` is the flow from frame t to the other frame (t-1 in the loss), `forward` the flow
    from the other frame back to t. c is 0 where the two do not cancel (the pixel is hidden in
    the other frame), on motion boundaries, and where the flow leaves the frame; 1 elsewhere;
    then slightly blurred."""
    cv2 = _cv2()
    h, w = backward.shape[:2]
    there = _sample(forward, backward)  # the forward flow where each pixel came from
    total = backward + there
    bad = (total ** 2).sum(-1) > FB_RELATIVE * ((backward ** 2).sum(-1) + (there ** 2).sum(-1)) \
        + FB_ABSOLUTE
    du = np.gradient(backward[..., 0])
    dv = np.gradient(backward[..., 1])
    grad2 = du[0] ** 2 + du[1] ** 2 + dv[0] ** 2 + dv[1] ** 2
    bad |= grad2 > MB_RELATIVE * (backward ** 2).sum(-1) + MB_ABSOLUTE
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    x, y = gx + backward[..., 0], gy + backward[..., 1]
    bad |= (x < 0) | (x > w - 1) | (y < 0) | (y > h - 1)
    c = (~bad).astype(np.float32)
    if blur:
        c = cv2.GaussianBlur(c, (3, 3), BLUR_SIGMA, borderType=cv2.BORDER_REPLICATE)
    return c


def warp(picture: torch.Tensor, flow: np.ndarray) -> torch.Tensor:
    """picture(p + flow(p)) for a (1, C, H, W) tensor: the previous frame's picture brought to
    where each pixel of this frame came from (`flow` is this frame -> the previous one).

    Bicubic, not bilinear: each frame starts from the last one warped, so the interpolation's
    blur compounds from frame to frame; on a sub-pixel pan bicubic's error is a quarter lower
    (tests/test_flow.py) and the brushwork stays crisp."""
    h, w = flow.shape[:2]
    f = torch.from_numpy(np.ascontiguousarray(flow)).to(picture.device, torch.float32)
    gy, gx = torch.meshgrid(torch.arange(h, device=picture.device, dtype=torch.float32),
                            torch.arange(w, device=picture.device, dtype=torch.float32),
                            indexing="ij")
    # grid_sample's coordinates: -1 and 1 are the centres of the edge pixels (align_corners).
    grid = torch.stack([(gx + f[..., 0]) / max(w - 1, 1) * 2 - 1,
                        (gy + f[..., 1]) / max(h - 1, 1) * 2 - 1], dim=-1)[None]
    return torch.nn.functional.grid_sample(picture, grid, mode="bicubic", padding_mode="border",
                                           align_corners=True)


def warping_error(outputs: Sequence[np.ndarray], inputs: Sequence[np.ndarray],
                  flows: Sequence[tuple[np.ndarray, np.ndarray]] | None = None) -> float:
    """Lai et al.'s E_warp over a clip: the mean of `warping_errors`."""
    errors = warping_errors(outputs, inputs, flows)
    return float(np.mean(errors)) if errors else 0.0


def warping_errors(outputs: Sequence[np.ndarray], inputs: Sequence[np.ndarray],
                   flows: Sequence[tuple[np.ndarray, np.ndarray]] | None = None) -> list[float]:
    """Lai et al.'s warping error of each pair of frames t, t+1: E_warp is their mean,
    mean_t sum_p M_t ||O_t - W(O_{t+1})||^2 / sum_p M_t.

    `outputs` are the frames to judge and `inputs` the input frames they were made from, both
    (H, W, 3) uint8 RGB of one size. Flow t -> t+1 and the non-occlusion mask M_t come from the
    input frames with Farneback's method, or from `flows` (for each t, the flows t -> t+1 and
    t+1 -> t: a synthetic clip's true motion); ||.||^2 sums the RGB channels in [0, 1]."""
    errors = []
    for t in range(len(outputs) - 1):
        if flows is not None:
            ahead, back = flows[t]
        else:
            a, b = grey(inputs[t]), grey(inputs[t + 1])
            ahead, back = farneback_flow(a, b), farneback_flow(b, a)
        mask = consistency(ahead, back, blur=False)
        o_t = outputs[t].astype(np.float32) / 255
        o_next = _sample(outputs[t + 1].astype(np.float32) / 255, ahead)
        err = ((o_t - o_next) ** 2).sum(-1)
        errors.append(float((mask * err).sum() / max(mask.sum(), 1.0)))
    return errors
