"""Progress within an epoch: steps, images/s and ETA lines during a real `fit`."""

import io
import itertools

import numpy as np
import pytest

import cnnzoo
from cnnzoo.training.progress import TrainingProgress, _duration


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (48, 8, 8, 1)).astype("uint8"), rng.integers(0, 3, 48)


def fit_with(progress, data, tmp_path, **settings):
    return cnnzoo.fit("tutorial_5x5", data, num_classes=3, workdir=tmp_path, batch_size=8,
                      callbacks=[progress], **settings)


def test_lines_every_interval_with_images_per_second_and_eta(data, tmp_path):
    out = io.StringIO()
    # One second per clock reading: the epoch starts at 0, steps end at 1, 2, 3.
    progress = TrainingProgress(8, interval=0, live=False, stream=out,
                                clock=itertools.count().__next__)
    fit_with(progress, data, tmp_path, validation=data, epochs=2, steps_per_epoch=3,
             verbose=0)
    lines = out.getvalue().splitlines()
    assert [line.split(" - ")[:2] for line in lines] == [
        ["epoch 1/2", "step 1/3"], ["epoch 1/2", "step 2/3"], ["epoch 1/2", "step 3/3"],
        ["epoch 1/2", "3 steps"],
        ["epoch 2/2", "step 1/3"], ["epoch 2/2", "step 2/3"], ["epoch 2/2", "step 3/3"],
        ["epoch 2/2", "3 steps"]]
    # Steps 2 and 3 took a second each for 8 images: 8 images/s; one step (1 s) then none left.
    assert lines[1].startswith("epoch 1/2 - step 2/3 - 8 images/s - ETA 1s - ")
    assert lines[2].startswith("epoch 1/2 - step 3/3 - 8 images/s - ETA 0s - ")
    assert lines[3].startswith("epoch 1/2 - 3 steps - 4s - 8 images/s - ")
    assert "images/s" not in lines[0]  # The first step includes tracing: no speed yet.
    assert all("loss: " in line and "accuracy: " in line for line in lines)
    assert "val_loss: " not in lines[2] and "val_loss: " in lines[3]  # After validation.


def test_steps_run_several_a_call_are_all_counted(data, tmp_path):
    out = io.StringIO()
    progress = TrainingProgress(8, interval=0, live=False, stream=out,
                                clock=itertools.count().__next__)
    # Passed as a callback, it would make "auto" 1 (it watches batches): set 3 here.
    fit_with(progress, data, tmp_path, epochs=1, steps_per_epoch=6, steps_per_execution=3,
             verbose=0)
    lines = out.getvalue().splitlines()
    # Calls end at 1 s (steps 1-3) and 2 s (steps 4-6): 3 steps of 8 images in 1 s.
    assert [line.split(" - ")[1] for line in lines] == ["step 3/6", "step 6/6", "6 steps"]
    assert lines[1].startswith("epoch 1/1 - step 6/6 - 24 images/s - ETA 0s - ")


def test_lines_wait_for_the_interval(data, tmp_path):
    out = io.StringIO()
    progress = TrainingProgress(8, interval=2.5, live=False, stream=out,
                                clock=itertools.count().__next__)
    fit_with(progress, data, tmp_path, epochs=1, steps_per_epoch=5, verbose=0)
    lines = out.getvalue().splitlines()
    # Shown at 3 s (step 3) only, 2.5 s after the epoch began; then the summary.
    assert [line.split(" - ")[1] for line in lines] == ["step 3/5", "5 steps"]


def test_a_terminal_gets_one_line_redrawn_in_place(data, tmp_path):
    out = io.StringIO()
    progress = TrainingProgress(8, live=True, stream=out, clock=itertools.count().__next__)
    fit_with(progress, data, tmp_path, epochs=1, steps_per_epoch=4, verbose=0)
    text = out.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")
    drawn = text.rstrip("\n").split("\r")[1:]
    assert drawn[0].startswith("epoch 1/1 - step 1/4 [=====...............]")
    assert drawn[3].startswith("epoch 1/1 - step 4/4 [====================] - 8 images/s")
    assert drawn[-1].startswith("epoch 1/1 - 4 steps - 5s - 8 images/s - ")


def test_fit_shows_progress_unless_verbose_is_0(data, tmp_path, capsys):
    fit_with(TrainingProgress(8, interval=0, live=False), data, tmp_path / "quiet",
             epochs=1, steps_per_epoch=2, verbose=0)
    assert capsys.readouterr().out.count("epoch 1/1") == 3  # Only the callback passed.
    cnnzoo.fit("tutorial_5x5", data, num_classes=3, workdir=tmp_path / "default",
               batch_size=8, epochs=1, steps_per_epoch=2, steps_per_execution=1)
    out = capsys.readouterr().out
    assert "epoch 1/1 - 2 steps - " in out and "images/s" in out  # fit's own display
    cnnzoo.fit("tutorial_5x5", data, num_classes=3, workdir=tmp_path / "silent",
               batch_size=8, epochs=1, steps_per_epoch=2, verbose=0)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("seconds, text", [(0.4, "0s"), (42, "42s"), (187, "3:07"),
                                           (3727, "1:02:07")])
def test_durations(seconds, text):
    assert _duration(seconds) == text
