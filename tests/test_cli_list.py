"""`cnnzoo list`: the model table, filtering, and one-line errors."""

import subprocess
import sys

from cnnzoo.cli import main


def test_list_prints_the_table(capsys):
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["name", "family", "params", "input", "classes"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows["mnist_cnn"][2:] == ["93,322", "28x28x1", "10"]
    assert rows["resnet50"][2:] == ["25,557,032", "224x224x3", "1000"]


def test_list_filters_by_wildcard(capsys):
    assert main(["list", "lenet*"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]] == ["lenet5"]


def test_list_with_no_match_is_a_one_line_error(capsys):
    assert main(["list", "nothing*"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no model matches 'nothing*'" in err


def test_console_script_runs():
    result = subprocess.run([sys.executable, "-m", "cnnzoo", "list", "vgg16*"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "vgg16_bn" in result.stdout
