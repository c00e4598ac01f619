"""bench/bench_gpu.py --quick on the CPU JAX backend with TensorFlow blocked, as on the GPU
machine (JAX, no TensorFlow): until a GPU is at hand this is the script's proof."""

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


def test_missing_files_are_named(tmp_path):
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import bench_gpu
    finally:
        sys.path.remove(str(REPO / "bench"))
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte.gz"):
        bench_gpu.load_fashion_mnist(tmp_path)
