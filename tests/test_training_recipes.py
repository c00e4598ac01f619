"""Recipes for every registered model, and the learning-rate schedules they use."""

import pytest

import cnnzoo
from cnnzoo.data import list_augment_presets
from cnnzoo.models.compile import OPTIMIZERS
from cnnzoo.training import get_recipe, make_schedule
from cnnzoo.training.evaluate import TEST_TIME_AUGMENTATIONS


@pytest.mark.parametrize("name", cnnzoo.list_models())
def test_every_model_has_a_recipe_the_library_accepts(name):
    recipe = get_recipe(name)
    assert recipe.optimizer in OPTIMIZERS
    assert recipe.augment is None or recipe.augment in list_augment_presets()
    assert recipe.epochs >= 1 and recipe.batch_size >= 1 and 0 <= recipe.label_smoothing < 1
    assert recipe.tta in TEST_TIME_AUGMENTATIONS
    make_schedule(recipe.schedule, recipe.learning_rate, epochs=recipe.epochs,
                  steps_per_epoch=10, warmup_epochs=recipe.warmup_epochs)


def test_flags_override_the_recipe_and_unset_flags_do_not():
    recipe = get_recipe("mnist_cnn").replace(epochs=3, batch_size=None, augment="none")
    assert (recipe.epochs, recipe.augment) == (3, "none")
    assert recipe.batch_size == get_recipe("mnist_cnn").batch_size


def test_unknown_model_suggests_names():
    with pytest.raises(ValueError, match="did you mean 'mnist_cnn'"):
        get_recipe("mnist_cn")


def test_cosine_warms_up_then_decays_to_zero():
    lr = make_schedule("cosine", 0.1, epochs=4, steps_per_epoch=10, warmup_epochs=1)
    values = [float(lr(step)) for step in (0, 5, 10, 25, 40)]
    assert values[0] == 0.0 and values[1] == pytest.approx(0.05)
    assert values[2] == pytest.approx(0.1) and values[2] > values[3] > values[4]
    assert values[4] == pytest.approx(0.0, abs=1e-7)


def test_step_divides_by_ten_at_half_and_three_quarters():
    lr = make_schedule("step", 0.1, epochs=4, steps_per_epoch=10)
    assert [float(lr(s)) for s in (0, 20, 21, 31)] == pytest.approx([0.1, 0.1, 0.01, 0.001])
    assert make_schedule("constant", 0.1, epochs=4, steps_per_epoch=10) == 0.1


@pytest.mark.parametrize("kwargs, message", [
    ({"schedule": "linear"}, "schedule must be one of"),
    ({"learning_rate": 0}, "learning_rate must be a positive number"),
    ({"warmup_epochs": 4}, "warmup_epochs must be >= 0 and below epochs=4"),
    ({"schedule": "step", "warmup_epochs": 1}, "warmup_epochs applies to schedule='cosine'"),
])
def test_bad_schedules_are_refused(kwargs, message):
    settings = {"schedule": "cosine", "learning_rate": 0.1, **kwargs}
    with pytest.raises(ValueError, match=message):
        make_schedule(settings.pop("schedule"), settings.pop("learning_rate"), epochs=4,
                      steps_per_epoch=10, **settings)
