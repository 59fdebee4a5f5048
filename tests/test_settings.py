import math

import pytest

from brushwork import InputError, Settings
from brushwork.settings import PAPER_STYLE_LAYERS


def test_defaults_are_the_papers_layers_less_relu5_1_and_valid():
    s = Settings()
    assert s.style_layers == PAPER_STYLE_LAYERS[:4] and s.content_layers == ("relu4_2",)
    assert Settings.from_preset("paper").style_layers == PAPER_STYLE_LAYERS
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
    s = Settings.from_record(old)
    assert s.style_norm == "paper" and s.style_layer_weights == (1.0,) * 5
    assert s.style_weight == 25 and s.tv_weight == 0
    new = Settings.from_record(Settings().to_dict())
    assert new == Settings()  # a current record round-trips unchanged


@pytest.mark.parametrize("typed", [{"size": 300}, {"steps": 7}, {"seed": 3}, {"tv_weight": 0.0}])
def test_typed_options_change_only_themselves(typed):
    """A partial dict of options is not an old record: every field it does not name keeps
    today's default (0.4.0 read it as a record from before style_norm, the paper's objective)."""
    s = Settings().with_options(typed)
    for name, default in Settings().to_dict().items():
        assert s.to_dict()[name] == typed.get(name, default), name
    assert Settings.from_dict(typed) == s


@pytest.mark.parametrize("key, near", [("sise", "size"), ("style_wieght", "style_weight")])
def test_a_misspelt_setting_is_refused_with_the_nearest_name(key, near):
    with pytest.raises(InputError, match=f"unknown setting '{key}'; did you mean '{near}'"):
        Settings().with_options({key: 1})


@pytest.mark.parametrize("record", [[1, 2], "text", {"size": "big"}, {"device": 3},
                                    {"style_layers": "relu1_1"}, {"optimizer": ["lbfgs"]}])
def test_a_damaged_record_is_one_input_error(record):
    with pytest.raises(InputError, match="has damaged brushwork settings"):
        Settings.from_record(record, "x.png")


def test_a_record_of_0_6_still_means_what_it_meant():
    """A record written by 0.6 names every field it had, and none of 0.7's schedule: it is
    planned and painted as 0.6 did (130 steps as 64/39/27 at 512 px, from the photo), however
    today's defaults changed."""
    from brushwork import plan_scales

    record_0_6 = {k: v for k, v in Settings().to_dict().items()
                  if k not in ("fine_steps", "step_decay", "parameterization", "average", "eye",
                               "judge_steps", "curvature")}
    record_0_6.update(steps=130, init="content")  # 0.6's defaults, as its records hold them
    s = Settings.from_record(record_0_6)
    assert (s.fine_steps, s.step_decay, s.parameterization, s.average) == (None, 0.6, "pixels", 0)
    assert [sc.steps for sc in plan_scales(512, 384, s)] == [64, 39, 27]
    assert Settings.from_record(Settings().to_dict()) == Settings()  # today's round-trips


def test_a_record_of_0_8_starts_lbfgs_afresh_at_each_scale():
    """A 0.8 record has no curvature: its L-BFGS starts afresh at every scale, as 0.8's did;
    today's carries what it learnt from scale to scale."""
    record_0_8 = {k: v for k, v in Settings().to_dict().items() if k != "curvature"}
    assert Settings.from_record(record_0_8).curvature == "fresh"
    assert Settings.from_record(record_0_8).replace(curvature="carried") == Settings()
    assert Settings().curvature == "carried"


def test_a_record_of_0_7_still_means_its_picture_every_step_through_vgg19():
    """A 0.7 record has no eye: it is painted as 0.7 did, VGG-19 at every step; today's
    default looks through the compressed network for all but the last full-size steps."""
    from brushwork import plan_scales

    record_0_7 = {k: v for k, v in Settings().to_dict().items()
                  if k not in ("eye", "judge_steps", "curvature")}
    old = Settings.from_record(record_0_7)
    assert old.eye == "vgg19" and {sc.eye for sc in plan_scales(512, 384, old)} == {"vgg19"}
    now = plan_scales(512, 384, Settings())
    assert [sc.eye for sc in now][-1] == "vgg19" and now[-1].steps == Settings().judge_steps
    assert {sc.eye for sc in now[:-1]} == {"lowrank"}
    assert sum(sc.steps for sc in now) == Settings().steps
    # the paper's layers (relu5_1) are beyond the compressed network: VGG-19 throughout
    paper = Settings().with_options({"preset": "paper"})
    assert paper.eye_used == "vgg19" and {sc.eye for sc in plan_scales(512, 384, paper)} == {
        "vgg19"}
