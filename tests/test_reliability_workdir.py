"""One run, one workdir, whatever happens to it: faults done for real, not simulated.

A second process refused while the first trains, kill -9 at the worst moment of an
epoch's writes, a filesystem that fills up mid-run, a killed export, weights that turn
NaN, a resume on other data.
"""

import contextlib
import csv
import errno
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import threading
import time

import keras
import numpy as np
import pytest

import cnnzoo
from cnnzoo.atomic import atomic_directory, is_leftover
from cnnzoo.job import check_export_target
from cnnzoo.layouts.serving import find_saved_model
from cnnzoo.training.lock import WorkdirInUseError, workdir_lock

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _arrays(n=64, shape=(8, 8, 1), classes=3):
    rng = np.random.default_rng(1)
    labels = rng.integers(0, classes, n).astype("int32")
    images = labels[:, None, None, None] * 80 + rng.uniform(0, 40, (n,) + shape)
    return images.astype("float32"), labels


def _fit(workdir, epochs=3, **kwargs):
    """Trains tutorial_5x5 on 64 tiny images, 2 steps an epoch, as every test here does."""
    kwargs.setdefault("train", _arrays())
    return cnnzoo.fit("tutorial_5x5", kwargs.pop("train"), num_classes=3, epochs=epochs,
                      workdir=workdir, batch_size=32, tensorboard=False, verbose=0, **kwargs)


def _epochs_in_history(workdir):
    with open(workdir / "history.csv", newline="") as file:
        return [int(row["epoch"]) for row in csv.DictReader(file)]


def _backup_epoch(workdir):
    return json.loads((workdir / "backup" / "training_metadata.json").read_text())["epoch"]


def _run_record(workdir):
    return json.loads((workdir / "run.json").read_text())


def _leftovers(folder):
    return [p.name for p in folder.iterdir() if is_leftover(p.name)]


def _start(script, *args):
    """Starts `python -c script args` from the repository root; returns the Popen."""
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", script, *map(str, args)], cwd=ROOT,
                            env=environment, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _wait_for(path, process, timeout=240):
    """Waits until `process` creates `path`; fails with its output if it exits first."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            pytest.fail(f"the writer exited ({process.returncode}) before the fault:\n"
                        f"{process.stdout.read()[-3000:]}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("the writer never reached the fault")
        time.sleep(0.1)


def _kill(process):
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL


# Trains 3 epochs and stops for good in epoch 2 at the worst moment: its history row and
# models written, the old backup moved aside and the new one not yet in its place (the
# two renames of `cnnzoo.atomic`'s folder swap). There it waits to be killed.
_KILLED_IN_THE_BACKUP_SWAP = """
import os, pathlib, sys, time
import numpy as np
workdir, data, ready = sys.argv[1:4]
real_replace = os.replace
def replace(source, target, **kwargs):
    real_replace(source, target, **kwargs)
    if ".backup.old-" in os.fspath(target):
        pathlib.Path(ready).write_text("moved aside")
        time.sleep(600)
os.replace = replace
import cnnzoo
arrays = np.load(data)
cnnzoo.fit("tutorial_5x5", (arrays["x"], arrays["y"]), num_classes=3, epochs=3,
           workdir=workdir, batch_size=32, tensorboard=False, verbose=0)
"""


def test_a_second_writer_is_refused_and_a_kill_at_the_worst_moment_loses_no_epoch(tmp_path):
    workdir, ready, data = tmp_path / "run", tmp_path / "ready", tmp_path / "data.npz"
    x, y = _arrays()
    np.savez(data, x=x, y=y)
    writer = _start(_KILLED_IN_THE_BACKUP_SWAP, workdir, data, ready)
    try:
        _wait_for(ready, writer)
        history_before = (workdir / "history.csv").read_bytes()
        with pytest.raises(WorkdirInUseError, match=rf"in use .*\(pid {writer.pid} on .*Wait "):
            _fit(workdir)
        assert (workdir / "history.csv").read_bytes() == history_before
        _kill(writer)
    finally:
        with contextlib.suppress(ProcessLookupError):
            writer.kill()
        writer.wait()

    # What the kill left: epoch 2's row, but no backup/ (only the one moved aside).
    assert _epochs_in_history(workdir) == [1, 2]
    assert not (workdir / "backup").exists()
    assert any(name.startswith(".backup.old-") for name in _leftovers(workdir))

    with pytest.warns(RuntimeWarning, match=f"taking over the lock .*pid {writer.pid} on"):
        history = _fit(workdir)
    assert history.epoch == [1, 2]  # epochs 2 and 3: the backup held epoch 1
    assert _epochs_in_history(workdir) == [1, 2, 3]
    assert _backup_epoch(workdir) == 3 and _run_record(workdir)["status"] == "finished"
    assert _leftovers(workdir) == [] and not (workdir / "run.lock").exists()


def test_the_lock_refuses_another_thread_and_a_file_and_leaves_no_trace(tmp_path):
    refusals = []

    def second_writer():
        try:
            with workdir_lock(tmp_path / "run"):
                pass
        except WorkdirInUseError as error:
            refusals.append(str(error))

    with workdir_lock(tmp_path / "run") as workdir:
        assert (workdir / "run.lock").read_text().startswith(f"{os.getpid()} on ")
        thread = threading.Thread(target=second_writer)
        thread.start()
        thread.join()
    assert len(refusals) == 1 and "(this process, another thread)" in refusals[0]
    assert list(tmp_path.iterdir()) == []  # the workdir it made, empty, is gone again
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="is a file, not a directory"):
        with workdir_lock(tmp_path / "file"):
            pass


def _poison_at_epoch_2(model):
    """A callback that sets the first kernel to NaN after the last step of epoch 2."""

    def poison(batch, logs):
        if poison.epoch == 1 and batch == 1:
            kernel = model.trainable_weights[0]
            kernel.assign(np.full(kernel.shape, np.nan, "float32"))

    poison.epoch = 0
    return keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: setattr(poison, "epoch", epoch),
        on_train_batch_end=poison)


def test_nan_weights_under_a_finite_loss_stop_the_run_and_keep_the_last_good_epoch(tmp_path):
    x, y = _arrays()
    model = cnnzoo.build("tutorial_5x5", input_shape=(8, 8, 1), num_classes=3)
    with pytest.raises(FloatingPointError, match=r"after epoch 2 the weights .*kernel hold "
                                                 r"NaN .*loss was [0-9.]+\).*lower learning"):
        cnnzoo.fit(model, (x, y), epochs=3, workdir=tmp_path, batch_size=32,
                   tensorboard=False, verbose=0, callbacks=[_poison_at_epoch_2(model)])
    assert np.isnan(model.trainable_weights[0].numpy()).all()  # the guard saw real NaN
    assert _epochs_in_history(tmp_path) == [1] and _backup_epoch(tmp_path) == 1
    record = _run_record(tmp_path)
    assert record["status"] == "diverged" and "NaN" in record["error"]
    for name in ("last.keras", "best.keras"):
        saved = keras.saving.load_model(tmp_path / name)
        assert np.isfinite(saved.predict(x, verbose=0)).all(), name


def test_a_resume_on_other_data_is_refused_unless_asked_and_an_interrupt_is_recorded(
        tmp_path):
    class Interrupt(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _fit(tmp_path, run_info={"dataset": "digits"}, callbacks=[Interrupt()])
    assert _run_record(tmp_path)["status"] == "interrupted"
    before = (tmp_path / "run.json").read_bytes()
    with pytest.raises(ValueError, match="trained on 'digits' for 1 epochs; received dataset "
                                         "'fashion_mnist'.*new_data=True"):
        _fit(tmp_path, run_info={"dataset": "fashion_mnist"})
    assert (tmp_path / "run.json").read_bytes() == before

    history = _fit(tmp_path, run_info={"dataset": "fashion_mnist"}, new_data=True)
    assert history.epoch == [1, 2]
    record = _run_record(tmp_path)
    assert record["dataset"] == "fashion_mnist" and record["status"] == "finished"
    assert record["data_changes"] == [{"after_epoch": 1, "from": "digits",
                                       "to": "fashion_mnist"}]


@pytest.fixture
def small_filesystem(tmp_path):
    """A tmpfs mounted at a folder (root only); yields its path, unmounted after."""
    folder = tmp_path / "small"
    folder.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _resize(folder, size_bytes):
    subprocess.run(["mount", "-o", f"remount,size={size_bytes // 1024}k", str(folder)],
                   check=True)


def test_a_full_disk_fails_the_run_cleanly_and_a_resume_after_freeing_space_finishes(
        small_filesystem):
    workdir = small_filesystem / "run"
    _fit(workdir, epochs=1)
    usage = os.statvfs(small_filesystem)
    used = (usage.f_blocks - usage.f_bfree) * usage.f_frsize
    _resize(small_filesystem, used + 64 * 1024)  # Epoch 2's first checkpoint will not fit.

    with pytest.raises(OSError) as raised:
        _fit(workdir, epochs=3)
    assert raised.value.errno == errno.ENOSPC
    assert pathlib.Path(raised.value.filename).parent == workdir  # the error names the file
    record = _run_record(workdir)
    assert record["status"] == "failed" and "No space left" in record["error"]
    assert _leftovers(workdir) == [] and not (workdir / "run.lock").exists()
    assert _backup_epoch(workdir) == 1
    keras.saving.load_model(workdir / "last.keras")  # epoch 1's, whole

    _resize(small_filesystem, 8 * 1024 * 1024)
    history = _fit(workdir, epochs=3)
    assert history.epoch == [1, 2]
    assert _epochs_in_history(workdir) == [1, 2, 3]
    assert _run_record(workdir)["status"] == "finished"


# Exports into a serving base's version 2 and stops with the folder half-written, until
# it is killed.
_EXPORT_KILLED_MIDWAY = """
import pathlib, sys, time
from cnnzoo.atomic import atomic_directory
base, ready = map(pathlib.Path, sys.argv[1:3])
with atomic_directory(base / "2") as folder:
    (folder / "variables").mkdir()
    ready.write_text("half-written")
    time.sleep(600)
"""


def test_an_export_killed_midway_neither_blocks_the_base_nor_survives_the_next_export(
        tmp_path):
    base, ready = tmp_path / "serving", tmp_path / "ready"
    (base / "1").mkdir(parents=True)
    (base / "1" / "saved_model.pb").write_bytes(b"graph")
    exporter = _start(_EXPORT_KILLED_MIDWAY, base, ready)
    try:
        _wait_for(ready, exporter)
        [partial] = _leftovers(base)
        with atomic_directory(base / "2", overwrite=True) as folder:
            (folder / "saved_model.pb").write_bytes(b"graph 2")
        assert partial in _leftovers(base)  # a live writer's temporary is left alone
        _kill(exporter)
    finally:
        with contextlib.suppress(ProcessLookupError):
            exporter.kill()
        exporter.wait()

    check_export_target(base, workdir=tmp_path / "run", version=3)  # not refused
    assert find_saved_model(base) == base / "2"
    with atomic_directory(base / "2", overwrite=True) as folder:
        assert _leftovers(base) == [folder.name]  # the dead writer's is gone
        (folder / "saved_model.pb").write_bytes(b"graph 3")
    assert sorted(p.name for p in base.iterdir()) == ["1", "2"]
    assert (base / "2" / "saved_model.pb").read_bytes() == b"graph 3"


def _broken_copies(workdir, tmp_path):
    """Copies of a one-epoch workdir, each with one file of its run broken for real."""
    def copy(name, break_it):
        target = tmp_path / name
        shutil.copytree(workdir, target)
        break_it(target)
        return target

    backup = pathlib.Path("backup")
    return {
        "weights missing": copy("missing", lambda w: (w / backup / "latest.weights.h5").unlink()),
        "weights truncated": copy("truncated", lambda w: (w / backup / "latest.weights.h5")
                                  .write_bytes((workdir / backup / "latest.weights.h5")
                                               .read_bytes()[:3000])),
        "epoch not a number": copy("abc", lambda w: (w / backup / "training_metadata.json")
                                   .write_text('{"epoch": "abc", "batch": 0}')),
        "run.json a list": copy("list", lambda w: (w / "run.json").write_text("[1, 2]")),
        "history corrupt": copy("history", lambda w: (w / "history.csv").write_bytes(
            b"epoch,loss\n1,\xff\xfe\n")),
    }


@pytest.mark.parametrize("broken, names, says", [
    ("weights missing", "latest.weights.h5", "is missing, so a resume would train on from "
                                             "random weights"),
    ("weights truncated", "latest.weights.h5", "unreadable (truncated or corrupt"),
    ("epoch not a number", "training_metadata.json", "'epoch': 'abc'"),
    ("run.json a list", "run.json", "holds a JSON list"),
    ("history corrupt", "history.csv", "not a history cnnzoo can read"),
])
def test_a_broken_run_file_is_refused_naming_it_and_nothing_trains(one_epoch_copies, broken,
                                                                     names, says):
    workdir = one_epoch_copies[broken]
    before = {p: p.read_bytes() for p in workdir.rglob("*") if p.is_file()}
    with pytest.raises(ValueError) as raised:
        _fit(workdir, epochs=2)
    message = str(raised.value)
    assert names in message and says in message and str(workdir) in message
    assert len(message.splitlines()) == 1 and "restore" in message.lower()
    assert {p: p.read_bytes() for p in workdir.rglob("*") if p.is_file()} == before


@pytest.fixture(scope="module")
def one_epoch_copies(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("broken")
    _fit(tmp_path / "good", epochs=1)
    return _broken_copies(tmp_path / "good", tmp_path)


def test_a_resume_with_another_recipe_is_refused_unless_asked_and_recorded(tmp_path):
    _fit(tmp_path, epochs=1, learning_rate=1e-3)
    before = (tmp_path / "run.json").read_bytes()
    with pytest.raises(ValueError, match=r"another recipe: optimizer 'adam' -> 'sgd', "
                                         r"learning_rate 0.001 -> 0.05\..*new_recipe=True"):
        _fit(tmp_path, epochs=2, optimizer="sgd", learning_rate=0.05)
    with pytest.raises(ValueError, match=r"batch_size 32 -> 16"):
        cnnzoo.fit("tutorial_5x5", _arrays(), num_classes=3, epochs=2, workdir=tmp_path,
                   batch_size=16, learning_rate=1e-3, tensorboard=False, verbose=0)
    assert (tmp_path / "run.json").read_bytes() == before
    # Spelling out the defaults is no change.
    _fit(tmp_path, epochs=2, optimizer="adam", learning_rate=1e-3, schedule="constant")

    history = _fit(tmp_path, epochs=3, learning_rate=0.05, new_recipe=True)
    assert history.epoch == [2]
    record = _run_record(tmp_path)
    assert record["status"] == "finished" and record["recipe_now"]["learning_rate"] == 0.05
    assert record["recipe_changes"] == [{"after_epoch": 2, "from": {"learning_rate": 0.001},
                                         "to": {"learning_rate": 0.05}}]
    with open(tmp_path / "history.csv", newline="") as file:
        rates = [float(row["learning_rate"]) for row in csv.DictReader(file)]
    # The backup restored the old rate; the new one took its place.
    assert rates == pytest.approx([1e-3, 1e-3, 0.05])


_FIT_TWO_EPOCHS = """
import pathlib, sys
sys.path.insert(0, "tests")
from test_reliability_workdir import _fit
_fit(pathlib.Path(sys.argv[1]), epochs=2)
"""


def test_a_full_disk_while_the_backup_is_written_fails_cleanly_and_keeps_the_models(
        small_filesystem, tmp_path):
    sizes = tmp_path / "sizes"
    _fit(sizes, epochs=1)  # the same run on a roomy disk, to size the small one
    model_bytes = (sizes / "last.keras").stat().st_size
    backup_bytes = (sizes / "backup" / "latest.weights.h5").stat().st_size
    # Room for run.json, run.lock, history.csv (a page each, plus a temporary), both
    # models, and half the backup.
    _resize(small_filesystem, 2 * model_bytes + backup_bytes // 2 + 8 * 4096)
    workdir = small_filesystem / "run"

    # In a process of its own: h5py writing to the full disk ended in a segfault at exit.
    trainer = _start(_FIT_TWO_EPOCHS, workdir)
    output = trainer.communicate(timeout=240)[0]
    assert trainer.returncode == 1, output[-3000:]
    assert "h5py" not in output, output[-3000:]
    last = output.strip().splitlines()[-1]
    assert last.startswith("OSError: [Errno 28] no space left") and "backup" in last, last
    record = _run_record(workdir)
    assert record["status"] == "failed" and "no space left" in record["error"]
    assert not (workdir / "backup").exists() and _leftovers(workdir) == []
    keras.saving.load_model(workdir / "last.keras")  # whole

    _resize(small_filesystem, 8 * 1024 * 1024)
    history = _fit(workdir, epochs=2)
    assert history.epoch == [0, 1] and _run_record(workdir)["status"] == "finished"
