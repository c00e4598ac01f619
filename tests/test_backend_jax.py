"""The TensorFlow-free path: models, the sample's arrays and Keras `fit` on the JAX backend.

A GPU machine may carry JAX but no TensorFlow, so this runs in a subprocess with
`KERAS_BACKEND=jax` and `import tensorflow` made to fail.
"""

import subprocess
import sys
import textwrap

import pytest
from without_tensorflow import BLOCK_TENSORFLOW

pytest.importorskip("jax")

SCRIPT = BLOCK_TENSORFLOW + textwrap.dedent("""
    import numpy as np
    import keras
    import cnnzoo
    from cnnzoo.data import load_arrays

    assert keras.backend.backend() == "jax"
    keras.utils.set_random_seed(0)
    x, y, info = load_arrays("fashion_mnist_sample", "train")
    x_test, y_test, _ = load_arrays("fashion_mnist_sample", "test")
    model = cnnzoo.build("mnist_cnn", input_shape=info.image_shape,
                         num_classes=info.num_classes)
    history = model.fit(x.astype("float32"), y, batch_size=64, epochs=2, verbose=0)
    loss, accuracy, top5 = model.evaluate(x_test.astype("float32"), y_test, verbose=0)
    assert "tensorflow" not in sys.modules

    import contextlib, io
    from cnnzoo.cli import main
    with contextlib.redirect_stdout(io.StringIO()) as table:
        assert main(["list"]) == 0, "cnnzoo list must run without TensorFlow"
    assert "mnist_cnn" in table.getvalue()
    assert "tensorflow" not in sys.modules
    print(history.history["loss"][0], history.history["loss"][-1], accuracy)
""")


@pytest.mark.slow
def test_models_and_fit_run_on_jax_without_tensorflow():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                            timeout=300, env={"KERAS_BACKEND": "jax", "PATH": "/usr/bin:/bin",
                                              "JAX_PLATFORMS": "cpu"})
    assert result.returncode == 0, result.stderr[-3000:]
    first_loss, last_loss, accuracy = map(float, result.stdout.split()[-3:])
    assert last_loss < first_loss
    assert accuracy > 0.6, f"test accuracy {accuracy} after 2 epochs on the sample"
