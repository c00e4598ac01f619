"""bench/bench_gpu.py --quick on the CPU JAX backend with TensorFlow blocked, as on the GPU
machine (JAX and PyTorch, no TensorFlow), and on Keras's PyTorch backend with the plain
PyTorch baseline (bench/torch_resnet9.py) where PyTorch is installed: until a GPU is at
hand this is the script's proof."""

import importlib.util
import json
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from without_tensorflow import BLOCK_TENSORFLOW

from cnnzoo.data.idx import write_idx

pytest.importorskip("jax")
needs_torch = pytest.mark.skipif(
    importlib.util.find_spec("torch") is None,
    reason="PyTorch is not installed: pip install -e '.[torch]' (CPU only: pip install "
           "torch --index-url https://download.pytorch.org/whl/cpu)")

REPO = pathlib.Path(__file__).parents[1]
RUN_WITHOUT_TENSORFLOW = BLOCK_TENSORFLOW + textwrap.dedent("""
    import runpy
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")
""")


@pytest.fixture(scope="module")
def tiny_fashion_mnist(tmp_path_factory):
    """Four IDX files of 64 random 28x28 images, named as Fashion-MNIST's."""
    folder = tmp_path_factory.mktemp("fashion")
    rng = np.random.default_rng(0)
    for prefix in ("train", "t10k"):
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz",
                  rng.integers(0, 256, (64, 28, 28), dtype=np.uint8))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz",
                  rng.integers(0, 10, 64, dtype=np.uint8))
    return folder


@pytest.mark.slow
def test_quick_bench_runs_on_jax_without_tensorflow(tiny_fashion_mnist, tmp_path):
    out = tmp_path / "results.json"
    result = subprocess.run(
        [sys.executable, "-c", RUN_WITHOUT_TENSORFLOW, str(REPO / "bench" / "bench_gpu.py"),
         str(tiny_fashion_mnist), "--quick", "--batch-size", "32", "--out", str(out)],
        capture_output=True, text=True, timeout=300,
        env={"KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results["device"].startswith("1x cpu") and results["tensorflow_imported"] is False
    assert [row["precision"] for row in results["runs"]] == ["float32", "mixed_bfloat16"]
    for row in results["runs"]:
        assert row["jit_compile"] is True and row["device"] == results["device"]
        assert len(row["epochs"]) == 2 and row["batch_size"] == 32
        assert row["images_per_second"] == pytest.approx(
            64 / row["epochs"][1]["train_seconds"])  # The one epoch after the compiling one.
        assert row["train_seconds"] == pytest.approx(
            sum(epoch["train_seconds"] for epoch in row["epochs"]))
        # 64 random images cannot teach 91%; a threshold met would be a counting error.
        assert 0 <= row["best_accuracy"] < 0.91
        assert set(row["train_seconds_to"].values()) == {None}
    assert "114k img/s" in result.stdout and results["device"] in result.stdout
    assert results["backend"] == "jax" and results["torch_baseline"] == []


def _run_quick(data, out, backend, *extra):
    result = subprocess.run(
        [sys.executable, "-c", RUN_WITHOUT_TENSORFLOW, str(REPO / "bench" / "bench_gpu.py"),
         str(data), "--quick", "--batch-size", "32", "--out", str(out), *extra],
        capture_output=True, text=True, timeout=300,
        env={"KERAS_BACKEND": backend, "JAX_PLATFORMS": "cpu", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-3000:]
    return result, json.loads(out.read_text())


@pytest.mark.slow
@needs_torch
def test_quick_bench_compares_resnet9_with_the_plain_pytorch_loop(tiny_fashion_mnist,
                                                                   tmp_path):
    result, results = _run_quick(tiny_fashion_mnist, tmp_path / "r.json", "jax", "--models",
                                 "resnet9_w24", "--precisions", "float32",
                                 "--torch-baseline")
    (run,), (base,), (ratio,) = (results["runs"], results["torch_baseline"],
                                 results["baseline_ratios"])
    assert base["parameters"] == 926_578 and base["device"] == "1x cpu"
    assert (base["batch_size"], base["precision"], len(base["epochs"])) == (
        run["batch_size"], run["precision"], len(run["epochs"])) == (32, "float32", 2)
    assert base["recipe"]["augment"] == run["recipe"]["augment"] == "light"
    assert ratio["throughput_ratio"] == pytest.approx(
        run["images_per_second"] / base["images_per_second"])
    assert set(ratio["train_seconds_to"]) == {"91%", "93%", "94%", "95%"}
    assert f"Keras on jax / plain PyTorch {ratio['throughput_ratio']:.2f}x" in result.stdout


@pytest.mark.slow
@needs_torch
def test_quick_bench_runs_keras_on_pytorch(tiny_fashion_mnist, tmp_path):
    result, results = _run_quick(tiny_fashion_mnist, tmp_path / "r.json", "jax",
                                 "--backend", "torch", "--precisions", "float32")
    assert results["backend"] == "torch" and results["device"] == "1x cpu"
    assert results["tensorflow_imported"] is False
    (run,) = results["runs"]
    assert run["framework"] == "keras/torch" and run["jit_compile"] is False
    assert run["images_per_second"] == pytest.approx(64 / run["epochs"][1]["train_seconds"])
    assert "keras 3" in result.stdout and "on torch" in result.stdout


@needs_torch
def test_the_pytorch_baseline_is_the_same_network_as_resnet9_w24():
    """The shipped Keras weights copied into the PyTorch network predict the same."""
    import torch

    import cnnzoo
    from cnnzoo.data import load_arrays

    sys.path.insert(0, str(REPO / "bench"))
    try:
        import torch_resnet9
    finally:
        sys.path.remove(str(REPO / "bench"))
    images, labels, _ = load_arrays("fashion_mnist_sample", "test")
    images = images[:64].astype("float32")
    keras_model = cnnzoo.build("resnet9_w24", weights="fashion_mnist")
    network = torch_resnet9.copy_keras_weights(torch_resnet9.ResNet9(), keras_model).eval()
    assert torch_resnet9.count_parameters(network) == 926_578
    with torch.no_grad():
        logits = network(torch.as_tensor(images).permute(0, 3, 1, 2))
    probabilities = torch.softmax(logits, -1).numpy()
    np.testing.assert_allclose(probabilities, keras_model.predict(images, verbose=0),
                               atol=1e-5)
    assert np.mean(probabilities.argmax(-1) == labels[:64]) > 0.85


@needs_torch
def test_the_baseline_schedule_and_augmentation_match_keras():
    import keras
    import torch

    sys.path.insert(0, str(REPO / "bench"))
    try:
        import torch_resnet9
    finally:
        sys.path.remove(str(REPO / "bench"))
    schedule = keras.optimizers.schedules.CosineDecay(0.0, decay_steps=80, warmup_target=0.2,
                                                      warmup_steps=20)
    for step in (0, 7, 20, 55, 100):
        assert torch_resnet9.learning_rate_at(step, peak=0.2, warmup_steps=20,
                                              total_steps=100) == pytest.approx(
            float(schedule(step)), abs=1e-6)
    images = torch.arange(2 * 6 * 6, dtype=torch.float32).reshape(2, 1, 6, 6) + 1
    shifted = torch_resnet9.shift_and_flip(images, 2, torch.Generator().manual_seed(0))
    for image, out in zip(images, shifted):
        # Each output is the image moved by at most 2 px (zeros come in), maybe mirrored.
        views = [torch.roll(view, (dy, dx), (1, 2)) for view in (image, image.flip(2))
                 for dy in range(-2, 3) for dx in range(-2, 3)]
        kept = out != 0
        assert any(torch.equal(out[kept], view[kept]) for view in views)


def test_missing_files_are_named(tmp_path):
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import bench_gpu
    finally:
        sys.path.remove(str(REPO / "bench"))
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte.gz"):
        bench_gpu.load_fashion_mnist(tmp_path)
