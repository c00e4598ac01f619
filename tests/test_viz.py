"""cnnzoo.viz: the figures hold what they claim, and each writes a real PNG.

Grad-CAM's own evidence (that it finds the class signal) is in test_grad_cam.py.
"""

import subprocess
import sys

import keras
import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

import cnnzoo
from cnnzoo import viz
from cnnzoo.metrics import precision_recall_f1

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
rng = np.random.default_rng(0)


def _assert_png(figure, path):
    written = viz.save_figure(figure, path)
    data = written.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 2000  # More than a blank canvas.
    return written


@pytest.fixture(scope="module")
def small_model():
    model = cnnzoo.build("tutorial_5x5", input_shape=(12, 12, 1), num_classes=3)
    model.set_weights([rng.normal(scale=0.3, size=w.shape).astype("float32")
                       for w in model.get_weights()])
    return model


# --------------------------------------------------------------------------- metrics

def test_precision_recall_f1_agree_with_scikit_learn():
    true = rng.integers(0, 4, size=200)
    predicted = np.where(rng.random(200) < 0.6, true, rng.integers(0, 4, size=200))
    predicted[predicted == 3] = 2  # Class 3 is never predicted: its precision is undefined.
    matrix = confusion_matrix(true, predicted, labels=range(4))
    result = precision_recall_f1(matrix, ["a", "b", "c", "d"])
    precision, recall, f1, _ = precision_recall_fscore_support(
        true, predicted, labels=range(4), zero_division=np.nan)
    for key, expected in (("precision", precision), ("recall", recall), ("f1", f1)):
        actual = [result[f"per_class_{key}"][name] for name in "abcd"]
        for a, e in zip(actual, expected):
            assert (a is None and np.isnan(e)) or a == pytest.approx(e)
    assert result["per_class_precision"]["d"] is None and result["per_class_recall"]["d"] == 0
    assert result["macro_recall"] == pytest.approx(recall.mean())


def test_metrics_refuse_a_bad_matrix():
    with pytest.raises(ValueError, match="square"):
        precision_recall_f1([[1, 2, 3]])
    with pytest.raises(ValueError, match="one name per class"):
        precision_recall_f1([[1, 0], [0, 1]], ["a"])


# --------------------------------------------------------------------------- layers

def test_layer_names_filters_and_feature_map_shapes(small_model, tmp_path):
    assert viz.layer_names(small_model) == ["conv1", "pool1", "conv2", "pool2"]
    name, kernel = viz.first_layer_filters(small_model)
    assert name == "conv1" and kernel.shape == (5, 5, 1, 16)
    np.testing.assert_array_equal(kernel, small_model.get_layer("conv1").get_weights()[0])
    image = rng.integers(0, 256, size=(12, 12, 1))
    maps = viz.feature_maps(small_model, image, "conv2")
    assert maps.shape == (6, 6, 32)
    # The same numbers as a sub-model over the functional graph computes.
    probe = keras.Model(small_model.input, small_model.get_layer("conv2").output)
    np.testing.assert_allclose(maps, keras.ops.convert_to_numpy(
        probe(image[None].astype("float32")))[0], atol=1e-5)
    assert viz.feature_maps(small_model, image).shape == (3, 3, 32)  # The last: pool2.
    _assert_png(viz.plot_filters(small_model), tmp_path / "filters.png")
    _assert_png(viz.plot_feature_maps(small_model, image, "conv1"), tmp_path / "maps.png")


def test_filters_of_an_rgb_model(tmp_path):
    model = cnnzoo.build("resnet20", input_shape=(16, 16, 3), num_classes=3, compile=False)
    name, kernel = viz.first_layer_filters(model)
    assert name == "stem_conv" and kernel.shape == (3, 3, 3, 16)
    assert viz.layer_names(model)[-1] == "stage3_block3_out"
    _assert_png(viz.plot_filters(model), tmp_path / "rgb_filters.png")


def test_bad_layer_and_image_errors_name_the_choices(small_model):
    image = np.zeros((12, 12, 1))
    with pytest.raises(ValueError, match=r"'fc9' is not a layer.*\['conv1', 'pool1', "
                                         r"'conv2', 'pool2'\]"):
        viz.feature_maps(small_model, image, "fc9")
    with pytest.raises(ValueError, match="'predictions' is not a convolutional feature map"):
        viz.plot_feature_maps(small_model, image, "predictions")
    with pytest.raises(ValueError, match="takes 1 channel.*grayscale"):
        viz.feature_maps(small_model, np.zeros((12, 12, 3)))
    with pytest.raises(ValueError, match="takes 12x12 images"):
        viz.feature_maps(small_model, np.zeros((28, 28, 1)))
    with pytest.raises(ValueError, match="one image of raw pixels"):
        viz.feature_maps(small_model, np.zeros((12, 12, 1, 1, 1)))


# --------------------------------------------------------------------------- grad-cam plot

def test_grad_cam_figure_and_overlay(small_model, tmp_path):
    image = rng.integers(0, 256, size=(12, 12, 1)).astype("uint8")
    result = viz.grad_cam(small_model, image, class_index=2)
    blended = viz.overlay(image, result.heatmap)
    assert blended.shape == (12, 12, 3) and 0 <= blended.min() and blended.max() <= 1
    figure = viz.plot_grad_cam(small_model, image, result=result, class_names=["a", "b", "c"])
    assert "Grad-CAM for 'c'" in [axis.get_title() for axis in figure.axes]
    _assert_png(figure, tmp_path / "cam.png")


# --------------------------------------------------------------------------- evaluation

@pytest.fixture(scope="module")
def evaluated(small_model):
    images = rng.integers(0, 256, size=(30, 12, 12, 1)).astype("float32")
    labels = rng.integers(0, 3, size=30)
    return images, labels, cnnzoo.evaluate(small_model, (images, labels),
                                           class_names=["cat", "dog", "bird"])


def test_confusion_matrix_and_class_metrics_plots(evaluated, tmp_path):
    _, _, result = evaluated
    figure = viz.plot_confusion_matrix(result)
    axis = figure.axes[0]
    assert [t.get_text() for t in axis.get_yticklabels()] == ["cat", "dog", "bird"]
    counts = [int(t.get_text()) for t in axis.texts]
    assert counts == [c for row in result["confusion_matrix"] for c in row]
    _assert_png(figure, tmp_path / "confusion.png")
    _assert_png(viz.plot_class_metrics(result), tmp_path / "metrics.png")
    with pytest.raises(ValueError, match="square"):
        viz.plot_confusion_matrix([[1, 2]])
    with pytest.raises(ValueError, match="one name per class"):
        viz.plot_class_metrics([[1, 0], [0, 1]], class_names=["a", "b", "c"])


def test_worst_mistakes_are_the_most_confident_wrong_ones(small_model, evaluated, tmp_path):
    images, labels, result = evaluated
    _, mistakes, _ = viz.worst_mistakes(small_model, (images, labels), count=5)
    probabilities = small_model.predict(images, verbose=0)
    predicted = probabilities.argmax(-1)
    wrong = predicted != labels
    assert len(mistakes) == min(5, wrong.sum()) and len(mistakes) > 0
    assert result["num_examples"] - round(result["accuracy"] * 30) == wrong.sum()
    confidences = [m["confidence"] for m in mistakes]
    assert confidences == sorted(confidences, reverse=True)
    assert confidences[0] == pytest.approx(probabilities[wrong].max(), abs=1e-6)
    for mistake in mistakes:
        assert mistake["true"] == labels[mistake["index"]] != mistake["predicted"]
    figure = viz.plot_worst_mistakes(small_model, (images, labels),
                                     class_names=["cat", "dog", "bird"], count=5)
    assert figure.axes[0].get_title().startswith(
        f"true {['cat', 'dog', 'bird'][mistakes[0]['true']]}")
    _assert_png(figure, tmp_path / "mistakes.png")


# --------------------------------------------------------------------------- images, history

def test_image_grid_from_arrays_and_from_augmented_batches(tmp_path):
    images = rng.integers(0, 256, size=(5, 10, 10, 3)).astype("uint8")
    figure = viz.plot_images((images, np.array([0, 1, 2, 1, 0])), class_names=list("xyz"))
    assert [a.get_title() for a in figure.axes if a.get_visible()] == list("xyzyx")
    _assert_png(figure, tmp_path / "rgb.png")
    data = cnnzoo.load_dataset("fashion_mnist_sample", "train", batch_size=8,
                               augment="standard", limit=16)
    figure = viz.plot_images(data, max_images=12)
    titles = [a.get_title() for a in figure.axes if a.get_visible()]
    assert len(titles) == 12 and set(titles) <= set(data[1].class_names)
    _assert_png(figure, tmp_path / "augmented.png")
    with pytest.raises(ValueError, match="differ in length"):
        viz.plot_images((images, np.zeros(3)))


def test_history_from_history_workdir_and_csv(tmp_path):
    images = rng.integers(0, 256, size=(24, 8, 8, 1)).astype("float32")
    labels = rng.integers(0, 2, size=24)
    model = cnnzoo.build("tutorial_5x5", input_shape=(8, 8, 1), num_classes=2)
    workdir = tmp_path / "run"
    history = cnnzoo.fit(model, (images[:16], labels[:16]), (images[16:], labels[16:]),
                         epochs=2, workdir=workdir, batch_size=8, tensorboard=False,
                         verbose=0)
    for source in (history, workdir, workdir / "history.csv"):
        figure = viz.plot_history(source)
        titles = [axis.get_title() for axis in figure.axes]
        assert titles[0] == "loss" and "accuracy" in titles
        loss_lines = figure.axes[0].get_lines()
        assert [line.get_label() for line in loss_lines] == ["train", "validation"]
        np.testing.assert_allclose(loss_lines[0].get_ydata(), history.history["loss"],
                                   rtol=1e-5)
    _assert_png(viz.plot_history(workdir), tmp_path / "history.png")
    with pytest.raises(FileNotFoundError, match="no history"):
        viz.plot_history(tmp_path / "missing")


# --------------------------------------------------------------------------- import

def test_viz_imports_without_matplotlib_and_names_the_extra_when_drawing():
    code = ("import sys; sys.modules['matplotlib'] = None  # As if not installed.\n"
            "import numpy as np, cnnzoo, cnnzoo.viz\n"
            "model = cnnzoo.build('mnist_cnn')\n"
            "print(cnnzoo.viz.layer_names(model)[-1])\n"
            "try:\n    cnnzoo.viz.plot_filters(model)\n"
            "except ImportError as error:\n    print(error)")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout.splitlines()
    assert output[0] == "conv3"
    assert "pip install cnnzoo[viz]" in output[1]
