"""Make the cheap eye: a compressed VGG-19 (brushwork.eyes), from the bundled Caffe weights and
the bundled pictures, without a training loop. Writes src/brushwork/vgg19_lowrank.pt; prints its
SHA-256 (brushwork.eyes.LOWRANK_SHA256 must match).

    python scripts/make_lowrank_eye.py            # the shipped file
    python scripts/make_lowrank_eye.py --scale 0.5 -o /tmp/half.pt   # half the ranks

Each 3x3 convolution from conv1_2 to conv4_2 of the normalised network becomes a 3x3
convolution to d channels followed by a 1x1 back to the layer's own channels: Zhang et al.'s
low-rank response reconstruction ("Accelerating Very Deep Convolutional Networks for
Classification and Detection", TPAMI 2016), fitted layer by layer in order, each on the inputs
the compressed layers before it give (their asymmetric form, so errors do not pile up), by
reduced-rank least squares: the layer's linear responses to the compressed inputs are fitted
to the original network's responses to the original inputs (ridge), and projected on their
top d principal directions. The data: the bundled photos and paintings at two sizes, in colour
and grey, the example result, each photo blended with each painting, and each photo painted in
each painting through VGG-19 (what the optimiser's pictures look like on the way).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from brushwork import Settings, examples, images, stylize  # noqa: E402
from brushwork.eyes import LOWRANK_FILE, RANKS  # noqa: E402
from brushwork.vgg import vgg_network  # noqa: E402

# Positions per layer the least squares see (sampled evenly from all pictures' positions).
POSITIONS = 60_000
RIDGE = 1e-3  # times the mean diagonal of the inputs' second moments
PAINTED_PX, PAINTED_STEPS = 256, 40  # the painted pictures among the data


def pictures() -> list[torch.Tensor]:
    out = []
    photos = [images.load_image(examples.CONTENT)]
    paintings = [images.load_image(p) for p in examples.STYLES.values()]
    for im in [*photos, *paintings, images.load_image(examples.EXAMPLE_RESULT)]:
        for side in (192, 320):
            t = images.to_tensor(images.resize(im, images.fit_size(*im.size, side)))
            out += [t, t.mean(1, keepdim=True).expand(-1, 3, -1, -1).contiguous()]
    for photo in photos:
        size = images.fit_size(*photo.size, 256)
        a = images.to_tensor(images.resize(photo, size))
        for painting in paintings:
            out.append(0.5 * a + 0.5 * images.to_tensor(images.resize(painting, size)))
            # what the optimiser's pictures are: the photo painted through VGG-19 itself
            settings = Settings(size=PAINTED_PX, steps=PAINTED_STEPS, eye="vgg19", device="cpu")
            out.append(images.to_tensor(stylize(photo, painting, settings)))
    return out


def factor(conv: torch.nn.Conv2d, inputs: list[torch.Tensor], truth: list[torch.Tensor], d: int,
           gen: torch.Generator) -> dict[str, torch.Tensor]:
    """The two convolutions whose composition best reproduces `conv` on the true inputs, given
    the compressed network's inputs, at rank d."""
    cout, cin = conv.weight.shape[:2]
    xs, ys = [], []
    for a, t in zip(inputs, truth):
        xs.append(F.unfold(a, 3, padding=1)[0].T)
        ys.append(F.conv2d(t, conv.weight, conv.bias, padding=1)[0].reshape(cout, -1).T)
    x, y = torch.cat(xs), torch.cat(ys)
    if x.shape[0] > POSITIONS:
        keep = torch.randperm(x.shape[0], generator=gen)[:POSITIONS]
        x, y = x[keep], y[keep]
    x = torch.cat([x.double(), torch.ones(x.shape[0], 1, dtype=torch.float64)], 1)
    y = y.double()
    a = x.T @ x
    a += RIDGE * a.diagonal().mean() * torch.eye(a.shape[0], dtype=a.dtype)
    w = torch.linalg.solve(a, x.T @ y)  # (cin*9 + 1, cout)
    fit = x @ w
    mean = fit.mean(0)
    _, vecs = torch.linalg.eigh((fit - mean).T @ (fit - mean))
    p = vecs[:, -d:]  # (cout, d): the responses' top principal directions
    weight = (p.T @ w[:-1].T).reshape(d, cin, 3, 3)
    return {"reduce.weight": weight.float(), "reduce.bias": (p.T @ (w[-1] - mean)).float(),
            "expand.weight": p.float().reshape(cout, d, 1, 1), "expand.bias": mean.float()}


def build(scale: float) -> dict[str, torch.Tensor]:
    from brushwork import eyes

    vgg = vgg_network("caffe", "avg", ("relu4_2",), "cpu")
    gen = torch.Generator().manual_seed(0)
    truth = [vgg.preprocess(p) for p in pictures()]
    approx = [t.clone() for t in truth]
    state: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for name, module in zip(vgg.names, vgg.body):
            replaced = module
            if name in RANKS:
                d = max(8, round(RANKS[name] * scale))
                parts = factor(module, approx, truth, d, gen)
                state.update({f"{name}.{k}": v for k, v in parts.items()})
                replaced = eyes.Factored(module.in_channels, module.out_channels, d)
                replaced.load_state_dict(parts)
            step = (lambda f, m: torch.relu(f)) if isinstance(module, torch.nn.ReLU) else (
                lambda f, m: m(f))
            truth = [step(t, module) for t in truth]
            approx = [step(a, replaced) for a in approx]
            if name.startswith("relu"):
                cos = torch.stack([F.cosine_similarity(a.flatten(), t.flatten(), dim=0)
                                   for a, t in zip(approx, truth)]).mean()
                print(f"{name}: cosine to VGG-19 {float(cos):.4f}", flush=True)
    return {k: v.half() for k, v in state.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", type=float, default=1.0, help="times the shipped ranks")
    p.add_argument("-o", "--output", default=str(LOWRANK_FILE))
    a = p.parse_args()
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    state = build(a.scale)
    torch.save(state, a.output)
    print(f"wrote {a.output}: sha256 {hashlib.sha256(Path(a.output).read_bytes()).hexdigest()}")


if __name__ == "__main__":
    main()
