"""cnnzoo on Keras's three backends: tensorflow, jax and torch, compared, not just run.

The backend is fixed when Keras is imported, so each backend runs tests/backend_worker.py
in its own subprocess (many models a process) and the tests compare what they wrote:

- the registered models: the weights saved by the TensorFlow process, loaded on JAX and
  PyTorch, give the same probabilities (within float32 round-off), and one training step
  gives the same loss (dropout off, so no backend's random draws enter it);
- the shipped weights: the same probabilities (at most 1e-4 apart) and accuracy (within
  0.05 points) on the first 1,000 Fashion-MNIST test images, or on all 10,000 with
  CNNZOO_BACKENDS_FULL=1 (Debian's dataset-fashion-mnist; skipped where absent);
- the library: `cnnzoo.fit` from arrays and from the tf.data pipeline, a resume,
  `evaluate`, `fine_tune`, `cnnzoo.viz` (Grad-CAM included), and `.keras` and
  `.weights.h5` files written on each backend loaded on the other two;
- export says, in one line, to export the `.keras` file from a TensorFlow process.

By default one model of each family runs (the smallest, and resnet9_w24, which ships);
CNNZOO_ALL_MODELS=1 runs all 26 (4 minutes on 2 cores, mostly on JAX, where each eager op
compiles on first use). JAX runs on the CPU; the torch cases skip where PyTorch is not
installed (`pip install -e ".[torch]"`).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cnnzoo
from cnnzoo.pretrained import read_manifest

WORKER = Path(__file__).with_name("backend_worker.py")
FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
# resnet18's ImageNet stem runs with CNNZOO_ALL_MODELS=1 only: 50 s on JAX on 2 cores.
ONE_PER_FAMILY = ["mnist_cnn", "keras_mnist_convnet", "tutorial_5x5", "lenet5",
                  "alexnet_lite", "vgg11_bn", "resnet20", "resnet9_w24"]
MODELS = (cnnzoo.list_models() if os.environ.get("CNNZOO_ALL_MODELS") == "1"
          else ONE_PER_FAMILY)


def _installed(name):
    import importlib.util

    return importlib.util.find_spec(name) is not None


OTHER_BACKENDS = [
    pytest.param("jax", marks=pytest.mark.skipif(not _installed("jax"),
                                                 reason="JAX is not installed")),
    pytest.param("torch", marks=pytest.mark.skipif(
        not _installed("torch"),
        reason="PyTorch is not installed: pip install -e '.[torch]' (CPU only: pip install "
               "torch --index-url https://download.pytorch.org/whl/cpu)")),
]
AVAILABLE = ["tensorflow"] + [name for name in ("jax", "torch") if _installed(name)]


def run_worker(backend, task, out, *args, timeout=900):
    """Runs one task of tests/backend_worker.py on `backend`; returns what it wrote."""
    env = {**os.environ, "KERAS_BACKEND": backend, "JAX_PLATFORMS": "cpu",
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run([sys.executable, str(WORKER), task, str(out), *args], env=env,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{backend} {task}:\n{result.stderr[-4000:]}"
    return json.loads((Path(out) / f"{backend}-{task}.json").read_text())


@pytest.fixture(scope="module")
def models_run(tmp_path_factory):
    """The models task on every installed backend, TensorFlow first (it saves the weights)."""
    out = tmp_path_factory.mktemp("models")
    return out, {backend: run_worker(backend, "models", out, *MODELS)
                 for backend in AVAILABLE}


@pytest.mark.slow
@pytest.mark.parametrize("backend", OTHER_BACKENDS)
def test_every_model_gives_tensorflows_outputs_and_trains(models_run, backend):
    out, rows = models_run
    for name in MODELS:
        expected = np.load(out / "tensorflow" / f"{name}.npy")
        probabilities = np.load(out / backend / f"{name}.npy")
        np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-5)
        np.testing.assert_allclose(probabilities, expected, atol=1e-5, err_msg=name)
        row = rows[backend][name]
        assert row["weights_finite"], f"{name} on {backend}: a weight is not finite"
        # The same weights, batch and batch statistics: the same training-mode loss. Not
        # tighter: batch statistics of 8 images at 1x1 pixels, 150 layers deep, amplify
        # round-off (resnet152: 5e-4 apart at batch 8, 41% at batch 2; 2e-5 or less for
        # all but resnet101 and resnet152).
        assert row["loss"] == pytest.approx(rows["tensorflow"][name]["loss"], rel=1e-3), name


@pytest.fixture(scope="module")
def shipped_run(tmp_path_factory):
    if not (FASHION_MNIST / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"Debian's Fashion-MNIST is not at {FASHION_MNIST} "
                    "(apt-get install dataset-fashion-mnist)")
    limit = "" if os.environ.get("CNNZOO_BACKENDS_FULL") == "1" else "1000"
    out = tmp_path_factory.mktemp("shipped")
    return out, {backend: run_worker(backend, "shipped", out, limit) for backend in AVAILABLE}


@pytest.mark.slow
@pytest.mark.parametrize("backend", OTHER_BACKENDS)
def test_shipped_weights_give_the_same_probabilities_and_accuracy(shipped_run, backend):
    out, rows = shipped_run
    assert len(rows[backend]) - 1 == len(read_manifest())
    for key, row in rows["tensorflow"].items():
        if not isinstance(row, dict):
            continue
        expected = np.load(out / "tensorflow" / f"{key}.npy")
        difference = np.abs(np.load(out / backend / f"{key}.npy") - expected).max()
        assert difference <= 1e-4, f"{key}: probabilities differ by {difference:.2e}"
        assert abs(rows[backend][key]["accuracy"] - row["accuracy"]) <= 0.0005, key
        assert row["accuracy"] > 0.85, f"{key}: {row['accuracy']:.2%} on TensorFlow"


@pytest.fixture(scope="module")
def library_run(tmp_path_factory):
    """The library task on every installed backend, then each backend but the last loads
    the files of those that ran after it."""
    out = tmp_path_factory.mktemp("library")
    rows = {backend: run_worker(backend, "library", out) for backend in AVAILABLE}
    for backend in AVAILABLE[:-1]:
        rows[backend]["loaded"] = run_worker(backend, "load", out)["loaded"]
    return out, rows


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", *OTHER_BACKENDS])
def test_fit_resume_evaluate_fine_tune_and_viz_run(library_run, backend):
    out, rows = library_run
    row = rows[backend]
    assert row["arrays_epochs"] == [0] and row["resumed_epochs"] == [1]
    assert row["arrays_accuracy"] > 0.8, row
    assert row["pipeline_accuracy"] > 0.6, row
    assert row["fine_tune_phases"] == ["head", "tune"] and row["fine_tune_output"][-1] == 10
    for figure in row["figures"]:
        assert (out / backend / f"{figure}.png").stat().st_size > 1000, figure
    history = (out / backend / "arrays" / "history.csv").read_text().splitlines()
    assert len(history) == 3, history  # A header and the two epochs, across the resume.
    heatmap = np.load(out / backend / "grad_cam.npy")
    assert heatmap.max() == pytest.approx(1.0) and heatmap.min() >= 0.0


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", *OTHER_BACKENDS])
def test_files_written_on_one_backend_load_and_predict_the_same_on_the_others(library_run,
                                                                            backend):
    _, rows = library_run
    loaded = rows[backend]["loaded"]
    assert sorted(loaded) == sorted(set(AVAILABLE) - {backend})
    for other, (keras_file, weights_file, grad_cam) in loaded.items():
        assert keras_file <= 1e-5, f".keras from {other} on {backend}: {keras_file:.2e}"
        assert weights_file <= 1e-5, f".weights.h5 from {other} on {backend}"
        assert grad_cam <= 1e-4, f"Grad-CAM of {other}'s model on {backend}: {grad_cam:.2e}"


EXPORT_SCRIPT = """
import contextlib, io, sys
import numpy as np
import cnnzoo
from cnnzoo.cli import main
from cnnzoo.export import export_model

model = cnnzoo.build("tutorial_5x5")
model.save(sys.argv[1] + "/model.keras")
try:
    export_model(model, sys.argv[1] + "/export")
except ValueError as error:
    print("API:", error)
with contextlib.redirect_stderr(io.StringIO()) as stderr:
    status = main(["export", sys.argv[1] + "/model.keras", sys.argv[1] + "/export"])
print("CLI:", status, stderr.getvalue().strip().replace("\\n", " | "))
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", OTHER_BACKENDS)
def test_export_on_another_backend_says_to_export_the_keras_file_from_tensorflow(
        tmp_path, backend):
    result = subprocess.run([sys.executable, "-c", EXPORT_SCRIPT, str(tmp_path)],
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "KERAS_BACKEND": backend,
                                 "JAX_PLATFORMS": "cpu"})
    assert result.returncode == 0, result.stderr[-3000:]
    api, cli = result.stdout.strip().splitlines()[-2:]
    for line in (api, cli):
        assert f"Keras runs on {backend!r}" in line and "from a TensorFlow process" in line
        assert "KERAS_BACKEND=tensorflow cnnzoo export model.keras" in line
    assert cli.startswith("CLI: 2 cnnzoo export: error: export needs TensorFlow")
    assert " | " not in cli  # One line.
    assert not (tmp_path / "export").exists()
