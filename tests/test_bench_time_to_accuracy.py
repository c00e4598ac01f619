"""The time-to-accuracy bench: its quick mode end to end, and how it reads the epochs."""

import json

import pytest

from bench.bench_time_to_accuracy import first_reached, format_table, main, time_to_accuracy


def test_quick_mode_trains_evaluates_each_epoch_and_prints_the_table(tmp_path):
    lines = []
    results = main(["--quick", "--models", "mnist_cnn", "--epochs", "1", "--runs",
                    str(tmp_path / "runs"), "--output", str(tmp_path / "tta.json")],
                   say=lines.append)
    (result,) = results
    assert result["model"] == "mnist_cnn" and result["dataset"] == "fashion_mnist_sample"
    (row,) = result["rows"]
    assert row["epoch"] == 1 and 0 < row["seconds"] <= result["seconds"]
    assert 0.0 <= row["accuracy"] <= 1.0
    assert result["reached"] == first_reached(result["rows"])
    assert result["settings"]["mixed_precision"] in ("float32", "mixed_float16",
                                                     "mixed_bfloat16")
    header, table_row = lines[-1].splitlines()
    assert header.split() == ["model", "recipe", "best", "91%", "93%", "94%", "95%"]
    assert table_row.startswith("mnist_cnn") and f"{row['accuracy']:.2%}" in table_row
    stored = json.loads((tmp_path / "tta.json").read_text())
    assert stored["quick"] is True and stored["results"][0]["rows"] == result["rows"]
    run = json.loads((tmp_path / "runs" / "mnist_cnn" / "run.json").read_text())
    assert run["status"] == "finished" and run["recipe"]["epochs"] == 1


def test_a_threshold_is_first_reached_at_the_first_epoch_at_or_above_it():
    rows = [{"epoch": 1, "seconds": 10.0, "accuracy": 0.9},
            {"epoch": 2, "seconds": 20.0, "accuracy": 0.93},
            {"epoch": 3, "seconds": 30.0, "accuracy": 0.925},
            {"epoch": 4, "seconds": 40.0, "accuracy": 0.941}]
    reached = first_reached(rows, (0.91, 0.93, 0.94, 0.95))
    assert {t: row and row["epoch"] for t, row in reached.items()} == {
        0.91: 2, 0.93: 2, 0.94: 4, 0.95: None}
    recipe = {"optimizer": "sgd", "learning_rate": 0.1, "schedule": "cosine",
              "batch_size": 256, "augment": None, "epochs": 4}
    table = format_table([{"model": "m", "recipe": recipe, "rows": rows, "reached": reached,
                           "settings": {"mixed_precision": "mixed_bfloat16",
                                        "jit_compile": False}}], classic=8.0)
    line = table.splitlines()[1]
    assert line.count("20 s / 2.5 ce (e2)") == 2 and "40 s / 5.0 ce (e4)" in line
    assert "94.10%" in line and line.endswith("  -")
    assert "no aug, 4 ep, mixed_bfloat16  " in line and "XLA" not in line


def test_a_used_run_directory_is_refused(tmp_path):
    with pytest.raises(FileExistsError, match="fresh run directory"):
        time_to_accuracy("mnist_cnn", workdir=tmp_path)
