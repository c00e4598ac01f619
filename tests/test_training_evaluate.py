"""cnnzoo.evaluate: the confusion matrix agrees with accuracy, Keras and the class names."""

import keras
import numpy as np
import pytest

import cnnzoo
from cnnzoo.artifacts import load_model
from cnnzoo.data import load_arrays, load_dataset
from cnnzoo.training import confusion_matrix


@pytest.fixture(scope="module")
def trained_weights():
    """Weights of a tutorial_5x5 trained briefly on digits (imperfect: not a diagonal matrix)."""
    train, _ = load_dataset("digits", "train", batch_size=64)
    model = cnnzoo.build("tutorial_5x5", input_shape=(8, 8, 1), num_classes=10)
    model.fit(train, epochs=2, shuffle=False, verbose=0)
    return model.get_weights()


@pytest.fixture
def trained(trained_weights):
    # Rebuilt per test: conftest clears the Keras session after each one.
    model = cnnzoo.build("tutorial_5x5", input_shape=(8, 8, 1), num_classes=10)
    model.set_weights(trained_weights)
    return model


def test_confusion_matrix_sums_to_the_examples_and_matches_accuracy(trained):
    test = load_dataset("digits", "test", batch_size=100)
    result = cnnzoo.evaluate(trained, test)
    matrix = np.array(result["confusion_matrix"])
    assert matrix.shape == (10, 10)
    assert matrix.sum() == result["num_examples"] == test[1].num_examples
    assert result["accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum())
    assert 0.3 < result["accuracy"] < 1.0
    per_class = [result["per_class_accuracy"][str(i)] for i in range(10)]
    assert per_class == pytest.approx(list(np.diag(matrix) / matrix.sum(1)))
    assert result["dataset"] == "digits" and result["split"] == "test"


def test_per_class_precision_recall_and_f1_agree_with_scikit_learn(trained):
    from sklearn.metrics import precision_recall_fscore_support

    x, y, _ = load_arrays("digits", "test")
    result = cnnzoo.evaluate(trained, (x, y), batch_size=64)
    predicted = trained.predict(x.astype("float32"), verbose=0).argmax(-1)
    precision, recall, f1, _ = precision_recall_fscore_support(
        y, predicted, labels=range(10), zero_division=np.nan)
    for key, want in [("per_class_precision", precision), ("per_class_recall", recall),
                      ("per_class_f1", f1)]:
        got = [np.nan if v is None else v for v in result[key].values()]
        np.testing.assert_allclose(got, want, atol=1e-12)
    assert "precision" in result["report"] and "F1" in result["report"]


@pytest.mark.slow
def test_a_fresh_process_loads_zoo_models_saved_as_keras(tmp_path):
    """cnnzoo's layers and losses are registered however a `.keras` file is loaded."""
    import subprocess
    import sys

    cnnzoo.build("resnet20", input_shape=(16, 16, 1)).save(tmp_path / "m.keras")
    for program in ["import cnnzoo; m = cnnzoo.load_model('m.keras')",
                    "import keras, cnnzoo; m = keras.saving.load_model('m.keras')"]:
        run = subprocess.run([sys.executable, "-c", program + "; print(m.loss.name)"],
                             cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr[-2000:]
        assert run.stdout.strip() == "classification_crossentropy"


def test_evaluate_agrees_with_keras_evaluate(trained):
    x, y, _ = load_arrays("digits", "test")
    result = cnnzoo.evaluate(trained, (x, y), batch_size=64)
    keras_result = trained.evaluate(x.astype("float32"), y, verbose=0, return_dict=True)
    assert result["accuracy"] == pytest.approx(keras_result["accuracy"], abs=1e-6)
    assert result["top5_accuracy"] == pytest.approx(keras_result["top5_accuracy"], abs=1e-6)
    assert result["loss"] == pytest.approx(keras_result["loss"], rel=1e-4)


def test_report_names_the_classes_and_top5_needs_more_than_5_classes():
    model = cnnzoo.build("tutorial_5x5", input_shape=(8, 8, 1), num_classes=3)
    x = np.random.default_rng(0).uniform(0, 255, (9, 8, 8, 1)).astype("float32")
    y = np.array([0, 1, 2] * 3)
    result = cnnzoo.evaluate(model, (x, y), class_names=["cat", "dog", "bird"])
    assert "top5_accuracy" not in result
    assert set(result["per_class_accuracy"]) == {"cat", "dog", "bird"}
    report = result["report"].splitlines()
    assert report[0].startswith("9 examples: accuracy")
    assert any(line.startswith("bird") for line in report)


def test_one_hot_labels_count_by_their_largest_entry():
    assert confusion_matrix(np.array([2, 0]), np.array([2, 1]), 3).tolist() == [
        [0, 1, 0], [0, 0, 0], [0, 0, 1]]
    model = cnnzoo.build("tutorial_5x5", input_shape=(8, 8, 1), num_classes=3)
    x = np.zeros((3, 8, 8, 1), "float32")
    by_id = cnnzoo.evaluate(model, (x, np.array([0, 1, 2])))
    by_one_hot = cnnzoo.evaluate(model, (x, np.eye(3, dtype="float32")))
    assert by_id["confusion_matrix"] == by_one_hot["confusion_matrix"]


def test_evaluate_refuses_labels_outside_the_classes_and_missing_models(tmp_path):
    model = cnnzoo.build("tutorial_5x5", input_shape=(8, 8, 1), num_classes=3)
    x = np.zeros((300, 8, 8, 1), "float32")
    y = np.zeros(300, "int64")
    y[-1] = 7  # beyond the first batch: evaluate still checks every label
    with pytest.raises(ValueError, match=r"labels outside \[0, 3\)"):
        cnnzoo.evaluate(model, (x, y))
    with pytest.raises(FileNotFoundError, match="no model file"):
        cnnzoo.evaluate(tmp_path / "missing.keras", (x, y))


def test_evaluate_checks_every_batch_of_a_dataset():
    import tensorflow as tf

    model = cnnzoo.build("tutorial_5x5", input_shape=(8, 8, 1), num_classes=3)
    x = np.zeros((40, 8, 8, 1), "float32")
    y = np.zeros(40, "int64")
    x[35, 2, 2, 0] = np.nan  # in batch 4 of 8: the first batch alone looks clean
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    with pytest.raises(ValueError, match="batch 4 .* NaN or infinite"):
        cnnzoo.evaluate(model, data)
    y[35], x[35] = 5, 0.0
    with pytest.raises(ValueError, match="batch 4 .* label 5"):
        cnnzoo.evaluate(model, tf.data.Dataset.from_tensor_slices((x, y)).batch(8))


def test_a_workdir_with_an_export_subfolder_is_read_as_a_workdir(tmp_path):
    # Only the folder itself or its numbered version folders make it a SavedModel.
    saved = cnnzoo.build("tutorial_5x5", input_shape=(8, 8, 1), num_classes=3, compile=False)
    saved.save(tmp_path / "best.keras")
    (tmp_path / "export" / "1").mkdir(parents=True)
    (tmp_path / "export" / "1" / "saved_model.pb").write_bytes(b"")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "saved_model.pb").write_bytes(b"")
    model = load_model(tmp_path)
    assert isinstance(model, keras.Model) and model.count_params() == saved.count_params()


def test_flip_tta_averages_each_image_with_its_mirror(trained):
    x, y, _ = load_arrays("digits", "test")
    x = x.astype("float32")
    result = cnnzoo.evaluate(trained, (x, y), tta="flip", batch_size=50)
    mean = (trained.predict(x, verbose=0) + trained.predict(x[:, :, ::-1], verbose=0)) / 2
    assert result["tta"] == "flip"
    assert result["accuracy"] == pytest.approx(float((mean.argmax(-1) == y).mean()))
    assert result["single_view_accuracy"] == pytest.approx(
        cnnzoo.evaluate(trained, (x, y))["accuracy"])
    assert "test-time augmentation flip" in result["report"].splitlines()[0]


def test_unknown_tta_is_refused_before_predicting(trained):
    with pytest.raises(ValueError, match="test-time augmentation tta='rotate'.*'flip'"):
        cnnzoo.evaluate(trained, (np.zeros((2, 8, 8, 1)), np.zeros(2)), tta="rotate")
    assert cnnzoo.evaluate(trained, (np.zeros((2, 8, 8, 1)), np.zeros(2)),
                           tta="none")["tta"] is None


def test_a_path_is_loaded_above_training_and_the_old_names_warn(tmp_path):
    import cnnzoo.artifacts
    import cnnzoo.job
    import cnnzoo.training

    model = cnnzoo.build("tutorial_5x5", input_shape=(8, 8, 1), num_classes=3, compile=False)
    model.save(tmp_path / "best.keras")
    data = (np.zeros((4, 8, 8, 1), "float32"), np.array([0, 1, 2, 0]))
    expected = cnnzoo.training.evaluate(model, data)["confusion_matrix"]
    assert cnnzoo.artifacts.evaluate(tmp_path, data)["confusion_matrix"] == expected
    with pytest.warns(DeprecationWarning, match=r"cnnzoo.evaluate\(path, data\)"):
        assert cnnzoo.training.evaluate(tmp_path, data)["confusion_matrix"] == expected
    with pytest.warns(DeprecationWarning, match="moved to cnnzoo.artifacts.load_model"):
        from cnnzoo.training import load_model as old_load_model
    assert old_load_model is load_model
    with pytest.warns(DeprecationWarning, match="moved to cnnzoo.job.train_job"):
        from cnnzoo.training.job import train_job
    assert train_job is cnnzoo.job.train_job
    with pytest.warns(DeprecationWarning, match="moved to cnnzoo.artifacts"):
        from cnnzoo.export.source import load_export_source
    assert load_export_source is cnnzoo.artifacts.load_export_source
    with pytest.warns(DeprecationWarning, match="moved to cnnzoo.layouts.serving"):
        from cnnzoo.export.layout import find_saved_model
    assert find_saved_model(tmp_path) is None
