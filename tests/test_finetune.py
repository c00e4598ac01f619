"""`cnnzoo.fine_tune`: the point on real data, what stays frozen, resuming, refusals, the CLI."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import cnnzoo
from cnnzoo.cli import main
from cnnzoo.finetune import fine_tune


def _digits(split, limit=None):
    """Returns scikit-learn's 8x8 digits of `split`, resized to 28x28 (raw 0-255 pixels)."""
    images, labels, _ = cnnzoo.load_arrays("digits", split, limit=limit)
    return tf.image.resize(images, (28, 28)).numpy(), labels


def _noise(shape, count=16, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (count,) + shape).astype("float32"),
            np.arange(count) % classes)


class WeightLog(keras.callbacks.Callback):
    """Records every layer's weights (by layer name) when each `fit` begins and ends."""

    def __init__(self):
        super().__init__()
        self.snapshots = []

    def _snapshot(self):
        return {layer.name: [np.array(w) for w in layer.get_weights()]
                for layer in self.model.layers if layer.weights}

    def on_train_begin(self, logs=None):
        self.snapshots.append(self._snapshot())

    def on_train_end(self, logs=None):
        self.snapshots.append(self._snapshot())


def _changed(before, after, name):
    return any(not np.array_equal(a, b) for a, b in zip(before[name], after[name]))


def test_fashion_mnist_weights_fine_tuned_beat_training_from_scratch_on_digits(tmp_path):
    # The same budget for both: 300 digits, 4 epochs of batch 32. Scratch gets the best of
    # three learning rates, fine-tuning one setting. Measured on 2 CPU cores, seeds 0-3:
    # 0.87-0.88 fine-tuned against at most 0.80 from scratch (smallest margin 0.073).
    train, test = _digits("train", limit=300), _digits("test")
    model, histories = fine_tune("mnist_cnn", train, workdir=tmp_path / "tuned", head_epochs=2,
                                 epochs=2, learning_rate=1e-2, batch_size=32, seed=0,
                                 verbose=0)
    assert len(histories["head"].epoch) == 2 and len(histories["tune"].epoch) == 2
    tuned = cnnzoo.evaluate(model, test)["accuracy"]
    scratch = {}
    for index, learning_rate in enumerate((1e-3, 3e-3, 1e-2)):
        history = cnnzoo.fit("mnist_cnn", train, epochs=4, workdir=tmp_path / f"scratch{index}",
                             num_classes=10, learning_rate=learning_rate, batch_size=32,
                             seed=0, verbose=0)
        scratch[learning_rate] = cnnzoo.evaluate(history.model, test)["accuracy"]
    assert tuned > max(scratch.values()) + 0.05, (tuned, scratch)


def test_head_phase_trains_only_the_head_and_tune_phase_the_top(tmp_path):
    log = WeightLog()
    model, _ = fine_tune("mnist_cnn", _noise((28, 28, 1)), workdir=tmp_path, head_epochs=1,
                         epochs=1, unfreeze=1, learning_rate=1e-2, callbacks=[log], verbose=0)
    head_before, head_after, tune_before, tune_after = log.snapshots
    pretrained = cnnzoo.build("mnist_cnn", weights="fashion_mnist", compile=False)
    for name in ("conv1", "conv2", "conv3"):
        expected = pretrained.get_layer(name).get_weights()
        assert all(np.array_equal(a, b) for a, b in zip(head_after[name], expected)), name
    assert _changed(head_before, head_after, "predictions")
    assert "fc1" not in head_after  # the old head is replaced whole, below its hidden layer
    assert not _changed(tune_before, tune_after, "conv1")
    assert not _changed(tune_before, tune_after, "conv2")
    assert _changed(tune_before, tune_after, "conv3")  # unfreeze=1: the top conv
    assert model.output_shape == (None, 3)


def test_batch_norm_stays_frozen_in_inference_mode_in_both_phases(tmp_path):
    base = cnnzoo.build("resnet20", input_shape=(16, 16, 1), num_classes=10)
    log = WeightLog()
    model, _ = fine_tune(base, _noise((16, 16, 1), count=32), workdir=tmp_path, head_epochs=1,
                         epochs=1, unfreeze="stage3_block3_1_relu", learning_rate=1e-2,
                         callbacks=[log], verbose=0)
    first, *_, last = log.snapshots
    batch_norms = [layer.name for layer in model.layers
                   if isinstance(layer, keras.layers.BatchNormalization)]
    assert batch_norms
    for name in batch_norms:  # gamma, beta and the moving statistics
        assert not _changed(first, last, name), name
    assert not any(model.get_layer(name).trainable for name in batch_norms)
    assert _changed(log.snapshots[2], last, "stage3_block3_2_conv")
    assert not _changed(log.snapshots[2], last, "stage3_block3_1_conv")
    images = _noise((16, 16, 1), count=8, seed=1)[0]
    np.testing.assert_allclose(model([images], training=True), model([images], training=False),
                               atol=1e-5)


def test_a_keras_file_base_keeps_its_dropout_and_epochs_0_stops_after_the_head(tmp_path):
    base = cnnzoo.build("tutorial_3x3", weights="fashion_mnist", dropout=0.3, compile=False)
    base.save(tmp_path / "base.keras")
    model, histories = fine_tune(tmp_path / "base.keras", _noise((28, 28, 1), classes=2),
                                 workdir=tmp_path / "run", head_epochs=1, epochs=0, verbose=0)
    assert histories["tune"] is None and not (tmp_path / "run" / "tune").exists()
    assert model.output_shape == (None, 2)
    assert model.get_layer("head_dropout").rate == pytest.approx(0.3)
    for a, b in zip(model.get_layer("conv1").get_weights(), base.get_layer("conv1").get_weights()):
        np.testing.assert_array_equal(a, b)


def test_rerun_skips_finished_phases(tmp_path):
    data = _noise((28, 28, 1))
    first, _ = fine_tune("mnist_cnn", data, workdir=tmp_path, head_epochs=1, epochs=1,
                         verbose=0)
    again, histories = fine_tune("mnist_cnn", data, workdir=tmp_path, head_epochs=1, epochs=1,
                                 verbose=0)
    assert histories == {"head": None, "tune": None}
    for a, b in zip(first.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)
    record = json.loads((tmp_path / "tune" / "run.json").read_text())
    assert record["status"] == "finished" and record["fine_tune"]["base"] == "mnist_cnn"


@pytest.mark.parametrize("kwargs, data_shape, message", [
    ({}, (28, 28, 3), "channels"),
    ({}, (8, 8, 1), "resize=True"),
    ({"unfreeze": "conv9"}, (28, 28, 1), "names no layer"),
    ({"unfreeze": 0}, (28, 28, 1), "count from 1 to 3"),
    ({"unfreeze": 4}, (28, 28, 1), "count from 1 to 3"),
    ({"head_epochs": 0}, (28, 28, 1), "head_epochs"),
])
def test_bad_requests_are_refused_before_training(tmp_path, kwargs, data_shape, message):
    with pytest.raises(ValueError, match=message):
        fine_tune("mnist_cnn", _noise(data_shape), workdir=tmp_path / "run", verbose=0,
                  **kwargs)
    assert not (tmp_path / "run").exists()


def test_unknown_base_name_is_refused():
    with pytest.raises(ValueError, match="neither a file or workdir nor a registered"):
        fine_tune("mnist_cn", _noise((28, 28, 1)), workdir="unused", verbose=0)


def test_finetune_command_runs_end_to_end(tmp_path, capsys):
    status = main(["finetune", "mnist_cnn", "--dataset", "digits", "--workdir",
                   str(tmp_path), "--head-epochs", "1", "--epochs", "1", "--unfreeze", "conv3",
                   "--limit", "64", "--batch-size", "32"])
    assert status == 0, capsys.readouterr().err
    assert "test accuracy" in capsys.readouterr().out
    evaluation = json.loads((tmp_path / "evaluation.json").read_text())
    assert evaluation["num_examples"] == 64
    assert main(["finetune", "mnist_cnn", "--dataset", "digits", "--workdir",
                 str(tmp_path / "bad"), "--unfreeze", "conv9", "--limit", "8"]) == 2
    assert "names no layer" in capsys.readouterr().err
