"""The speed doctor: what it times, what it advises, its cache, and fit's "auto" following it.

No timing is asserted: the tests check what was measured and how findings are kept and
applied, with findings written from chosen figures where the advice matters.
"""

import argparse
import dataclasses
import json

import keras
import pytest

from cnnzoo import doctor
from cnnzoo.doctor import Timing, diagnose, load_finding, save_finding
from cnnzoo.doctor_cli import add_doctor_command, run_doctor
from cnnzoo.training.precision import (default_jit_compile, default_mixed_precision, gpus,
                                       resolve_jit_compile, resolve_mixed_precision)

MODEL, SHAPE = "tutorial_5x5", (8, 8, 1)
# Timed beside the device's rule: bfloat16 (emulated where the CPU lacks it) costs a tiny
# model far less to set up than an XLA compilation.
OTHER = ("mixed_bfloat16", False)


@pytest.fixture(scope="module")
def result():
    """A real, tiny diagnosis: the device's rule and `OTHER`, 2 steps, 1 repeat."""
    return diagnose(MODEL, steps=2, repeats=1, batch_size=8, input_shape=SHAPE,
                    combinations=[OTHER])


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNZOO_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def with_rates(result, rates):
    """Returns `result` with its timings replaced by `{(policy, jit): images/s}`."""
    return dataclasses.replace(result, timings=tuple(
        Timing(policy, jit, rate, (1.0,)) for (policy, jit), rate in rates.items()))


def rule():
    return (default_mixed_precision(), default_jit_compile())


def test_diagnose_times_the_rule_each_combination_and_the_pipeline(result):
    expected = [rule()] + ([OTHER] if rule() != OTHER else [])
    assert [(t.mixed_precision, t.jit_compile) for t in result.timings] == expected
    for timing in result.timings:
        assert timing.error is None and timing.images_per_second > 0
        assert len(timing.seconds) == 1
    assert result.pipeline_images_per_second > 0
    assert (result.batch_size, result.input_shape, result.steps) == (8, SHAPE, 2)
    assert result.key == doctor.machine_key(MODEL)
    report = result.report()
    assert all(timing.label in report for timing in result.timings)
    assert f"use: mixed_precision={result.best.mixed_precision!r}" in report
    assert "input pipeline" in report


@pytest.mark.skipif(bool(gpus()), reason="checks the CPU's combinations")
def test_on_a_cpu_float32_is_tried_with_and_without_xla_and_bfloat16_only_where_native():
    tried, skipped = doctor.candidate_settings()
    reasons = dict(skipped)
    if keras.backend.backend() == "tensorflow":
        assert {("float32", False), ("float32", True)} <= set(tried)
    assert "mixed_float16" in reasons and ("mixed_float16", False) not in tried
    bfloat16 = [jit for policy, jit in tried if policy == "mixed_bfloat16"]
    assert bool(bfloat16) == doctor.cpu_has_bfloat16() != ("mixed_bfloat16" in reasons)


def test_the_advice_keeps_the_rule_unless_clearly_faster_and_names_a_slow_pipeline(result):
    other = ("float32", not rule()[1])
    close = with_rates(result, {rule(): 100.0, other: 102.0})
    assert (close.best.mixed_precision, close.best.jit_compile) == rule()
    faster = with_rates(result, {rule(): 100.0, other: 150.0})
    assert (faster.best.mixed_precision, faster.best.jit_compile) == other
    failed = dataclasses.replace(result, timings=(Timing("float32", True, None, error="E"),))
    assert failed.best is None and failed.finding() is None
    assert "nothing to save" in pytest.raises(ValueError, save_finding, failed).value.args[0]

    slow = dataclasses.replace(with_rates(result, {rule(): 1000.0}),
                               pipeline_images_per_second=500.0)
    assert slow.pipeline_is_bottleneck is True and slow.pipeline_ratio == 0.5
    assert "the bottleneck" in slow.report()
    fast = dataclasses.replace(slow, pipeline_images_per_second=5000.0)
    assert fast.pipeline_is_bottleneck is False and "not the bottleneck" in fast.report()


def test_auto_follows_a_saved_finding_for_that_model_only(result, cache_dir):
    xla = with_rates(result, {rule(): 100.0, ("mixed_bfloat16", not rule()[1]): 300.0})
    path = save_finding(xla)
    assert path == cache_dir / "doctor.json"
    assert [p.name for p in cache_dir.iterdir()] == ["doctor.json"]  # Nothing partial left.
    assert resolve_jit_compile("auto", model_name=MODEL) is (not rule()[1])
    assert resolve_mixed_precision("auto", model_name=MODEL) == "mixed_bfloat16"
    assert resolve_jit_compile("auto", model_name="mnist_cnn") is rule()[1]
    assert resolve_mixed_precision("auto", model_name="mnist_cnn") == rule()[0]
    assert resolve_jit_compile("auto") is rule()[1]  # No model named: the rule.
    assert resolve_jit_compile(rule()[1], model_name=MODEL) is rule()[1]  # Explicit wins.
    assert resolve_mixed_precision("float32", model_name=MODEL) == "float32"

    save_finding(with_rates(result, {rule(): 100.0}))  # Measured again: replaces it.
    assert resolve_jit_compile("auto", model_name=MODEL) is rule()[1]
    assert len(json.loads(path.read_text())["findings"]) == 1


def test_a_finding_from_another_machine_or_version_is_ignored_and_kept(result):
    path = save_finding(with_rates(result, {rule(): 1.0, ("float32", not rule()[1]): 9.0}))
    saved = path.read_text()
    assert load_finding(MODEL) is not None
    for field, value in [("keras", "0.0.1"), ("backend_version", "0.0.1"),
                         ("backend", "torch"), ("device", "another machine")]:
        stored = json.loads(saved)
        stored["findings"][0]["key"][field] = value
        path.write_text(json.dumps(stored))
        assert load_finding(MODEL) is None, field
        assert resolve_jit_compile("auto", model_name=MODEL) is rule()[1]

    save_finding(result)  # Beside the last edit's, from "another machine", and lenet5's.
    save_finding(dataclasses.replace(result, model="lenet5", key=doctor.machine_key("lenet5")))
    keys = [(f["key"]["model"], f["key"]["device"])
            for f in json.loads(path.read_text())["findings"]]
    assert sorted(keys) == sorted([(MODEL, "another machine"), (MODEL, result.key["device"]),
                                   ("lenet5", result.key["device"])])


def test_fit_builds_with_what_the_doctor_found(result, tmp_path):
    import numpy as np

    import cnnzoo

    save_finding(with_rates(result, {rule(): 100.0, ("mixed_bfloat16", rule()[1]): 300.0}))
    images, labels = np.zeros((8, *SHAPE), "uint8"), np.arange(8) % 3
    history = cnnzoo.fit(MODEL, (images, labels), epochs=1, workdir=tmp_path / "run",
                         num_classes=3, batch_size=4, tensorboard=False, verbose=0)
    assert history.model.dtype_policy.name == "mixed_bfloat16"
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["training"]["mixed_precision"] == "mixed_bfloat16"


def test_an_unreadable_cache_warns_and_auto_keeps_the_rule(cache_dir):
    cache_dir.mkdir()
    for text in ["not json", '{"format": 99, "findings": []}', "[1, 2]",
                 '{"format": 1, "findings": [{"key": 1}]}']:
        (cache_dir / "doctor.json").write_text(text)
        with pytest.warns(UserWarning, match="ignoring the speed doctor's cache"):
            assert resolve_mixed_precision("auto", model_name=MODEL) == rule()[0]


def test_bad_arguments_are_refused_before_anything_is_built():
    for kwargs, message in [
            ({"steps": 0}, "steps must be a positive integer"),
            ({"repeats": 1.5}, "repeats must be a positive integer"),
            ({"batch_size": -8}, "batch_size must be a positive integer"),
            ({"model_name": "tutorial_5x"}, "did you mean"),
            ({"input_shape": (8, 8)}, "input_shape must be"),
            ({"model_name": "vgg11_bn"}, "needs images of at least 32x32"),
            ({"combinations": [("float8", True)]}, "each combination is"),
            ({"combinations": [("float32", "yes")]}, "each combination is")]:
        with pytest.raises(ValueError, match=message):
            diagnose(**{"model_name": MODEL, "input_shape": SHAPE, **kwargs})


def test_the_jax_backend_always_compiles(monkeypatch):
    pytest.importorskip("jax")
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    monkeypatch.setenv("JAX_PLATFORMS", "cpu")
    assert default_jit_compile() is True
    tried, skipped = doctor.candidate_settings()
    assert all(jit for _, jit in tried) and "XLA off" in dict(skipped)


def doctor_parser():
    parser = argparse.ArgumentParser(prog="cnnzoo")
    add_doctor_command(parser.add_subparsers(dest="command"))
    return parser


def test_the_command_prints_the_report_and_saves_unless_told_not_to(result, monkeypatch,
                                                                  cache_dir):
    monkeypatch.setattr(doctor, "diagnose", lambda model, **kwargs: result)
    lines = []
    args = doctor_parser().parse_args(["doctor", MODEL, "--no-save"])
    args.handler(args, say=lines.append)
    assert result.report() in lines and not cache_dir.exists()
    args = doctor_parser().parse_args(["doctor", MODEL, "--steps", "5"])
    assert (args.steps, args.repeats, args.batch_size) == (5, 5, None)
    args.handler(args, say=lines.append)
    assert load_finding(MODEL) == dataclasses.replace(result.finding(),
                                                      date=load_finding(MODEL).date)
    assert f"saved to {cache_dir / 'doctor.json'}" in lines[-1]


def test_cnnzoo_doctor_is_a_command():
    from cnnzoo.cli import build_parser

    args = build_parser().parse_args(["doctor"])
    assert (args.model, args.handler) == ("mnist_cnn", run_doctor)
