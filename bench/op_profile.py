"""Where a TensorFlow training step spends its time, by kind of kernel, from TF's profiler.

`profile_step_kernels` traces a few steps with `tf.profiler.experimental` and reads the
trace it writes (an `XSpace` protobuf) back: every kernel TensorFlow ran on the host, with
its duration, sorted into the kinds below by its op name. Kernels of independent ops run
side by side on TF's inter-op threads, so the kinds' times can add up to more than a step.

Reading the trace uses `tensorflow.tsl.profiler.protobuf.xplane_pb2`, which TensorFlow
ships but does not document: the TensorBoard profile plugin that would read it is not
installed here, and only the per-op durations are needed.
"""

import collections
import pathlib
import tempfile

# Kinds in the order printed, each with the op-name fragments that mark it (first match).
KINDS = (
    ("conv input gradient", ("Conv2DBackpropInput", "DepthwiseConv2dNativeBackpropInput")),
    ("conv kernel gradient", ("Conv2DBackpropFilter", "DepthwiseConv2dNativeBackpropFilter")),
    ("conv forward", ("Conv2D", "DepthwiseConv2dNative")),
    ("dense", ("MatMul",)),
    ("batch norm", ("BatchNorm",)),
    ("pooling", ("Pool",)),
    ("optimizer", ()),     # ops under the optimizer's name scope
    ("elementwise", ()),   # everything else: activations, their gradients, adds, loss
)


def kind_of(op_name, optimizer_scope):
    """Returns the kind (see `KINDS`) of a traced kernel named `scope/.../name:OpType`."""
    scope, _, op_type = op_name.rpartition(":")
    for kind, fragments in KINDS:
        if any(fragment in op_type for fragment in fragments):
            return kind
    if f"/{optimizer_scope}/" in f"/{scope}/":
        return "optimizer"
    return "elementwise"


def _kernel_events(xspace):
    """Yields `(op_name, seconds)` for each kernel the trace shows run on the host."""
    for plane in xspace.planes:
        if plane.name != "/host:CPU":
            continue
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                # Kernels are named "scope/op:OpType"; executor bookkeeping has no scope.
                if ":" in name and "/" in name:
                    yield name, event.duration_ps * 1e-12


def profile_step_kernels(run_call, calls, *, optimizer_scope):
    """Returns seconds a step of kernel time by kind, from `calls` traced calls of `run_call`.

    Args:
        run_call: a function running one or more training steps and waiting for them.
        calls: how many calls to trace.
        optimizer_scope: the optimizer's name scope in op names (`model.optimizer.name`).

    Returns:
        A dict from each kind of `KINDS` to seconds a step, and "kernels", the number of
        kernels a step ran. The steps are counted from the trace, as the number of runs
        most kernels had (the profiler can drop events in a long trace).
    """
    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        try:
            for _ in range(calls):
                run_call()
        finally:
            tf.profiler.experimental.stop()
        trace = next(pathlib.Path(logdir).rglob("*.xplane.pb"))
        xspace = xplane_pb2.XSpace()
        xspace.ParseFromString(trace.read_bytes())
    seconds = collections.Counter()
    counts = collections.Counter()
    for name, duration in _kernel_events(xspace):
        seconds[kind_of(name, optimizer_scope)] += duration
        counts[name] += 1
    if not counts:
        raise RuntimeError("the profiler recorded no kernel; is another trace running?")
    traced_steps = collections.Counter(counts.values()).most_common(1)[0][0]
    result = {kind: seconds[kind] / traced_steps for kind, _ in KINDS}
    result["kernels"] = sum(counts.values()) / traced_steps
    return result
