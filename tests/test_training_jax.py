"""cnnzoo.fit (augmenting on the device) and cnnzoo.evaluate on Keras's JAX backend with
NumPy arrays, TensorFlow absent."""

import subprocess
import sys
import textwrap

import pytest
from without_tensorflow import BLOCK_TENSORFLOW

pytest.importorskip("jax")

SCRIPT = BLOCK_TENSORFLOW + textwrap.dedent("""
    import keras
    import cnnzoo
    from cnnzoo.data import load_arrays

    assert keras.backend.backend() == "jax"
    from cnnzoo.data.device_augment import augmenting

    x, y, info = load_arrays("digits", "train")
    x_test, y_test, _ = load_arrays("digits", "test")
    # Augmented on the device, inside the jit-compiled step: the way on JAX.
    network = cnnzoo.build("tutorial_5x5", input_shape=x.shape[1:], num_classes=10,
                           compile=False)
    history = cnnzoo.fit(augmenting(network, "light", flip_allowed=False, seed=0), (x, y),
                         epochs=4, workdir=sys.argv[1], batch_size=32, schedule="cosine",
                         learning_rate=3e-3, seed=0, verbose=0)
    assert history.model.jit_compile is True
    result = cnnzoo.evaluate(network, (x_test, y_test))
    print(result["accuracy"])
""")


@pytest.mark.slow
def test_fit_and_evaluate_run_on_jax_without_tensorflow(tmp_path):
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "run")],
                            capture_output=True, text=True, timeout=300,
                            env={"KERAS_BACKEND": "jax", "PATH": "/usr/bin:/bin",
                                 "JAX_PLATFORMS": "cpu"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert float(result.stdout.split()[-1]) > 0.8
    assert (tmp_path / "run" / "last.keras").is_file()
