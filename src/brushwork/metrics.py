"""Quality metrics that are not our loss: Wang et al. 2021 and the neural-style yardstick.

Wang, Zhao, Chen, Zuo, Li, Xing and Lu, "Evaluate and improve the quality of neural style
transfer", CVIU 207 (2021), score a stylised picture three ways, each in [0, 1], higher better:

* content fidelity CF: the cosine similarity of the picture's and the photo's feature maps at
  relu4_1 and relu5_1, averaged over the two layers;
* global effects GE: half colour (the cosine similarity of the picture's and the painting's
  per-channel colour histograms, averaged over R, G, B) and half holistic texture (the cosine
  similarity of their Gram matrices at relu2_1 ... relu5_1, averaged);
* local patterns LP: half LP1, the mean cosine similarity of each 3x3 patch of the picture's
  features to its nearest (by cosine) patch of the painting's, and half LP2, how many distinct
  painting patches are somebody's nearest over how many the painting's own patches pick (its
  diversity: a picture that repeats one stroke scores low), at relu3_1 and relu4_1, averaged.

Choices the paper leaves open, made here (the authors' TensorFlow code agrees on the first three):
the original Caffe VGG-19 (the bundled one, no filter normalisation) with *average* pooling, as
their code has; the photo resized to the picture's exact size; the picture and the painting with
their longer side at `size` (512 px); histograms of 128 bins over the fixed range [0, 1] (their
code lets matplotlib fit the bins to each image's own range, which makes two images' bins differ);
patches taken with stride 1 and no padding.

`yardstick` is the distance pair of ../shared/reference/README.md (max pooling, lower is closer):
it measures the statistic the Gram loss minimises, so it flatters that loss; the three above do not.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from PIL import Image

from . import images
from .losses import gram
from .vgg import VGG19Features
from .weights import load_weights

CONTENT_LAYERS = ("relu4_1", "relu5_1")
GLOBAL_LAYERS = ("relu2_1", "relu3_1", "relu4_1", "relu5_1")
LOCAL_LAYERS = ("relu3_1", "relu4_1")
YARDSTICK_STYLE = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
YARDSTICK_CONTENT = "relu4_2"
BINS = 128
SIZE = 512
# Rows of the patch-similarity matrix computed at once: bounds LP's memory (a 512 px painting has
# about 16,000 patches at relu3_1).
CHUNK = 2048


@dataclass(frozen=True)
class Scores:
    """Wang et al.'s three scores with their halves, and the yardstick's two distances."""

    cf: float
    ge: float
    lp: float
    colour: float  # GE's histogram half
    texture: float  # GE's Gram half
    lp1: float
    lp2: float
    style_dist: float
    content_dist: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


class Scorer:
    """The networks the scores read, loaded once (the bundled Caffe VGG-19, unnormalised)."""

    def __init__(self, device: torch.device | str = "cpu") -> None:
        weights = load_weights("caffe")
        self.device = torch.device(device)
        self.wang = VGG19Features(
            weights, [*CONTENT_LAYERS, *GLOBAL_LAYERS, *LOCAL_LAYERS], "avg").to(self.device)
        self.ruler = VGG19Features(
            weights, [*YARDSTICK_STYLE, YARDSTICK_CONTENT], "max").to(self.device)

    @torch.no_grad()
    def score(self, picture: Image.Image, photo: Image.Image, painting: Image.Image,
              size: int = SIZE) -> Scores:
        """All scores of `picture`, a stylisation of `photo` in the style of `painting`."""
        shape = images.fit_size(*picture.size, size)
        out = self._tensor(picture, shape)
        cont = self._tensor(photo, shape)
        style = self._tensor(painting, images.fit_size(*painting.size, size))
        fo, fc, fs = self.wang(out), self.wang(cont), self.wang(style)
        cf = _mean(_cosine(fo[k], fc[k]) for k in CONTENT_LAYERS)
        colour = _mean(_cosine(_histogram(out[0, c]), _histogram(style[0, c])) for c in range(3))
        texture = _mean(_cosine(gram(fo[k]), gram(fs[k])) for k in GLOBAL_LAYERS)
        parts = [local_patterns(fo[k], fs[k]) for k in LOCAL_LAYERS]
        lp1, lp2 = _mean(p[0] for p in parts), _mean(p[1] for p in parts)
        style_dist, content_dist = self._yardstick(out, cont, style)
        return Scores(cf=cf, ge=(colour + texture) / 2, lp=(lp1 + lp2) / 2, colour=colour,
                      texture=texture, lp1=lp1, lp2=lp2, style_dist=style_dist,
                      content_dist=content_dist)

    def _yardstick(self, out: torch.Tensor, cont: torch.Tensor,
                   style: torch.Tensor) -> tuple[float, float]:
        fo, fc, fs = self.ruler(out), self.ruler(cont), self.ruler(style)
        k = YARDSTICK_CONTENT
        content = float(((fo[k] - fc[k]) ** 2).mean() / (fc[k] ** 2).mean())
        style_dist = _mean(float(((gram(fo[k]) - gram(fs[k])) ** 2).sum()
                                 / (gram(fs[k]) ** 2).sum()) for k in YARDSTICK_STYLE)
        return style_dist, content

    def _tensor(self, im: Image.Image, shape: tuple[int, int]) -> torch.Tensor:
        return images.to_tensor(images.resize(im.convert("RGB"), shape), self.device)


def local_patterns(picture: torch.Tensor, painting: torch.Tensor) -> tuple[float, float]:
    """LP1 and LP2 at one layer, from (1, C, H, W) feature maps."""
    p, s = _patches(picture), _patches(painting)
    best_sim, best = _nearest(p, s)
    # The painting's own patches pick themselves unless two are identical (a flat area).
    own = _nearest(s, s)[1]
    return float(best_sim.mean()), len(torch.unique(best)) / len(torch.unique(own))


def _patches(f: torch.Tensor) -> torch.Tensor:
    """Every 3x3 patch of a (1, C, H, W) map as a unit row (stride 1, no padding)."""
    rows = F.unfold(f.float(), 3).squeeze(0).T  # (positions, C*9)
    return rows / rows.norm(dim=1, keepdim=True).clamp_min(1e-12)


def _nearest(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For each row of `a`, the largest cosine similarity to a row of `b`, and which row."""
    sims, idx = [], []
    for i in range(0, len(a), CHUNK):
        s, j = (a[i:i + CHUNK] @ b.T).max(dim=1)
        sims.append(s)
        idx.append(j)
    return torch.cat(sims), torch.cat(idx)


def _histogram(channel: torch.Tensor) -> torch.Tensor:
    return torch.histc(channel.float(), bins=BINS, min=0.0, max=1.0)


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.flatten().double(), b.flatten().double()
    den = float(a.norm() * b.norm())
    return float(a @ b) / den if den > 0 else 0.0


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)
