"""The command line answers help and bad options without Keras or TensorFlow, and quietly.

Each command runs in a subprocess with `-X importtime` (PYTHONPROFILEIMPORTTIME), whose
report on stderr names every module the process imported.
"""

import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
HEAVY = {"keras", "tensorflow"}
TF_LOG_LINE = re.compile(r"^[IWEF]\d{4} [\d:.]+\s+\d+ \S+:\d+\]|absl::InitializeLog|cuInit|"
                         r"cudart|cpu_feature_guard", re.MULTILINE)


def cnnzoo_command():
    """Returns the installed `cnnzoo` console script, else `python -m cnnzoo`."""
    script = pathlib.Path(sys.executable).parent / "cnnzoo"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "cnnzoo"]


def run(command, **env):
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    environment.pop("TF_CPP_MIN_LOG_LEVEL", None)  # The test settings quiet TF themselves.
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env=environment)


def imported_packages(stderr):
    """Returns the top-level names of the modules in an importtime report."""
    return {line.rsplit("|", 1)[1].strip().split(".")[0]
            for line in stderr.splitlines() if line.startswith("import time:") and "|" in line}


@pytest.mark.parametrize("arguments, status, expected", [
    (["--help"], 0, "train"),
    (["train", "--help"], 0, "--epochs"),
    (["evaluate", "--help"], 0, "--split"),
    (["export", "--help"], 0, "--format"),
    (["finetune", "--help"], 0, "--unfreeze"),
    (["doctor", "--help"], 0, "--steps"),
    (["train", "mnist_cnn", "--dataset", "x", "--epochs", "abc"], 2, "positive integer"),
    (["train", "mnist_cnn", "--dataset", "x", "--learning-rate", "fast"], 2, "positive finite"),
    (["train", "mnist_cnn", "--dataset", "x", "--learning-rate", "nan"], 2, "positive finite"),
    (["train", "mnist_cnn", "--dataset", "x", "--learning-rate", "-1"], 2, "positive finite"),
    (["list", "--no-such-flag"], 2, "unrecognized arguments: --no-such-flag"),
    (["no-such-command"], 2, "invalid choice"),
])
def test_help_and_bad_options_answer_without_keras_or_tensorflow(arguments, status, expected):
    result = run(cnnzoo_command() + arguments, PYTHONPROFILEIMPORTTIME="1")
    assert result.returncode == status, result.stderr[-2000:]
    assert expected in (result.stdout if status == 0 else result.stderr)
    packages = imported_packages(result.stderr)
    assert {"argparse", "cnnzoo"} <= packages  # The report is there to read.
    assert not packages & HEAVY, sorted(packages & HEAVY)


def test_python_dash_m_is_the_same_command():
    result = run([sys.executable, "-m", "cnnzoo", "train", "--help"],
                 PYTHONPROFILEIMPORTTIME="1")
    assert result.returncode == 0 and "--steps-per-epoch" in result.stdout
    assert not imported_packages(result.stderr) & HEAVY


def test_import_cnnzoo_is_lazy_and_lists_its_names():
    script = ("import sys, cnnzoo\n"
              "assert {'build', 'build_mnist_cnn', 'fit', 'ModelCard'} <= set(dir(cnnzoo))\n"
              "assert not {'keras', 'tensorflow'} & set(sys.modules), 'eager import'\n"
              "from cnnzoo import build_mnist_cnn, list_models\n"
              "assert 'mnist_cnn' in list_models() and 'resnet20' in cnnzoo.list_models()\n")
    result = run([sys.executable, "-c", script], KERAS_BACKEND="tensorflow")
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.slow
def test_list_prints_the_table_and_no_tensorflow_log_line():
    result = run(cnnzoo_command() + ["list"], KERAS_BACKEND="tensorflow")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines()[0].split()[:3] == ["name", "family", "params"]
    assert "mnist_cnn" in result.stdout
    assert not TF_LOG_LINE.search(result.stderr), result.stderr[-2000:]


def test_absl_lines_written_while_tensorflow_loads_are_dropped(capfd):
    from cnnzoo.tf_logs import _without_absl_lines

    with _without_absl_lines():
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are "
                    b"written to STDERR\n"
                    b"I0000 00:00:1796213572.905174    7540 cudart_stub.cc:31] Could not find "
                    b"cuda drivers on your machine, GPU will not be used.\n"
                    b"E0000 00:00:1796213611.786612    8080 cuda_platform.cc:52] failed call "
                    b"to cuInit: INTERNAL: CUDA error\n"
                    b"a line that is not TensorFlow's\n")
        print("and one from Python", file=sys.stderr)
    # Under pytest, Python's sys.stderr is not descriptor 2, so the order may differ.
    assert sorted(capfd.readouterr().err.splitlines()) == [
        "a line that is not TensorFlow's", "and one from Python"]


@pytest.mark.parametrize("arguments, verbose", [
    (["list"], False), (["--verbose", "list"], True), (["list", "-v"], True),
    (["-v", "train", "mnist_cnn", "--dataset", "digits"], True),
])
def test_verbose_goes_before_or_after_the_command(arguments, verbose):
    from cnnzoo.cli import build_parser

    assert build_parser().parse_args(arguments).verbose is verbose


def test_the_package_offers_every_public_name_of_cnnzoo_models():
    import cnnzoo
    import cnnzoo.models

    public = {name for name in vars(cnnzoo.models)
              if not name.startswith("_") and callable(getattr(cnnzoo.models, name))}
    assert public == {name for name, module in cnnzoo._LAZY.items()
                      if module == "cnnzoo.models"}
    assert all(getattr(cnnzoo, name) is getattr(cnnzoo.models, name) for name in public)
