"""`cnnzoo train` and `cnnzoo evaluate`: the main job end to end on a tiny budget, and
user errors as one line with exit status 2."""

import json

import pytest

from cnnzoo.cli import main
from cnnzoo.data import catalog, sources
from cnnzoo.training.job import load_split

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
    assert (export / "saved_model.pb").is_file() or (export / "model.keras").is_file()


def test_evaluate_command_prints_the_report_and_writes_json(trained_run, tmp_path, capsys):
    _, workdir, _ = trained_run
    output = tmp_path / "evaluation.json"
    assert main(["evaluate", str(workdir), "--dataset", "digits", "--limit", "300",
                 "--output", str(output)]) == 0
    printed = capsys.readouterr().out
    assert "accuracy" in printed and "confusion matrix" in printed
    assert json.loads(output.read_text())["num_examples"] == 300


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


def test_an_export_path_holding_other_files_is_refused_before_training(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["train", "tutorial_5x5", "--dataset", "digits", "--export", str(tmp_path),
                 "--workdir", str(tmp_path / "run"), *TINY]) == 2
    _one_error_line(capsys, "is not a previous export")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("argv", [
    ["train", "mnist_cnn", "--dataset", "digits", "--epochz", "3"],
    ["train", "mnist_cnn", "--dataset", "digits", "--epochs", "0"],
    ["train", "mnist_cnn"],
    ["evaluate", "model.keras"],
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


def test_rerunning_the_same_command_trains_nothing_more_and_replaces_the_export(trained_run):
    _, workdir, export = trained_run
    history_before = (workdir / "history.csv").read_text()
    assert main(["train", "tutorial_5x5", "--dataset", "digits", "--workdir", str(workdir),
                 "--export", str(export), "--seed", "1", *TINY]) == 0
    assert (workdir / "history.csv").read_text() == history_before
    assert export.exists()


def test_evaluate_command_reads_the_export_and_agrees_with_the_keras_model(
        trained_run, capsys):
    _, workdir, export = trained_run
    if not (export / "saved_model.pb").is_file():
        pytest.skip("cnnzoo.export is not available; the export is a .keras file")
    assert main(["evaluate", str(export), "--dataset", "digits", "--limit", "300"]) == 0
    from_export = capsys.readouterr().out.splitlines()[0]
    assert main(["evaluate", str(workdir), "--dataset", "digits", "--limit", "300"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == from_export
