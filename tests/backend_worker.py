"""What tests/test_backends.py runs in a subprocess under one Keras backend.

    KERAS_BACKEND=jax python tests/backend_worker.py TASK DIR [ARGS...]

The backend is fixed when Keras is imported, so each backend runs in its own process.
Every task writes what it measured under DIR, named by the backend (`DIR/jax/...`,
`DIR/jax.json`), for the parent test to compare across backends:

- `models DIR NAME...`: builds each model at a small input, loads the weights the
  TensorFlow process saved in `DIR/weights/` (the TensorFlow process writes them), and
  writes the probabilities of a fixed batch of 8 images and the loss of one training step;
- `shipped DIR N`: every shipped weight's probabilities on the first N test images of
  Debian's Fashion-MNIST;
- `library DIR`: `cnnzoo.fit` from arrays and from the tf.data pipeline, a resume,
  `cnnzoo.evaluate`, `fine_tune` and `cnnzoo.viz`; writes a `.keras` and a `.weights.h5`
  file with the probabilities they give, and loads those every other backend wrote.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


def small_input(card):
    """The smallest convenient input of a model (as tests/test_models.py takes it)."""
    size = 32 if card.family in ("vgg", "resnet", "alexnet", "lenet") else 28
    return (size, size, card.default_input[-1])


def fixed_batch(input_shape, batch=8, num_classes=7):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (batch, *input_shape)).astype("float32")
    return images, np.arange(batch) % num_classes


def run_models(out, backend, names):
    import keras

    import cnnzoo

    weights_dir = out / "weights"
    weights_dir.mkdir(exist_ok=True)
    rows = {}
    for name in names:
        start = time.perf_counter()
        keras.utils.set_random_seed(0)
        input_shape = small_input(cnnzoo.model_card(name))
        # Eager steps: compiling a 150-layer step costs more than the one step it would speed.
        model = cnnzoo.build(name, input_shape=input_shape, num_classes=7, run_eagerly=True,
                             dropout=0.0)
        weights = weights_dir / f"{name}.weights.h5"
        if backend == "tensorflow":
            model.save_weights(weights)
        else:
            model.load_weights(weights)
        images, labels = fixed_batch(input_shape)
        probabilities = keras.ops.convert_to_numpy(model(images, training=False))
        np.save(out / backend / f"{name}.npy", probabilities)
        loss = float(model.train_on_batch(images, labels)[0])
        finite = all(np.all(np.isfinite(keras.ops.convert_to_numpy(w)))
                     for w in model.weights)
        rows[name] = {"loss": loss, "weights_finite": bool(finite),
                      "seconds": time.perf_counter() - start}
        keras.backend.clear_session()
    return rows


def fashion_mnist_test(limit=None):
    from cnnzoo.data.idx import read_idx

    images = read_idx(FASHION_MNIST / "t10k-images-idx3-ubyte.gz")[:limit]
    labels = read_idx(FASHION_MNIST / "t10k-labels-idx1-ubyte.gz")[:limit]
    return images[..., None], labels.astype("int32")


def run_shipped(out, backend, limit):
    import keras

    import cnnzoo
    from cnnzoo.pretrained import read_manifest

    images, labels = fashion_mnist_test(int(limit) if limit else None)
    rows = {}
    for entry in read_manifest():
        key = f"{entry.model}-{entry.tag}"
        model = cnnzoo.build(entry.model, weights=entry.tag)
        probabilities = model.predict(images.astype("float32"), batch_size=500, verbose=0)
        np.save(out / backend / f"{key}.npy", probabilities)
        rows[key] = {"accuracy": float(np.mean(probabilities.argmax(-1) == labels)),
                     "images": len(images)}
        keras.backend.clear_session()
    return rows


def run_library(out, backend):
    import keras

    import cnnzoo
    import cnnzoo.viz
    from cnnzoo.data import load_arrays

    mine = out / backend
    rows = {}
    x, y, info = load_arrays("digits", "train")
    x_test, y_test, _ = load_arrays("digits", "test")
    common = {"batch_size": 32, "seed": 0, "verbose": 0, "learning_rate": 3e-3}

    # From NumPy arrays, then a resume of the same run to a second epoch.
    build = lambda: cnnzoo.build("tutorial_5x5", input_shape=x.shape[1:], num_classes=10)
    history = cnnzoo.fit(build(), (x, y), epochs=1, workdir=mine / "arrays", **common)
    rows["arrays_epochs"] = history.epoch
    resumed = cnnzoo.fit(build(), (x, y), epochs=2, workdir=mine / "arrays", **common)
    rows["resumed_epochs"] = resumed.epoch
    model = resumed.model
    rows["arrays_accuracy"] = cnnzoo.evaluate(model, (x_test, y_test))["accuracy"]

    # From the tf.data pipeline.
    train, train_info = cnnzoo.load_dataset("digits", "train", batch_size=32)
    test, _ = cnnzoo.load_dataset("digits", "test", batch_size=64)
    piped = cnnzoo.fit(build(), (train, train_info), epochs=1, workdir=mine / "pipeline",
                       seed=0, verbose=0, learning_rate=3e-3)
    rows["pipeline_accuracy"] = cnnzoo.evaluate(piped.model, test)["accuracy"]

    # fine_tune from the shipped Fashion-MNIST weights onto the 8x8 digits, resized.
    tuned, histories = cnnzoo.fine_tune("mnist_cnn", (x[:512], y[:512]), resize=True,
                                        workdir=mine / "finetune", head_epochs=1, epochs=1,
                                        batch_size=64, seed=0, verbose=0)
    rows["fine_tune_phases"] = sorted(k for k, v in histories.items() if v is not None)
    rows["fine_tune_output"] = list(tuned.output_shape)

    # cnnzoo.viz on the trained model.
    result = cnnzoo.evaluate(model, (x_test, y_test))
    figures = {
        "history": cnnzoo.viz.plot_history(mine / "arrays"),
        "confusion": cnnzoo.viz.plot_confusion_matrix(result),
        "class_metrics": cnnzoo.viz.plot_class_metrics(result),
        "mistakes": cnnzoo.viz.plot_worst_mistakes(model, (x_test, y_test), count=4),
        "images": cnnzoo.viz.plot_images((x_test[:4], y_test[:4])),
        "pipeline_images": cnnzoo.viz.plot_images(test),
        "filters": cnnzoo.viz.plot_filters(model),
        "feature_maps": cnnzoo.viz.plot_feature_maps(model, x_test[0]),
        "grad_cam": cnnzoo.viz.plot_grad_cam(model, x_test[0]),
    }
    for key, figure in figures.items():
        cnnzoo.viz.save_figure(figure, mine / f"{key}.png")
    cam = cnnzoo.viz.grad_cam(model, x_test[0], class_index=int(y_test[0]))
    np.save(mine / "grad_cam.npy", cam.heatmap)
    rows["figures"] = sorted(figures)

    # Files for the other backends, with what they predict here.
    model.save(mine / "model.keras")
    model.save_weights(mine / "model.weights.h5")
    np.save(mine / "predictions.npy",
            keras.ops.convert_to_numpy(model(x_test[:32].astype("float32"))))
    rows["loaded"] = load_others(out, backend)
    return rows


def load_others(out, backend):
    """Returns `{other backend: [max difference of the .keras file's probabilities, of the
    .weights.h5 file's, of the Grad-CAM heat map]}` against what that backend computed,
    for each other backend's files under `out`."""
    import keras

    import cnnzoo
    import cnnzoo.viz
    from cnnzoo.data import load_arrays

    images, labels, _ = load_arrays("digits", "test")
    images = images[:32].astype("float32")

    found = {}
    for folder in sorted(out.iterdir()):
        if folder.name == backend or not (folder / "model.keras").is_file():
            continue
        expected = np.load(folder / "predictions.npy")
        loaded = keras.saving.load_model(folder / "model.keras")
        from_file = keras.ops.convert_to_numpy(loaded(images))
        fresh = cnnzoo.build("tutorial_5x5", input_shape=images.shape[1:], num_classes=10)
        fresh.load_weights(folder / "model.weights.h5")
        from_weights = keras.ops.convert_to_numpy(fresh(images))
        cam = cnnzoo.viz.grad_cam(loaded, images[0], class_index=int(labels[0])).heatmap
        found[folder.name] = [float(np.abs(from_file - expected).max()),
                              float(np.abs(from_weights - expected).max()),
                              float(np.abs(cam - np.load(folder / "grad_cam.npy")).max())]
    return found


def main(task, out, *args):
    import keras

    backend = keras.backend.backend()
    out = Path(out)
    (out / backend).mkdir(parents=True, exist_ok=True)
    tasks = {"models": lambda: run_models(out, backend, args),
             "shipped": lambda: run_shipped(out, backend, *args),
             "library": lambda: run_library(out, backend),
             "load": lambda: {"loaded": load_others(out, backend)}}
    rows = tasks[task]()
    rows["tensorflow_imported"] = "tensorflow" in sys.modules
    (out / f"{backend}-{task}.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main(*sys.argv[1:])
