import shutil

import pytest
import torch

import brushwork.weights as weights
from brushwork import layers
from brushwork import WeightsError
from brushwork.vgg import VGG19Features


def test_caffe_weights_decode_to_vgg19_shapes():
    w = weights.load_weights("caffe")
    assert w.preprocess.bgr and w.preprocess.scale == 255
    assert len(w.state) == 32
    for name, cin, cout in layers.CONVS:
        assert w.state[f"{name}.weight"].shape == (cout, cin, 3, 3)
        assert w.state[f"{name}.bias"].shape == (cout,)
    # 8-bit quantised: at most 256 distinct values per layer, and not all the same.
    distinct = torch.unique(w.state["conv3_1.weight"]).numel()
    assert 16 < distinct <= 256


def test_activations_are_those_of_a_trained_network(paper_model, photo, painting):
    from brushwork import images

    model = paper_model
    def pooled(t):
        return model(t)["relu5_1"].mean(dim=(2, 3))[0]

    p = images.to_tensor(images.resize(photo, (224, 168)))
    cos = torch.nn.functional.cosine_similarity
    same = cos(pooled(p), pooled(p.flip(3)), dim=0)  # a mirrored photo is the same scene
    noise = cos(pooled(p), pooled(torch.rand_like(p)), dim=0)
    # A trained VGG sees the mirror image as the same scene and noise as something else.
    assert same > 0.9
    assert noise < same - 0.2
    # The paper's normalisation: mean activation of each filter ~1 on natural images.
    acts = model(p)
    for layer in ("relu1_1", "relu3_1", "relu5_1"):
        assert 0.3 < acts[layer].mean() < 3


def test_checksum_mismatch_is_refused(tmp_path, monkeypatch):
    bad = tmp_path / weights.CAFFE_FILE
    shutil.copy(weights.caffe_weights_path(), bad)
    data = bytearray(bad.read_bytes())
    data[-10] ^= 0xFF
    bad.write_bytes(bytes(data))
    monkeypatch.setattr(weights, "caffe_weights_path", lambda: bad)
    with pytest.raises(WeightsError, match="checksum"):
        weights.load_weights("caffe")


class _Evil:
    def __reduce__(self):
        return (print, ("this would run code",))


def test_pickle_that_runs_code_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"features.0.weight": _Evil()}, path)
    with pytest.raises(WeightsError, match="not a loadable"):
        weights.load_weights(str(path))


def test_torchvision_layout_file_loads(tmp_path):
    state = {}
    for (name, cin, cout), idx in zip(layers.CONVS, weights.TORCHVISION_CONV_INDICES):
        state[f"features.{idx}.weight"] = torch.randn(cout, cin, 3, 3) * 0.05
        state[f"features.{idx}.bias"] = torch.zeros(cout)
    path = tmp_path / "vgg.pth"
    torch.save(state, path)
    w = weights.load_weights(str(path))
    assert not w.preprocess.bgr and w.preprocess.scale == 1.0
    net = VGG19Features(w, ["relu4_2"], "max")
    out = net(torch.rand(1, 3, 64, 64))
    assert out["relu4_2"].shape == (1, 512, 8, 8)


def test_wrong_shapes_are_refused(tmp_path):
    state = {f"features.{i}.{p}": torch.zeros(2) for i in weights.TORCHVISION_CONV_INDICES
             for p in ("weight", "bias")}
    path = tmp_path / "small.pth"
    torch.save(state, path)
    with pytest.raises(WeightsError, match="expected"):
        weights.load_weights(str(path))


def test_missing_file_and_offline_torchvision_messages(tmp_path, monkeypatch):
    with pytest.raises(WeightsError, match="no such file"):
        weights.load_weights(str(tmp_path / "nope.pth"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))

    def offline(*a, **k):
        raise OSError("network unreachable")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(WeightsError) as err:
        weights.load_weights("torchvision")
    assert str(tmp_path / "checkpoints" / weights.TORCHVISION_FILE) in str(err.value)


def test_network_is_cut_after_the_deepest_layer():
    net = VGG19Features(weights.load_weights("caffe"), ["relu2_1"], "avg")
    assert net.names[-1] == "relu2_1"
    assert sum(isinstance(m, torch.nn.Conv2d) for m in net.body) == 3


def test_shipped_filter_means_match_a_fresh_computation():
    from brushwork.vgg import FILTER_MEANS_FILE, reference_images
    from brushwork.vgg import LAYER_NAMES

    shipped = torch.load(FILTER_MEANS_FILE, weights_only=True)
    net = VGG19Features(weights.load_weights("caffe"), [LAYER_NAMES[-1]], "avg")
    fresh = net.filter_means(reference_images())
    for conv, mean in fresh.items():
        assert torch.allclose(shipped[f"avg/{conv}"], mean, rtol=1e-3), conv


def test_safetensors_weights_load_like_the_same_state_dict(tmp_path):
    from safetensors.torch import save_file

    caffe = weights.load_weights("caffe").state
    path = tmp_path / "vgg19.safetensors"
    save_file({k: v.contiguous() for k, v in caffe.items()}, str(path))  # our own key layout
    loaded = weights.load_weights(str(path))
    assert loaded.source == str(path) and loaded.preprocess == weights.IMAGENET
    assert all(torch.equal(loaded.state[k], caffe[k]) for k in caffe)


def test_safetensors_without_the_package_is_a_clear_error(tmp_path, monkeypatch):
    import sys

    path = tmp_path / "vgg19.safetensors"
    path.write_bytes(b"\x00" * 16)
    monkeypatch.setitem(sys.modules, "safetensors.torch", None)
    with pytest.raises(WeightsError, match="pip install safetensors"):
        weights.load_weights(str(path))
