"""Seeded determinism, MirroredStrategy over two logical CPUs, and MultiWorkerMirroredStrategy
with two worker processes on 127.0.0.1. Each runs in fresh processes: logical devices and
collective ops must be configured before TensorFlow starts, and op determinism cannot be
switched off again."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytestmark = pytest.mark.slow

# Trains tutorial_5x5 on digits into WORKDIR and saves the final weights to WEIGHTS.
TRAIN = """
    import sys, numpy as np
    from cnnzoo.data import load_dataset
    from cnnzoo.training import fit
    workdir, weights, distribute, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    train = load_dataset("digits", "train", batch_size=32, seed=seed, drop_remainder=True,
                         augment="light")
    history = fit("tutorial_5x5", train, epochs=2, steps_per_epoch=8, workdir=workdir,
                  distribute=distribute, seed=seed, verbose=0)
    np.savez(weights, *history.model.get_weights())
    print("loss", history.history["loss"][-1])
"""

TWO_LOGICAL_CPUS = """
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
"""

# MultiWorkerMirroredStrategy configures collective ops, which must precede any other
# TensorFlow work in the process; fit reuses the strategy created here.
MULTI_WORKER_FIRST = """
    from cnnzoo.training import make_strategy
    make_strategy("multi_worker")
"""


def _script(*parts):
    return "\n".join(textwrap.dedent(part) for part in parts)


def _env(**extra):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def _run(script, *args, timeout=240, **env):
    result = subprocess.run([sys.executable, "-c", script, *map(str, args)],
                            capture_output=True, text=True, timeout=timeout, env=_env(**env))
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _weights(path):
    with np.load(path) as arrays:
        return [arrays[key] for key in sorted(arrays.files, key=lambda k: int(k.split("_")[1]))]


def _same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def test_two_seeded_runs_give_equal_weights_and_another_seed_does_not(tmp_path):
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        _run(_script(TRAIN), tmp_path / name, tmp_path / f"{name}.npz", "none", seed)
    a, b, c = (_weights(tmp_path / f"{name}.npz") for name in "abc")
    assert _same(a, b)
    assert not _same(a, c)


def test_mirrored_strategy_over_two_logical_cpus(tmp_path):
    _run(_script(TWO_LOGICAL_CPUS, TRAIN), tmp_path / "run", tmp_path / "w.npz", "mirrored", 0)
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["training"]["replicas"] == 2 and run["status"] == "finished"
    assert all(np.isfinite(w).all() for w in _weights(tmp_path / "w.npz"))


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def test_multi_worker_mirrored_strategy_with_two_workers_on_loopback(tmp_path):
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    script = _script(MULTI_WORKER_FIRST, TRAIN)
    processes = []
    for index in range(2):
        tf_config = json.dumps({"cluster": {"worker": workers},
                                "task": {"type": "worker", "index": index}})
        processes.append(subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path / "run"),
             str(tmp_path / f"worker{index}.npz"), "multi_worker", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=_env(TF_CONFIG=tf_config)))
    try:
        outputs = [process.communicate(timeout=240) for process in processes]
    finally:
        for process in processes:
            process.kill()
    for process, (_, err) in zip(processes, outputs):
        assert process.returncode == 0, err[-3000:]
    assert _same(_weights(tmp_path / "worker0.npz"), _weights(tmp_path / "worker1.npz"))
    chief = json.loads((tmp_path / "run" / "run.json").read_text())
    assert chief["training"]["replicas"] == 2 and chief["status"] == "finished"
    # The second worker writes beside the chief's files, never over them.
    assert (tmp_path / "run" / "workers" / "worker1" / "run.json").is_file()
