"""cnnzoo.fit: learning on real data, the run directory, resume, and refusing bad input."""

import csv
import json
import os
import stat

import keras
import numpy as np
import pytest

import cnnzoo
from cnnzoo.data import load_dataset


def _digits(split="train", **kwargs):
    kwargs.setdefault("batch_size", 64)
    return load_dataset("digits", split, **kwargs)


def _tiny_arrays(n=64, shape=(8, 8, 1), classes=3, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n).astype("int32")
    # Each class a different brightness, so a tiny model can learn it in a few steps.
    images = (labels[:, None, None, None] * 80 + rng.uniform(0, 40, (n,) + shape))
    return images.astype("float32"), labels


def _history_rows(workdir):
    with open(workdir / "history.csv", newline="") as file:
        return list(csv.DictReader(file))


def test_fit_learns_digits_and_fills_the_workdir(tmp_path):
    train, test = _digits(), _digits("test", batch_size=256)
    history = cnnzoo.fit("tutorial_5x5", train, test, epochs=12, workdir=tmp_path,
                         schedule="cosine", learning_rate=3e-3, verbose=0)
    # 12 epochs x 23 steps = 276 steps; chance is 10%.
    assert history.history["val_accuracy"][-1] > 0.85
    assert {"run.json", "best.keras", "last.keras", "history.csv", "backup"} <= {
        p.name for p in tmp_path.iterdir()}
    assert [row["epoch"] for row in _history_rows(tmp_path)] == [str(i) for i in range(1, 13)]
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["model"] == "tutorial_5x5" and run["status"] == "finished"
    assert run["dataset"] == "digits" and run["input_shape"] == [8, 8, 1]
    assert run["finished_epochs"] == 12 and run["versions"]["keras"] == keras.__version__
    best = keras.saving.load_model(tmp_path / "best.keras")
    result = cnnzoo.evaluate(best, test)
    assert result["accuracy"] == pytest.approx(max(history.history["val_accuracy"]), abs=1e-6)


class _Interrupt(keras.callbacks.Callback):
    """Raises in the middle of epoch 2, as a killed process would stop."""

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == 1 and batch == 2:
            raise KeyboardInterrupt

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch


def test_resume_after_an_interrupt_continues_from_the_last_finished_epoch(tmp_path):
    x, y = _tiny_arrays()
    settings = dict(epochs=3, workdir=tmp_path, batch_size=16, verbose=0)
    with pytest.raises(KeyboardInterrupt):
        cnnzoo.fit("tutorial_5x5", (x, y), num_classes=3, callbacks=[_Interrupt()], **settings)
    assert [row["epoch"] for row in _history_rows(tmp_path)] == ["1"]
    after_one_epoch = keras.saving.load_model(tmp_path / "last.keras").get_weights()

    history = cnnzoo.fit("tutorial_5x5", (x, y), num_classes=3, **settings)
    assert history.epoch == [1, 2]            # epochs 2 and 3, not 1 again
    assert [row["epoch"] for row in _history_rows(tmp_path)] == ["1", "2", "3"]
    assert json.loads((tmp_path / "run.json").read_text())["status"] == "finished"
    final = keras.saving.load_model(tmp_path / "last.keras").get_weights()
    assert any(not np.array_equal(a, b) for a, b in zip(after_one_epoch, final))

    again = cnnzoo.fit("tutorial_5x5", (x, y), num_classes=3, **settings)
    assert again.epoch == []                  # a finished run trains nothing more


def test_fit_takes_a_compiled_model_and_arrays(tmp_path):
    x, y = _tiny_arrays()
    model = cnnzoo.build("tutorial_5x5", input_shape=(8, 8, 1), num_classes=3)
    history = cnnzoo.fit(model, (x, y), (x, y), epochs=2, workdir=tmp_path, batch_size=16,
                         verbose=0)
    assert history.model is model and len(history.history["loss"]) == 2


def test_run_files_get_the_umask_permissions_not_private_ones(tmp_path):
    x, y = _tiny_arrays()
    old_umask = os.umask(0o027)
    try:
        cnnzoo.fit("tutorial_5x5", (x, y), (x, y), num_classes=3, epochs=1, workdir=tmp_path,
                   batch_size=16, verbose=0)
    finally:
        os.umask(old_umask)
    for name in ("run.json", "best.keras", "last.keras", "history.csv"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o640, name


@pytest.mark.parametrize("labels, message", [
    (np.full(64, 3), r"labels outside \[0, 3\)"),
    (np.full(64, -1), r"train labels must be >= 0"),
    (np.full(64, 0.5), r"train labels must be whole-number class ids; received 0.5"),
])
def test_labels_outside_the_classes_are_refused_before_training(tmp_path, labels, message):
    x, _ = _tiny_arrays()
    model = cnnzoo.build("tutorial_5x5", input_shape=(8, 8, 1), num_classes=3)
    before = model.get_weights()
    with pytest.raises(ValueError, match=message):
        cnnzoo.fit(model, (x, labels), epochs=1, workdir=tmp_path, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert not (tmp_path / "run.json").exists()


def test_images_of_another_shape_are_refused(tmp_path):
    x, y = _tiny_arrays(shape=(10, 10, 1))
    model = cnnzoo.build("tutorial_5x5", input_shape=(8, 8, 1), num_classes=3)
    with pytest.raises(ValueError, match=r"images of shape \(10, 10, 1\).*takes \(8, 8, 1\)"):
        cnnzoo.fit(model, (x, y), epochs=1, workdir=tmp_path, verbose=0)


def test_a_workdir_of_another_model_is_refused(tmp_path):
    x, y = _tiny_arrays()
    cnnzoo.fit("tutorial_5x5", (x, y), num_classes=3, epochs=1, workdir=tmp_path, verbose=0)
    with pytest.raises(ValueError, match="holds a run of model 'tutorial_5x5'"):
        cnnzoo.fit("tutorial_3x3", (x, y), num_classes=3, epochs=1, workdir=tmp_path,
                   verbose=0)


def test_a_resume_with_fewer_epochs_is_refused(tmp_path):
    x, y = _tiny_arrays()
    with pytest.raises(KeyboardInterrupt):
        cnnzoo.fit("tutorial_5x5", (x, y), num_classes=3, epochs=3, workdir=tmp_path,
                   batch_size=16, callbacks=[_Interrupt()], verbose=0)
    with pytest.raises(ValueError, match="started with epochs=3 .* received epochs=2"):
        cnnzoo.fit("tutorial_5x5", (x, y), num_classes=3, epochs=2, workdir=tmp_path,
                   verbose=0)


def test_a_nan_loss_stops_training_with_advice_and_saves_no_diverged_model(tmp_path):
    x, y = _tiny_arrays()
    with pytest.raises(FloatingPointError, match=r"lower learning_rate \(now 1e\+20\)"):
        cnnzoo.fit("tutorial_5x5", (x, y), num_classes=3, epochs=2, workdir=tmp_path,
                   optimizer="sgd", learning_rate=1e20, batch_size=16, verbose=0)
    assert not (tmp_path / "last.keras").exists()
    assert not (tmp_path / "backup" / "training_metadata.json").exists()
    assert json.loads((tmp_path / "run.json").read_text())["status"] == "diverged"


def test_fit_leaves_the_global_dtype_policy_alone(tmp_path):
    x, y = _tiny_arrays()
    history = cnnzoo.fit("tutorial_5x5", (x, y), num_classes=3, epochs=1, workdir=tmp_path,
                         mixed_precision="mixed_bfloat16", verbose=0)
    assert history.model.dtype_policy.name == "mixed_bfloat16"
    assert keras.mixed_precision.dtype_policy().name == "float32"
    assert history.model.output.dtype == "float32"


def test_steps_run_several_a_call_unless_a_callback_watches_batches(tmp_path):
    import tensorflow as tf

    x, y = _tiny_arrays()
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    history = cnnzoo.fit("tutorial_5x5", data, num_classes=3, epochs=2, workdir=tmp_path / "a",
                         steps_per_epoch=3, verbose=0)
    # "auto" is 8 on TensorFlow, made a divisor of the 3 steps an epoch: every step still runs.
    assert history.model.steps_per_execution == 3
    assert int(history.model.optimizer.iterations) == 6
    run = json.loads((tmp_path / "a" / "run.json").read_text())
    assert run["training"]["steps_per_execution"] == 3
    seen = []
    watcher = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: seen.append(batch))
    history = cnnzoo.fit("tutorial_5x5", (x, y), num_classes=3, epochs=1, workdir=tmp_path / "b",
                         batch_size=16, callbacks=[watcher], verbose=0)
    assert history.model.steps_per_execution == 1 and seen == [0, 1, 2, 3]


def test_bad_arguments_say_what_was_received(tmp_path):
    x, y = _tiny_arrays()
    with pytest.raises(ValueError, match="epochs must be a positive integer; received epochs=0"):
        cnnzoo.fit("tutorial_5x5", (x, y), num_classes=3, epochs=0, workdir=tmp_path)
    with pytest.raises(ValueError, match="distribute must be one of"):
        cnnzoo.fit("tutorial_5x5", (x, y), num_classes=3, epochs=1, workdir=tmp_path,
                   distribute="tpu")
    with pytest.raises(ValueError, match="number of classes is unknown"):
        cnnzoo.fit("tutorial_5x5", (x, y), epochs=1, workdir=tmp_path)
    with pytest.raises(ValueError, match="steps_per_execution=2 does not divide steps_per_epoch=3"):
        cnnzoo.fit("tutorial_5x5", (x, y), num_classes=3, epochs=1, workdir=tmp_path / "spe",
                   steps_per_epoch=3, steps_per_execution=2)
    assert not (tmp_path / "spe").exists()  # Refused before anything was written.
    with pytest.raises(ValueError, match="reduce_lr_on_plateau .* needs schedule='constant'"):
        cnnzoo.fit("tutorial_5x5", (x, y), num_classes=3, epochs=1, workdir=tmp_path,
                   schedule="cosine", reduce_lr_on_plateau=2)


@pytest.mark.parametrize("argument, value, error, message", [
    ("workdir", "", ValueError, "current folder"),
    ("workdir", "  ", ValueError, "current folder"),
    ("workdir", None, TypeError, "workdir='runs/mnist'"),
    ("steps_per_epoch", 0, ValueError, "steps_per_epoch must be a positive integer"),
    ("steps_per_epoch", True, ValueError, "received steps_per_epoch=True"),
    ("early_stopping", -1, ValueError, "early_stopping must be a patience"),
    ("reduce_lr_on_plateau", 1.5, ValueError, "reduce_lr_on_plateau must be a patience"),
    ("batch_size", 0, ValueError, "batch_size must be a positive integer"),
    ("batch_size", -1, ValueError, "received batch_size=-1"),
    ("learning_rate", float("inf"), ValueError, "positive finite number"),
    ("learning_rate", True, ValueError, "received learning_rate=True"),
])
def test_nonsense_values_are_refused_before_a_file_is_written(tmp_path, monkeypatch, argument,
                                                               value, error, message):
    monkeypatch.chdir(tmp_path)  # workdir="" would write here.
    x, y = _tiny_arrays(n=8)
    settings = {"workdir": tmp_path / "run", argument: value}
    with pytest.raises(error, match=message):
        cnnzoo.fit("tutorial_5x5", (x, y), num_classes=3, epochs=1, verbose=0, **settings)
    assert list(tmp_path.iterdir()) == []
