"""Choosing the strategy, the precision policy and XLA from their "auto" settings."""

import json

import pytest

from cnnzoo.training.precision import (resolve_jit_compile, resolve_mixed_precision,
                                       resolve_steps_per_execution)
from cnnzoo.training.strategy import make_strategy, resolve_distribute


def _has_gpu():
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


@pytest.mark.skipif(_has_gpu(), reason="checks the CPU defaults")
def test_auto_is_one_device_on_a_cpu_machine(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert resolve_distribute("auto") == "none"
    assert make_strategy("none") is None
    assert resolve_mixed_precision("auto") == "float32"
    assert resolve_jit_compile("auto") is False


def test_auto_is_multi_worker_when_tf_config_lists_a_cluster(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", json.dumps({
        "cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]},
        "task": {"type": "worker", "index": 0}}))
    assert resolve_distribute("auto") == "multi_worker"


def test_multi_worker_without_tf_config_says_what_to_set(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="needs TF_CONFIG"):
        resolve_distribute("multi_worker")


@pytest.mark.parametrize("call, message", [
    (lambda: resolve_distribute("tpu"), "distribute must be one of"),
    (lambda: resolve_mixed_precision("float8"), "mixed_precision must be one of"),
    (lambda: resolve_jit_compile("yes"), "jit_compile must be True, False or 'auto'"),
    (lambda: resolve_steps_per_execution(0), "steps_per_execution must be a positive integer"),
    (lambda: resolve_steps_per_execution(True), "steps_per_execution must be a positive"),
    (lambda: resolve_steps_per_execution(4, steps_per_epoch=6), "does not divide"),
])
def test_unknown_settings_are_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("settings, expected", [
    ({}, 8),                                              # TensorFlow's own rule
    ({"steps_per_epoch": 12}, 6),                         # the largest divisor up to 8
    ({"steps_per_epoch": 7}, 7),
    ({"steps_per_epoch": 11}, 1),
    ({"compiled_with": 16}, 16),                          # the model's own choice kept
    ({"compiled_with": 16, "callbacks_watch_batches": True}, 1),
    ({"distributed": True}, 1),                           # Keras fails several a call there
])
def test_steps_per_execution_auto(settings, expected):
    assert resolve_steps_per_execution("auto", **settings) == expected
