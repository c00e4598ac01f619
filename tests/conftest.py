"""Shared test settings: quiet TensorFlow logs, fixed seeds, an empty doctor cache."""

import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# A developer's `cnnzoo doctor` findings would change what "auto" means in `fit`.
os.environ["CNNZOO_CACHE_DIR"] = tempfile.mkdtemp(prefix="cnnzoo-test-cache-")

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Each test starts from the same seed and a clean Keras graph namespace."""
    keras.utils.set_random_seed(0)
    yield
    # Without the forced `gc.collect()` (Python's own collector still runs): it cost
    # 0.3-0.5 s a test, half the time of the model tests (180 of them: 90 s -> 24-40 s).
    keras.backend.clear_session(free_memory=False)
