"""The speed doctor: which mixed-precision and XLA settings train a model fastest here.

`diagnose` builds the model once per combination of settings that makes sense on this
device, times a few training steps of each on random pixels (no input pipeline), and times
the input pipeline alone (`cnnzoo.load_dataset` with the `standard` augmentation on random
uint8 images), alternating the contenders repeat by repeat so that a change in the
machine's load hits them all, and taking medians. `save_finding` keeps the settings it
recommends in a per-machine cache; `fit`'s "auto" settings follow them
(`cnnzoo.training.precision`).

The cache, `doctor.json` in `$CNNZOO_CACHE_DIR` (default `$XDG_CACHE_HOME/cnnzoo`, else
`~/.cache/cnnzoo`), holds one finding per model, Keras backend, device and versions of
Keras and the backend's library: a finding from another machine, GPU or TensorFlow release
is never applied, so a home folder shared between machines is safe.

Only the standard library (and `cnnzoo.atomic`) is imported here; Keras and TensorFlow
load when a function needs them.
"""

import dataclasses
import datetime
import functools
import importlib.metadata
import json
import os
import pathlib
import platform
import statistics
import time
import warnings

from cnnzoo.atomic import write_atomically

__all__ = ["DoctorResult", "Finding", "Timing", "cache_path", "diagnose", "load_finding",
           "machine_key", "save_finding"]

CACHE_FILE = "doctor.json"
CACHE_FORMAT = 1
# A setting replaces the device's rule only when it is this much faster: closer figures
# are within the noise of a few timed steps on a busy machine, and not worth the other
# numerics of a lower precision.
MIN_GAIN = 1.10
# The pipeline is timed over at least this many batches: fewer take a few milliseconds.
PIPELINE_BATCHES = 100
# The pipeline keeps ahead of training by this factor, or is reported as too close: on a
# CPU both share the cores, so a pipeline only a little faster still slows every step.
PIPELINE_MARGIN = 3.0


@dataclasses.dataclass(frozen=True)
class Timing:
    """One combination of settings and its measured training speed.

    Attributes:
        mixed_precision: the dtype policy, e.g. "float32" or "mixed_bfloat16".
        jit_compile: whether XLA compiled the training step.
        images_per_second: the median training rate, or None when the combination failed.
        seconds: each timed repeat's wall time (empty when it failed).
        error: why the combination failed, or None.
    """

    mixed_precision: str
    jit_compile: bool
    images_per_second: float | None
    seconds: tuple = ()
    error: str | None = None

    @property
    def label(self):
        """The combination in words.

        Example:
            >>> Timing("mixed_bfloat16", True, 1200.0).label
            'mixed_bfloat16, XLA on'
        """
        return f"{self.mixed_precision}, XLA {'on' if self.jit_compile else 'off'}"


@dataclasses.dataclass(frozen=True)
class Finding:
    """The settings the doctor recommends for a model on one machine (a cache entry).

    Attributes:
        key: `machine_key(model)`: model, backend, device and versions it holds for.
        mixed_precision: the recommended dtype policy.
        jit_compile: the recommended XLA setting.
        images_per_second: the training rate measured with them.
        date: when it was measured (UTC, ISO 8601).
    """

    key: dict
    mixed_precision: str
    jit_compile: bool
    images_per_second: float | None = None
    date: str | None = None


@dataclasses.dataclass(frozen=True)
class DoctorResult:
    """What `diagnose` measured.

    Attributes:
        model: the registry name.
        key: `machine_key(model)`.
        batch_size, input_shape, steps, repeats: how it was measured.
        timings: one `Timing` per combination tried, in the order tried.
        skipped: `(combination, reason)` pairs for the combinations not tried.
        default: the device's rule, `(mixed_precision, jit_compile)`.
        pipeline_images_per_second: the input pipeline's median rate, or None.
        pipeline_note: why the pipeline was not timed, or None.
    """

    model: str
    key: dict
    batch_size: int
    input_shape: tuple
    steps: int
    repeats: int
    timings: tuple
    skipped: tuple
    default: tuple
    pipeline_images_per_second: float | None
    pipeline_note: str | None = None

    @property
    def best(self):
        """The recommended `Timing`: the fastest, unless the device's rule is within
        `MIN_GAIN` of it (then the rule's), or None when every combination failed."""
        measured = [t for t in self.timings if t.images_per_second]
        if not measured:
            return None
        fastest = max(measured, key=lambda t: t.images_per_second)
        rule = self._rule_timing()
        if rule is not None and fastest.images_per_second < MIN_GAIN * rule.images_per_second:
            return rule
        return fastest

    def _rule_timing(self):
        """Returns the `Timing` of the device's rule, or None when it failed."""
        return next((t for t in self.timings if t.images_per_second
                     and (t.mixed_precision, t.jit_compile) == self.default), None)

    @property
    def pipeline_ratio(self):
        """The pipeline's rate over the recommended training rate, or None."""
        best = self.best
        if best is None or not self.pipeline_images_per_second:
            return None
        return self.pipeline_images_per_second / best.images_per_second

    @property
    def pipeline_is_bottleneck(self):
        """Whether the pipeline delivers fewer images a second than training takes (None
        when either was not measured)."""
        ratio = self.pipeline_ratio
        return None if ratio is None else ratio < 1.0

    def finding(self):
        """Returns the `Finding` to cache, or None when no combination trained."""
        best = self.best
        if best is None:
            return None
        return Finding(key=self.key, mixed_precision=best.mixed_precision,
                       jit_compile=best.jit_compile,
                       images_per_second=round(best.images_per_second, 1),
                       date=datetime.datetime.now(datetime.timezone.utc).isoformat(
                           timespec="seconds"))

    def report(self):
        """Returns the findings as printable text: a table, what was skipped, the advice."""
        shape = "x".join(str(d) for d in self.input_shape)
        lines = [f"{self.model} on {self.key['device']} ({self.key['backend']} backend, Keras "
                 f"{self.key['keras']}, {self.key['backend']} {self.key['backend_version']}); "
                 f"batch {self.batch_size} at {shape}, median of {self.repeats} alternated "
                 f"repeats of {self.steps} steps",
                 f"{'settings':<30} {'img/s':>9} {'vs rule':>8}"]
        rule = self._rule_timing()
        for timing in self.timings:
            if timing.images_per_second is None:
                lines.append(f"{timing.label:<30} {'failed':>9}  {timing.error}")
                continue
            versus = (f"{timing.images_per_second / rule.images_per_second:7.2f}x"
                      if rule else "")
            marks = " (rule)" if (timing.mixed_precision, timing.jit_compile) == self.default \
                else ""
            lines.append(f"{timing.label:<30} {timing.images_per_second:9,.0f} {versus:>8}"
                         f"{marks}")
        if self.pipeline_images_per_second:
            lines.append(f"{'input pipeline (standard aug.)':<30} "
                         f"{self.pipeline_images_per_second:9,.0f}")
        for combination, reason in self.skipped:
            lines.append(f"skipped {combination}: {reason}")
        lines.extend(self._advice())
        return "\n".join(lines)

    def _advice(self):
        best = self.best
        if best is None:
            return ["no combination trained; fit's 'auto' keeps the device's rule."]
        rule = ("the device's rule" if (best.mixed_precision, best.jit_compile) == self.default
                else f"instead of the device's rule: {self.default[0]}, XLA "
                     f"{'on' if self.default[1] else 'off'}")
        lines = [f"use: mixed_precision={best.mixed_precision!r}, "
                 f"jit_compile={best.jit_compile} ({rule}); "
                 f"{best.images_per_second:,.0f} img/s"]
        ratio = self.pipeline_ratio
        if ratio is None:
            lines.append(f"input pipeline: not timed ({self.pipeline_note or 'no rate'})")
        elif ratio < 1.0:
            lines.append(f"input pipeline: the bottleneck, {ratio:.1f}x what training takes; "
                         "use a lighter augmentation preset or more CPU cores")
        elif ratio < PIPELINE_MARGIN:
            lines.append(f"input pipeline: {ratio:.1f}x what training takes, close enough to "
                         "slow training where both share the CPU")
        else:
            lines.append(f"input pipeline: not the bottleneck ({ratio:.1f}x what training "
                         "takes)")
        return lines


def _version(package):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def cpu_model_and_flags():
    """Returns the CPU's model name and its feature flags (empty off Linux); the one reader
    of `/proc/cpuinfo`, which `bench/machine.py` uses too."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
                    break
    except OSError:
        pass
    return model, flags


def cpu_has_bfloat16():
    """Returns whether the CPU computes in bfloat16 natively (AVX512_BF16 or AMX)."""
    return bool(cpu_model_and_flags()[1] & {"avx512_bf16", "amx_bf16"})


@functools.cache
def _device():
    """Returns the device training runs on, in words: the GPU's name, or the CPU's with
    the cores this process may use."""
    import keras

    from cnnzoo.training.precision import gpus

    found = gpus()
    if found:
        if keras.backend.backend() == "jax":
            name = found[0].device_kind
        else:
            import tensorflow as tf

            name = tf.config.experimental.get_device_details(found[0]).get(
                "device_name", "GPU")
        return name if len(found) == 1 else f"{len(found)} x {name}"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cpu_model_and_flags()[0]}, {cores} cores"


def machine_key(model_name):
    """Returns the dict a finding for `model_name` is stored and looked up under: `model`,
    `backend`, `device` (see the module), `keras` and `backend_version`."""
    import keras

    backend = keras.backend.backend()
    return {"model": model_name, "backend": backend, "device": _device(),
            "keras": keras.__version__,
            "backend_version": _version(backend)}  # The backends' packages bear their names.


def cache_path():
    """Returns the doctor's cache file: `$CNNZOO_CACHE_DIR/doctor.json`, else under
    `$XDG_CACHE_HOME/cnnzoo` or `~/.cache/cnnzoo`."""
    folder = os.environ.get("CNNZOO_CACHE_DIR")
    if not folder:
        base = os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache"
        folder = pathlib.Path(base) / "cnnzoo"
    return pathlib.Path(folder).expanduser() / CACHE_FILE


def _read_findings(path):
    """Returns the findings stored at `path` ([] when there is no file; a file that is not
    a doctor cache warns and counts as empty, so training never fails on it)."""
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        if stored.get("format") != CACHE_FORMAT:
            raise ValueError(f"format {stored.get('format')!r}, not {CACHE_FORMAT}")
        return [Finding(**entry) for entry in stored["findings"]]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
        warnings.warn(f"ignoring the speed doctor's cache {str(path)!r}: {error}. Run "
                      "`cnnzoo doctor MODEL` to write it again.", stacklevel=3)
        return []


def load_finding(model_name, *, path=None):
    """Returns the cached `Finding` for `model_name` on this machine, or None.

    Args:
        model_name: the registry name.
        path: the cache file (default: `cache_path()`).

    Returns:
        The finding whose key equals `machine_key(model_name)` and whose settings are
        valid, else None (a cache that cannot be read warns and gives None).
    """
    from cnnzoo.training.precision import MIXED_PRECISION_CHOICES

    key = machine_key(model_name)
    for finding in _read_findings(pathlib.Path(path) if path else cache_path()):
        if (finding.key == key and finding.mixed_precision in MIXED_PRECISION_CHOICES[1:]
                and isinstance(finding.jit_compile, bool)):
            return finding
    return None


def save_finding(result, *, path=None):
    """Stores `result`'s recommended settings in the cache, atomically; returns the path.

    A finding under the same key is replaced; findings for other models and machines stay.

    Args:
        result: a `DoctorResult`.
        path: the cache file (default: `cache_path()`).

    Raises:
        ValueError: `result` has no finding (no combination trained).
        OSError: the cache cannot be written (the old file is left as it was).
    """
    finding = result.finding()
    if finding is None:
        raise ValueError(f"no setting trained {result.model} on this machine, so there is "
                         "nothing to save; see the failures in the report.")
    path = pathlib.Path(path) if path else cache_path()
    kept = [f for f in _read_findings(path) if f.key != finding.key]
    stored = {"format": CACHE_FORMAT,
              "findings": [dataclasses.asdict(f) for f in [*kept, finding]]}
    return write_atomically(path, json.dumps(stored, indent=1) + "\n")


def candidate_settings():
    """Returns `(tried, skipped)` for this device: the `(mixed_precision, jit_compile)`
    combinations worth timing, and `(combination, reason)` for the others."""
    import keras

    from cnnzoo.training.precision import gpu_has_bfloat16, gpus

    backend = keras.backend.backend()
    skipped = []
    if gpus():
        policies = ["float32", "mixed_float16"]
        if gpu_has_bfloat16():
            policies.append("mixed_bfloat16")
        else:
            skipped.append(("mixed_bfloat16", "this GPU predates bfloat16 (Ampere)"))
    else:
        policies = ["float32"]
        skipped.append(("mixed_float16", "CPUs have no fast float16 arithmetic"))
        if cpu_has_bfloat16():
            policies.append("mixed_bfloat16")
        else:
            skipped.append(("mixed_bfloat16", "this CPU has neither AVX512_BF16 nor AMX, so "
                                              "bfloat16 would be emulated"))
    if backend == "jax":
        jit_settings = [True]
        skipped.append(("XLA off", "on JAX it runs every operation eagerly, one at a time "
                                   "(a debugging mode)"))
    elif backend == "tensorflow":
        jit_settings = [False, True]
    else:
        jit_settings = [False]
        skipped.append(("XLA on", f"not measured on the {backend} backend"))
    return [(p, j) for p in policies for j in jit_settings], skipped


def _check_positive(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer; received {name}={value!r}.")


def _chosen(combinations, default):
    """Returns the pairs in `combinations`, checked, with `default` first when missing."""
    from cnnzoo.training.precision import MIXED_PRECISION_CHOICES

    chosen = [] if tuple(default) in map(tuple, combinations) else [tuple(default)]
    for policy, jit in combinations:
        if policy not in MIXED_PRECISION_CHOICES[1:] or not isinstance(jit, bool):
            raise ValueError(
                f"each combination is (mixed_precision, jit_compile) with mixed_precision "
                f"one of {list(MIXED_PRECISION_CHOICES[1:])} and jit_compile True or False; "
                f"received {(policy, jit)!r}.")
        chosen.append((policy, jit))
    return chosen


def _build(model_name, policy, jit_compile, *, input_shape, num_classes, optimizer):
    from cnnzoo.registry import build
    from cnnzoo.training.precision import dtype_policy

    with dtype_policy(policy):
        return build(model_name, input_shape=input_shape, num_classes=num_classes,
                     optimizer=optimizer, jit_compile=jit_compile)


def _timed(run):
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def _pipeline_run(images, labels, batch_size, batch_count):
    """Returns `(run, note)`: a function returning the seconds the input pipeline takes to
    deliver `batch_count` augmented batches of `images`, or None and why it cannot run."""
    try:
        from cnnzoo.data import load_dataset

        dataset, _ = load_dataset((images, labels), batch_size=batch_size, augment="standard",
                                  shuffle=True, seed=0)
    except ImportError as error:  # JAX machines without TensorFlow have no tf.data.
        return None, f"the input pipeline needs TensorFlow ({error})"
    dataset = dataset.repeat()

    def run():
        # A fresh iterator each time: one kept between repeats would fill its prefetch
        # buffer while training is timed, and be timed handing over finished batches. Its
        # first batch (threads starting) is not timed: a training run starts them once.
        batches = iter(dataset)
        next(batches)
        start = time.perf_counter()
        for _ in range(batch_count):
            next(batches)
        return time.perf_counter() - start

    return run, None


def diagnose(model_name="mnist_cnn", *, steps=20, repeats=5, batch_size=None,
             input_shape=None, num_classes=10, combinations=None, say=None):
    """Times training of `model_name` with each sensible setting, and the input pipeline.

    Each combination of `candidate_settings()` builds the model (with its recipe's
    optimizer), traces it with two steps, then the contenders take turns: each repeat
    runs `steps` training steps of every combination from random raw pixels, then draws
    `max(steps, PIPELINE_BATCHES)` batches of random uint8 images from the input
    pipeline with the `standard` augmentation. A combination that fails to train (an op
    XLA cannot compile, say) is reported, not raised.

    Args:
        model_name: a registry name.
        steps: training steps per timed repeat.
        repeats: timed repeats of each contender (medians are taken).
        batch_size: images a step (default: the model's recipe's batch size).
        input_shape: `(height, width, channels)` (default: the model's default input).
        num_classes: classes of the head.
        combinations: `(mixed_precision, jit_compile)` pairs to time instead of all of
            `candidate_settings()`; the device's rule is added when missing, as the
            yardstick.
        say: a function told each step's progress (e.g. `print`), or None.

    Returns:
        A `DoctorResult` (`report()` prints it; `save_finding` caches its advice).

    Raises:
        ValueError: an unknown model, steps, repeats or batch_size not positive
            integers, an input shape the model refuses, or an unknown mixed-precision
            policy in `combinations`.
    """
    for name, value in (("steps", steps), ("repeats", repeats), ("num_classes", num_classes)):
        _check_positive(name, value)
    if batch_size is not None:
        _check_positive("batch_size", batch_size)
    if input_shape is not None and (
            len(tuple(input_shape)) != 3 or not all(
                isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in input_shape)):
        raise ValueError(f"input_shape must be (height, width, channels), positive integers; "
                         f"received input_shape={input_shape!r}.")
    import numpy as np

    from cnnzoo.registry import model_card
    from cnnzoo.training.precision import default_jit_compile, default_mixed_precision
    from cnnzoo.training.recipes import get_recipe

    card = model_card(model_name)  # Refuses unknown names, with suggestions.
    recipe = get_recipe(model_name)
    batch_size = batch_size or recipe.batch_size
    input_shape = tuple(input_shape or card.default_input)
    say = say or (lambda message: None)
    default = (default_mixed_precision(), default_jit_compile())
    tried, skipped = candidate_settings()
    if combinations is not None:
        tried, skipped = _chosen(combinations, default), []

    rng = np.random.default_rng(0)
    count = steps * batch_size
    pixels = rng.integers(0, 256, (count, *input_shape), dtype=np.uint8)
    labels = rng.integers(0, num_classes, count).astype(np.int32)
    images = pixels.astype("float32")  # Models take raw pixels; no pipeline cost here.

    runs, errors = {}, {}
    for policy, jit in tried:
        say(f"building and tracing {model_name} with {policy}, XLA {'on' if jit else 'off'}")
        # A model refusing the input shape is the caller's error: it raises from here.
        model = _build(model_name, policy, jit, input_shape=input_shape,
                       num_classes=num_classes, optimizer=recipe.optimizer)
        try:
            model.fit(images[:2 * batch_size], labels[:2 * batch_size], batch_size=batch_size,
                      epochs=1, shuffle=False, verbose=0)
        # A failure to train (an op XLA cannot compile, a dtype a kernel lacks) is a
        # finding about this combination, not a bug: report it and time the others.
        except Exception as error:  # noqa: BLE001
            errors[policy, jit] = f"{type(error).__name__}: {str(error).splitlines()[0][:120]}"
            continue
        runs[policy, jit] = functools.partial(
            model.fit, images, labels, batch_size=batch_size, epochs=1, shuffle=False,
            verbose=0)
    pipeline_batches = max(steps, PIPELINE_BATCHES)
    pipeline, pipeline_note = _pipeline_run(pixels, labels, batch_size, pipeline_batches)
    if pipeline is not None:
        pipeline()  # Warm-up: tracing.

    seconds = {combination: [] for combination in runs}
    pipeline_seconds = []
    for repeat in range(repeats):
        say(f"repeat {repeat + 1} of {repeats}")
        for combination, run in runs.items():
            seconds[combination].append(_timed(run))
        if pipeline is not None:
            pipeline_seconds.append(pipeline())

    timings = tuple(
        Timing(policy, jit, count / statistics.median(seconds[policy, jit]),
               tuple(seconds[policy, jit])) if (policy, jit) in runs else
        Timing(policy, jit, None, error=errors[policy, jit]) for policy, jit in tried)
    return DoctorResult(
        model=model_name, key=machine_key(model_name), batch_size=batch_size,
        input_shape=input_shape, steps=steps, repeats=repeats, timings=timings,
        skipped=tuple(skipped), default=default,
        pipeline_images_per_second=(pipeline_batches * batch_size /
                                    statistics.median(pipeline_seconds)
                                    if pipeline_seconds else None),
        pipeline_note=pipeline_note)
