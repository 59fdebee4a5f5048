import math

import pytest

from brushwork import InputError, Settings
from brushwork.settings import PAPER_STYLE_LAYERS


def test_defaults_are_the_papers_layers_and_valid():
    s = Settings()
    assert s.style_layers == PAPER_STYLE_LAYERS and s.content_layers == ("relu4_2",)
    assert s.optimizer == "lbfgs" and s.learning_rate == 1.0
    assert Settings(optimizer="adam").learning_rate == 0.02


@pytest.mark.parametrize("name,value", [
    ("style_weight", math.nan), ("content_weight", -1.0), ("tv_weight", math.inf),
    ("steps", 0), ("size", 8), ("lr", 0.0), ("style_scale", -2.0), ("seed", -1),
    ("optimizer", "sgd"), ("pooling", "min"), ("preserve_color", "sepia"),
    ("device", "tpu"), ("style_layers", ("conv9_9",)), ("steps", 2.5), ("size", "big"),
])
def test_bad_values_are_refused_naming_the_option(name, value):
    with pytest.raises(InputError) as err:
        Settings(**{name: value})
    assert err.value.what == "--" + name.replace("_", "-")
    assert err.value.fix


def test_layer_weights_must_match_layers():
    with pytest.raises(InputError, match="style-layer-weights"):
        Settings(style_layer_weights=(1.0, 2.0))


def test_round_trip_through_dict():
    s = Settings(size=300, style_blend=(0.7, 0.3), preserve_color="luminance", lr=0.5)
    assert Settings.from_dict(s.to_dict()) == s
    assert Settings.from_dict({**s.to_dict(), "unknown_future_key": 1}) == s


def test_a_record_from_before_style_norm_keeps_its_meaning():
    from brushwork import Settings

    old = {"size": 256, "style_weight": 25.0, "style_layer_weights": [], "tv_weight": 0.0}
    s = Settings.from_dict(old)
    assert s.style_norm == "paper" and s.style_layer_weights == (1.0,) * 5
    assert s.style_weight == 25 and s.tv_weight == 0
    new = Settings.from_dict(Settings().to_dict())
    assert new == Settings()  # a current record round-trips unchanged
