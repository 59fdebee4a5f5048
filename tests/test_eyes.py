"""The cheap eye: a compressed VGG-19 that the coarse scales look through (brushwork.eyes)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

import brushwork
from brushwork import eyes, images
from brushwork.errors import WeightsError

from conftest import PAINTED, moved_from_photo


def macs(network, h: int, w: int) -> int:
    """Multiply-accumulates of the network's convolutions for an h x w picture."""
    total, scale = 0, 1
    for module in network.body.modules():
        if isinstance(module, torch.nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1]
            total += module.in_channels * module.out_channels * k * (h // scale) * (w // scale)
        elif isinstance(module, (torch.nn.AvgPool2d, torch.nn.MaxPool2d)):
            scale *= 2
    return total


def test_the_compressed_network_sees_what_vgg19_sees_at_half_the_cost(photo):
    both = brushwork.load_model(brushwork.Settings(eye="lowrank"), "cpu")
    assert set(both) == {"vgg19", "lowrank"}
    x = images.to_tensor(images.resize(photo, images.fit_size(*photo.size, 192)))
    with torch.no_grad():
        seen, cheap = both["vgg19"](x), both["lowrank"](x)
    assert set(seen) == set(cheap)
    for layer in seen:
        cos = F.cosine_similarity(seen[layer].flatten(), cheap[layer].flatten(), dim=0)
        assert cos > 0.95, (layer, float(cos))
    assert macs(both["lowrank"], 384, 512) < 0.45 * macs(both["vgg19"], 384, 512)


def test_a_default_run_looks_through_the_cheap_eye_then_vgg19(photo, painting):
    """The coarse scale through the compressed network, the full size through VGG-19: both are
    used, the picture is painted, and --eye vgg19 (0.7's picture) is another picture."""
    settings = brushwork.Settings(size=96, steps=10, scales=2, fine_steps=4, device="cpu")
    both = brushwork.load_model(settings, "cpu")
    calls = {"vgg19": 0, "lowrank": 0}

    def counted(name):
        network = both[name]

        def forward(image, _real=network.forward):
            calls[name] += 1
            return _real(image)
        network.forward = forward
        return network

    spied = eyes.Eyes({name: counted(name) for name in both})
    steps = list(brushwork.iter_stylize(photo, painting, settings, model=spied))
    assert [(st.size, st.scale) for st in steps][0][0] == (48, 36)
    assert calls["lowrank"] >= 6 and calls["vgg19"] >= 4  # targets and steps, each eye
    picture = steps[-1].best_image()
    assert picture.size == (96, 72) and moved_from_photo(picture, photo) > PAINTED
    other = brushwork.stylize(photo, painting, settings.replace(eye="vgg19"))
    assert other.tobytes() != picture.tobytes()


def test_a_damaged_eye_file_is_one_line_with_the_fix(tmp_path, monkeypatch):
    bad = tmp_path / "eye.pt"
    bad.write_bytes(eyes.LOWRANK_FILE.read_bytes()[:-10] + b"0123456789")
    monkeypatch.setattr(eyes, "LOWRANK_FILE", bad)
    try:
        eyes.read_lowrank()
    except WeightsError as e:
        assert "SHA-256 mismatch" in str(e) and "--eye vgg19" in str(e) and "\n" not in str(e)
    else:
        raise AssertionError("a damaged file was read")
