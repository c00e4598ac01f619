"""`cnnzoo train` and `cnnzoo evaluate`: the main job end to end on a tiny budget, and
user errors as one line with exit status 2."""

import json
import shutil

import numpy as np
import pytest

from cnnzoo.cli import main
from cnnzoo.data import catalog, sources, write_idx
from cnnzoo.job import load_split

TINY = ["--epochs", "2", "--limit", "300", "--batch-size", "32"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """One tiny `cnnzoo train` run on digits with an export, shared by the tests below."""
    root = tmp_path_factory.mktemp("cli")
    workdir, export = root / "run", root / "export"
    status = main(["train", "tutorial_5x5", "--dataset", "digits", "--workdir", str(workdir),
                   "--export", str(export), "--seed", "1", *TINY])
    return status, workdir, export


def test_train_trains_evaluates_and_exports(trained_run, capsys):
    status, workdir, export = trained_run
    assert status == 0
    run = json.loads((workdir / "run.json").read_text())
    assert run["model"] == "tutorial_5x5" and run["dataset"] == "digits"
    assert run["epochs"] == 2 and run["seed"] == 1 and run["recipe"]["batch_size"] == 32
    evaluation = json.loads((workdir / "evaluation.json").read_text())
    assert evaluation["split"] == "test" and sum(map(sum, evaluation["confusion_matrix"])) == \
        evaluation["num_examples"]
    assert run["test_metrics"]["accuracy"] == evaluation["accuracy"]
    assert sorted(p.name for p in export.iterdir()) == ["1"]  # a TF Serving model base
    assert (export / "1" / "saved_model.pb").is_file()


def test_evaluate_command_prints_the_report_and_writes_json(trained_run, tmp_path, capsys):
    _, workdir, _ = trained_run
    output = tmp_path / "evaluation.json"
    assert main(["evaluate", str(workdir), "--dataset", "digits", "--limit", "300",
                 "--output", str(output)]) == 0
    printed = capsys.readouterr().out
    assert "accuracy" in printed and "confusion matrix" in printed
    assert json.loads(output.read_text())["num_examples"] == 300


def test_evaluate_command_takes_the_held_out_validation_split(trained_run, capsys):
    _, workdir, _ = trained_run
    assert main(["evaluate", str(workdir), "--dataset", "digits", "--split", "validation",
                 "--limit", "300"]) == 2
    _one_error_line(capsys, "--split validation", "--validation-split")
    assert main(["evaluate", str(workdir), "--dataset", "digits", "--split", "validation",
                 "--validation-split", "0.1", "--seed", "1", "--limit", "300"]) == 0
    first_line = capsys.readouterr().out.splitlines()[0]
    assert "on digits/validation" in first_line
    assert 0 < int(first_line.split()[0]) < 300


def _one_error_line(capsys, *fragments):
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for fragment in fragments:
        assert fragment in err
    return err


def test_unknown_model_is_one_line_and_status_2(capsys):
    assert main(["train", "mnist_cn", "--dataset", "digits"]) == 2
    _one_error_line(capsys, "cnnzoo train: error:", "did you mean 'mnist_cnn'")


def test_a_workdir_of_another_model_is_refused_before_training(trained_run, capsys):
    _, workdir, _ = trained_run
    assert main(["train", "tutorial_3x3", "--dataset", "digits", "--workdir", str(workdir),
                 *TINY]) == 2
    _one_error_line(capsys, "holds a run of model 'tutorial_5x5'")


def test_a_resume_with_fewer_epochs_is_refused(trained_run, capsys):
    _, workdir, _ = trained_run
    assert main(["train", "tutorial_5x5", "--dataset", "digits", "--workdir", str(workdir),
                 "--epochs", "1", "--limit", "300"]) == 2
    _one_error_line(capsys, "started with epochs=2")


def test_image_shape_the_model_cannot_take_is_one_line(tmp_path, capsys):
    # mnist_cnn needs 18x18 or more; digits are 8x8.
    assert main(["train", "mnist_cnn", "--dataset", "digits", "--workdir", str(tmp_path),
                 *TINY]) == 2
    _one_error_line(capsys, "at least 18x18")


def _files(folder):
    """Returns every path under `folder` with its size and modification time."""
    return {p.relative_to(folder).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize("existing", [
    {"notes.txt": "mine"},
    {"model.keras": "a model, not a SavedModel"},
    {"saved_model.pb": "a SavedModel in the folder itself, not in a version folder"},
    {"1/notes.txt": "a version folder without saved_model.pb"},
    {"1/saved_model.pb": "", "drafts/notes.txt": "mine"},
])
def test_an_export_path_that_is_not_a_serving_base_is_refused_before_training(
        tmp_path, capsys, existing):
    export = tmp_path / "export"
    for name, text in existing.items():
        (export / name).parent.mkdir(parents=True, exist_ok=True)
        (export / name).write_text(text)
    before = _files(export)
    assert main(["train", "tutorial_5x5", "--dataset", "digits", "--export", str(export),
                 "--workdir", str(tmp_path / "run"), *TINY]) == 2
    _one_error_line(capsys, "is not a TF Serving model base")
    assert not (tmp_path / "run").exists() and _files(export) == before


def test_an_export_path_equal_to_the_workdir_is_refused_and_the_run_is_intact(
        trained_run, capsys):
    _, workdir, _ = trained_run
    before = _files(workdir)
    assert {"run.json", "best.keras", "last.keras", "history.csv"} <= set(before)
    assert main(["train", "tutorial_5x5", "--dataset", "digits", "--workdir", str(workdir),
                 "--export", str(workdir), "--seed", "1", *TINY]) == 2
    _one_error_line(capsys, "is the workdir")
    assert _files(workdir) == before


@pytest.mark.parametrize("export, where", [("run/export", "is inside"), (".", "holds")])
def test_an_export_path_inside_or_above_the_workdir_is_refused(tmp_path, capsys, export,
                                                               where):
    assert main(["train", "tutorial_5x5", "--dataset", "digits", "--workdir",
                 str(tmp_path / "run"), "--export", str(tmp_path / export), *TINY]) == 2
    _one_error_line(capsys, f"{where} the workdir")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("argv", [
    ["train", "mnist_cnn", "--dataset", "digits", "--epochz", "3"],
    ["train", "mnist_cnn", "--dataset", "digits", "--epochs", "0"],
    ["train", "mnist_cnn"],
    ["evaluate", "model.keras"],
    ["evaluate", "model.keras", "--dataset", "digits", "--split", "valid"],
    ["train", "mnist_cnn", "--dataset", "digits", "--validation-split", "1.5"],
])
def test_bad_options_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "usage: cnnzoo" in capsys.readouterr().err


def test_evaluate_of_a_missing_model_is_one_line(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "none.keras"), "--dataset", "digits"]) == 2
    _one_error_line(capsys, "no model file")


def test_fashion_mnist_falls_back_to_the_shipped_sample_and_says_so(monkeypatch, tmp_path):
    monkeypatch.setitem(catalog.SYSTEM_DATA_DIRS, "fashion_mnist", ())
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv("CNNZOO_DATA_DIR", raising=False)

    def no_tfds(name, split, data_dir, download):
        assert download is False  # the fallback must never try the network
        raise FileNotFoundError(f"dataset {name} not prepared")

    monkeypatch.setattr(sources, "_tfds_load", no_tfds)
    said = []
    _, info = load_split("fashion_mnist", "test", say=said.append, limit=10, batch_size=10)
    assert info.name == "fashion_mnist_sample"
    assert len(said) == 1 and "using the shipped sample" in said[0]


def test_rerunning_the_same_command_trains_nothing_more_and_replaces_the_export(
        trained_run, capsys):
    _, workdir, export = trained_run
    history_before = (workdir / "history.csv").read_text()
    old_graph = (export / "1" / "saved_model.pb").stat()
    capsys.readouterr()
    assert main(["train", "tutorial_5x5", "--dataset", "digits", "--workdir", str(workdir),
                 "--export", str(export), "--seed", "1", *TINY]) == 0
    printed = capsys.readouterr().out
    # It says the run is complete, what it reuses and still does, and how to go on.
    assert f"already trained: 2 of 2 epochs finished in {workdir}, so nothing is trained" \
        in printed
    assert "Reusing its best.keras for the test evaluation and the export" in printed
    assert "rerun with --epochs above 2" in printed and "another --workdir" in printed
    assert "training tutorial_5x5" not in printed and "Epoch 1/2" not in printed
    assert (workdir / "history.csv").read_text() == history_before
    new_graph = (export / "1" / "saved_model.pb").stat()
    # A new folder replaced the old one: the old files existed while the new were written.
    assert new_graph.st_ino != old_graph.st_ino
    assert sorted(p.name for p in export.iterdir()) == ["1"]


def test_a_larger_epochs_trains_on_after_the_finished_epochs(tmp_path, capsys):
    workdir = tmp_path / "run"
    tiny = ["tutorial_5x5", "--dataset", "digits", "--workdir", str(workdir), "--limit", "64",
            "--batch-size", "32", "--validation-split", "0"]
    assert main(["train", *tiny, "--epochs", "1"]) == 0
    assert main(["train", *tiny, "--epochs", "1"]) == 0
    assert "already trained: 1 of 1 epochs" in capsys.readouterr().out
    assert main(["train", *tiny, "--epochs", "2"]) == 0
    printed = capsys.readouterr().out
    assert "already trained" not in printed
    assert f"workdir {workdir}, resuming after epoch 1" in printed
    epochs = [line.split(",")[0] for line in (workdir / "history.csv").read_text().splitlines()]
    assert epochs == ["epoch", "1", "2"]


def test_export_version_replaces_only_its_own_version_folder(trained_run, tmp_path, capsys):
    _, workdir, export = trained_run
    base = tmp_path / "mnist"
    for version in ("1", "3"):
        shutil.copytree(export / "1", base / version)
    kept = _files(base / "1")
    # A file of the user's in the version folder: refused before training, never deleted.
    (base / "3" / "notes.txt").write_text("mine")
    command = ["train", "tutorial_5x5", "--dataset", "digits", "--workdir", str(workdir),
               "--export", str(base), "--export-version", "3", "--seed", "1", *TINY]
    assert main(command) == 2
    assert "notes.txt" in capsys.readouterr().err
    assert (base / "3" / "notes.txt").read_text() == "mine"
    (base / "3" / "notes.txt").unlink()
    assert main(command) == 0
    assert _files(base / "1") == kept
    assert (base / "3" / "saved_model.pb").is_file()
    assert sorted(p.name for p in base.iterdir()) == ["1", "3"]


def test_evaluate_command_reads_the_export_and_agrees_with_the_keras_model(
        trained_run, capsys):
    _, workdir, export = trained_run
    assert main(["evaluate", str(export), "--dataset", "digits", "--limit", "300"]) == 0
    from_export = capsys.readouterr().out.splitlines()[0]
    assert main(["evaluate", str(workdir), "--dataset", "digits", "--limit", "300"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == from_export


def test_train_reads_every_split_of_an_idx_folder_it_was_given(tmp_path, capsys):
    folder = tmp_path / "idxds"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for prefix, count in (("train", 60), ("t10k", 20)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz",
                  rng.integers(0, 256, (count, 8, 8), dtype=np.uint8))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz",
                  (np.arange(count) % 3).astype(np.uint8))
    workdir = tmp_path / "run"
    assert main(["train", "tutorial_5x5", "--dataset", str(folder), "--workdir", str(workdir),
                 "--epochs", "1", "--limit", "50", "--steps-per-epoch", "2",
                 "--batch-size", "16"]) == 0
    evaluation = json.loads((workdir / "evaluation.json").read_text())
    assert evaluation["split"] == "test" and evaluation["num_examples"] == 20


def test_evaluate_command_takes_flip_tta(trained_run, tmp_path, capsys):
    _, workdir, _ = trained_run
    output = tmp_path / "evaluation.json"
    assert main(["evaluate", str(workdir), "--dataset", "digits", "--limit", "300",
                 "--tta", "flip", "--output", str(output)]) == 0
    assert "test-time augmentation flip" in capsys.readouterr().out.splitlines()[0]
    result = json.loads(output.read_text())
    assert result["tta"] == "flip" and 0 <= result["single_view_accuracy"] <= 1


def test_the_recipes_flip_tta_is_skipped_for_data_that_must_not_be_mirrored():
    from cnnzoo.data import DatasetInfo
    from cnnzoo.job import _test_time_augmentation
    from cnnzoo.training.recipes import get_recipe

    recipe, said = get_recipe("resnet9_w24"), []
    assert recipe.tta == "flip"
    infos = {name: DatasetInfo(name=name, split="test", num_examples=1,
                               image_shape=(28, 28, 1), class_names=tuple("0123456789"))
             for name in ("fashion_mnist", "digits")}
    assert _test_time_augmentation(recipe, infos["fashion_mnist"], said.append) == "flip"
    assert _test_time_augmentation(recipe, infos["digits"], said.append) == "none"
    assert said == ["evaluating without flip test-time augmentation: digits images must "
                    "not be mirrored."]
