"""Help texts of the generated config forms come from the config docstrings."""

from __future__ import annotations

import dataclasses

from recsys_engine.models import list_models
from recsys_engine.models.keras_config import KerasTrainConfig
from recsys_engine.models.neumf import NeuMFConfig
from ui.config_form import field_help


def test_inherited_settings_keep_their_help():
    helps = field_help(NeuMFConfig)
    assert helps["epochs"].startswith("maximum passes")  # declared on KerasTrainConfig
    assert helps["factors"].startswith("GMF embedding size")  # declared on NeuMFConfig


def test_a_subclass_description_wins_and_markup_is_simplified():
    base = field_help(KerasTrainConfig)["batch_size"]
    own = field_help(NeuMFConfig)["batch_size"]
    assert base != own and own.startswith("examples per step; 0 = automatic")
    assert "``" not in own and "`softmax`" in own


def test_every_model_setting_has_help():
    for spec in list_models():
        cls = spec.config_class
        missing = {f.name for f in dataclasses.fields(cls)} - set(field_help(cls))
        assert not missing, f"{cls.__name__} fields without help: {sorted(missing)}"
