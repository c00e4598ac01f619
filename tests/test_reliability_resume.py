"""Issue 27: `cnnzoo train --new-recipe`: a resume under another recipe is refused in one
line unless asked, and then recorded."""

import json

from cnnzoo.cli import main


def test_the_cli_refuses_a_new_recipe_on_resume_unless_asked(tmp_path, capsys):
    workdir = tmp_path / "run"
    tiny = ["tutorial_5x5", "--dataset", "digits", "--workdir", str(workdir), "--limit", "64",
            "--batch-size", "32", "--validation-split", "0"]
    assert main(["train", *tiny, "--epochs", "1"]) == 0
    capsys.readouterr()
    assert main(["train", *tiny, "--epochs", "2", "--learning-rate", "0.01"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and error.startswith("cnnzoo train: error: ")
    assert "learning_rate 0.002 -> 0.01" in error and "--new-recipe" in error
    before = json.loads((workdir / "run.json").read_text())

    assert main(["train", *tiny, "--epochs", "2", "--learning-rate", "0.01",
                 "--new-recipe"]) == 0
    run = json.loads((workdir / "run.json").read_text())
    assert run["recipe_changes"] == [{"after_epoch": 1, "from": {"learning_rate": 0.002},
                                      "to": {"learning_rate": 0.01}}]
    assert run["finished_epochs"] == 2 and before["recipe_now"]["learning_rate"] == 0.002
