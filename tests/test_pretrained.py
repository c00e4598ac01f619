"""Shipped weights: each one's accuracy on the real test set, its hash, and every refusal."""

import dataclasses
import inspect
import json
import os
import pathlib
import re
import shutil

import keras
import numpy as np
import pytest

import cnnzoo
from cnnzoo import pretrained
from cnnzoo.pretrained import (WeightsIntegrityError, apply_weights, check_weights_request,
                               read_manifest, sha256_file, weights_for)

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
SHIPPED = read_manifest()
SHIPPED_IDS = [f"{entry.model}-{entry.tag}" for entry in SHIPPED]


def _results():
    from bench.results import RESULTS_FILE, WEIGHTS_DIR, read_results

    return {(row["model"], row["tag"]): row for row in read_results(WEIGHTS_DIR / RESULTS_FILE)}


def _build_with_weights(entry):
    """Returns `entry`'s model through `cnnzoo.build(weights=...)`, or, until `build` takes
    `weights`, built at the entry's shape and loaded with `apply_weights` as `build` will."""
    if "weights" in inspect.signature(cnnzoo.build).parameters:
        return cnnzoo.build(entry.model, weights=entry.tag)  # compiled, as users build it
    model = cnnzoo.build(entry.model, input_shape=entry.input_shape,
                         num_classes=entry.num_classes, compile=False)
    return apply_weights(model, name=entry.model, weights=entry.tag, include_top=True)


def _entry(model="mnist_cnn"):
    return next(entry for entry in SHIPPED if entry.model == model)


def test_weights_ship_for_the_zoo_and_the_results_command_makes_them():
    from bench.results import SHIPPED as TRAINED_BY_THE_RESULTS_COMMAND

    shipped = {entry.model for entry in SHIPPED}
    assert shipped == {"mnist_cnn", "lenet5", "tutorial_3x3", "resnet20", "resnet9_w24"}
    assert shipped == set(TRAINED_BY_THE_RESULTS_COMMAND)
    assert _results().keys() == {(entry.model, entry.tag) for entry in SHIPPED}


@pytest.mark.parametrize("entry", SHIPPED, ids=SHIPPED_IDS)
def test_shipped_file_matches_its_manifest(entry):
    path = pretrained.WEIGHTS_DIR / entry.file
    assert path.stat().st_size == entry.bytes < 5 * 2**20
    assert sha256_file(path) == entry.sha256
    assert weights_for(entry.model) and entry in weights_for(entry.model)
    assert entry.input_shape[-1] in (1, 3) and len(entry.class_names) == entry.num_classes
    row = _results()[(entry.model, entry.tag)]
    assert float(row["top1"]) == pytest.approx(100 * entry.test_accuracy, abs=0.005)
    assert row["command"] == entry.command and "cnnzoo train" in entry.command


def test_shipped_files_together_stay_small():
    assert sum(entry.bytes for entry in SHIPPED) < 20 * 2**20


@pytest.mark.skipif(not os.path.isdir(DEBIAN_FASHION_MNIST),
                    reason=f"full Fashion-MNIST is not at {DEBIAN_FASHION_MNIST} "
                           "(Debian: apt-get install dataset-fashion-mnist)")
@pytest.mark.parametrize("entry", SHIPPED, ids=SHIPPED_IDS)
def test_shipped_weights_reach_the_results_accuracy(entry):
    images, labels, _ = cnnzoo.load_arrays("fashion_mnist", "test", download=False)
    model = _build_with_weights(entry)
    predicted = model.predict(images.astype("float32"), batch_size=500, verbose=0).argmax(-1)
    accuracy = 100 * float(np.mean(predicted == labels))
    assert len(labels) == 10_000
    assert accuracy == pytest.approx(float(_results()[(entry.model, entry.tag)]["top1"]),
                                     abs=0.1)


def _tampered_manifest(tmp_path, entry):
    """Writes a manifest in `tmp_path` for a copy of `entry`'s file with one byte flipped,
    keeping the shipped hash; returns its path."""
    copy = tmp_path / entry.file
    shutil.copyfile(pretrained.WEIGHTS_DIR / entry.file, copy)
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"format_version": 1, "weights": [entry.to_json()]}))
    return manifest


def test_a_tampered_file_is_refused_and_nothing_is_loaded(tmp_path, monkeypatch):
    entry = _entry()
    monkeypatch.setattr(pretrained, "MANIFEST", _tampered_manifest(tmp_path, entry))
    model = cnnzoo.build("mnist_cnn", compile=False)
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(WeightsIntegrityError, match="SHA-256.*corrupted or was replaced"):
        apply_weights(model, name="mnist_cnn", weights="fashion_mnist", include_top=True)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_a_swapped_file_of_the_same_size_is_refused(tmp_path, monkeypatch):
    entry = _entry()
    other = dataclasses.replace(entry, sha256="0" * 64)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"format_version": 1, "weights": [other.to_json()]}))
    shutil.copyfile(pretrained.WEIGHTS_DIR / entry.file, tmp_path / entry.file)
    monkeypatch.setattr(pretrained, "MANIFEST", manifest)
    with pytest.raises(WeightsIntegrityError, match=entry.sha256):
        apply_weights(cnnzoo.build("mnist_cnn", compile=False), name="mnist_cnn",
                      weights="fashion_mnist", include_top=True)


def test_a_tag_backed_by_a_download_is_fetched_and_hash_checked(tmp_path, monkeypatch):
    entry = _entry()
    remote = tmp_path / "remote" / entry.file
    remote.parent.mkdir()
    shutil.copyfile(pretrained.WEIGHTS_DIR / entry.file, remote)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"format_version": 1, "weights": [
        dataclasses.replace(entry, url=remote.as_uri()).to_json()]}))
    monkeypatch.setattr(pretrained, "MANIFEST", manifest)
    (tmp_path / "cache").mkdir()  # get_file falls back to /tmp/.keras for a missing one.
    monkeypatch.setattr(pretrained, "DOWNLOAD_DIR", str(tmp_path / "cache"))
    model = apply_weights(cnnzoo.build("mnist_cnn", compile=False), name="mnist_cnn",
                          weights="fashion_mnist", include_top=True)
    assert (tmp_path / "cache" / "cnnzoo" / entry.file).is_file()
    for loaded, shipped in zip(model.get_weights(), _build_with_weights(entry).get_weights()):
        np.testing.assert_array_equal(loaded, shipped)

    data = bytearray(remote.read_bytes())
    data[len(data) // 2] ^= 0xFF
    remote.write_bytes(bytes(data))
    (tmp_path / "fresh_cache").mkdir()
    monkeypatch.setattr(pretrained, "DOWNLOAD_DIR", str(tmp_path / "fresh_cache"))
    with pytest.raises(WeightsIntegrityError, match="downloaded from"):
        apply_weights(cnnzoo.build("mnist_cnn", compile=False), name="mnist_cnn",
                      weights="fashion_mnist", include_top=True)


@pytest.mark.parametrize("tag, hint", [("imagenet", None), ("fashion_mnst", "fashion_mnist")])
def test_an_unknown_tag_names_the_tags_that_exist(tag, hint):
    with pytest.raises(ValueError, match=f"unknown weights '{tag}'.*'fashion_mnist'") as error:
        check_weights_request("mnist_cnn", tag, input_shape=None, num_classes=None,
                              include_top=True)
    assert hint is None or f"Did you mean {hint!r}" in str(error.value)


def test_a_model_without_weights_says_none_ship():
    with pytest.raises(ValueError, match="ships no weights for it"):
        check_weights_request("vgg16", "fashion_mnist", input_shape=None, num_classes=None,
                              include_top=True)


def test_a_tag_fills_the_shapes_it_was_trained_at():
    entry = _entry("lenet5")
    assert check_weights_request("lenet5", "fashion_mnist", input_shape=None,
                                 num_classes=None, include_top=True) == (entry.input_shape,
                                                                         entry.num_classes)


@pytest.mark.parametrize("request_, argument", [
    ({"input_shape": (32, 32, 1), "num_classes": None}, "input_shape=(32, 32, 1)"),
    ({"input_shape": None, "num_classes": 5}, "num_classes=5")])
def test_mismatched_shapes_are_refused_unless_the_top_is_left_out(request_, argument):
    with pytest.raises(ValueError, match=re.escape(argument) + ".*include_top=False"):
        check_weights_request("mnist_cnn", "fashion_mnist", include_top=True, **request_)
    shape, _ = check_weights_request("mnist_cnn", "fashion_mnist", include_top=False,
                                     **request_)
    assert shape == (request_["input_shape"] or _entry().input_shape)


def test_a_backbone_needs_the_channels_the_weights_were_trained_with():
    with pytest.raises(ValueError, match=re.escape("1-channel images; received "
                                                   "input_shape=(28, 28, 3)")):
        check_weights_request("mnist_cnn", "fashion_mnist", input_shape=(28, 28, 3),
                              num_classes=None, include_top=False)


def _mnist_cnn_backbone(input_shape):
    """A backbone of `mnist_cnn` (the layers up to `conv3`), freshly initialised: built by
    `cnnzoo.build(include_top=False)` where it takes that option, else cut by hand."""
    if "include_top" in inspect.signature(cnnzoo.build).parameters:
        return cnnzoo.build("mnist_cnn", input_shape=input_shape, include_top=False,
                            compile=False)
    full = cnnzoo.build("mnist_cnn", input_shape=input_shape, compile=False)
    return keras.Model(full.input, full.get_layer("conv3").output)


def test_include_top_false_loads_the_backbone_at_another_size():
    shipped = _build_with_weights(_entry())
    backbone = _mnist_cnn_backbone((36, 36, 1))
    assert not np.allclose(backbone.get_layer("conv1").kernel,
                           shipped.get_layer("conv1").kernel)
    apply_weights(backbone, name="mnist_cnn", weights="fashion_mnist", include_top=False)
    for layer in backbone.layers:
        expected = shipped.get_layer(layer.name).get_weights()
        for loaded, trained in zip(layer.get_weights(), expected, strict=True):
            np.testing.assert_array_equal(loaded, trained)


def test_a_users_keras_file_of_the_same_architecture_loads(tmp_path):
    source = cnnzoo.build("tutorial_5x5", compile=False)
    source.save(tmp_path / "mine.keras")
    source.save_weights(tmp_path / "mine.weights.h5")
    for path in ("mine.keras", "mine.weights.h5"):
        target = cnnzoo.build("tutorial_5x5", compile=False)
        apply_weights(target, name="tutorial_5x5", weights=str(tmp_path / path),
                      include_top=True)
        for loaded, saved in zip(target.get_weights(), source.get_weights()):
            np.testing.assert_array_equal(loaded, saved)


@pytest.mark.parametrize("suffix", [".weights.h5", ".keras"])
def test_a_file_of_another_architecture_is_refused(tmp_path, suffix):
    other = cnnzoo.build("tutorial_5x5", compile=False)
    path = tmp_path / f"other{suffix}"
    other.save_weights(path) if suffix == ".weights.h5" else other.save(path)
    model = cnnzoo.build("mnist_cnn", compile=False)
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match="another architecture"):
        apply_weights(model, name="mnist_cnn", weights=str(path), include_top=True)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_a_missing_or_foreign_path_is_refused_before_building(tmp_path):
    with pytest.raises(FileNotFoundError, match="no weights file at"):
        check_weights_request("mnist_cnn", str(tmp_path / "nothing.weights.h5"),
                              input_shape=None, num_classes=None, include_top=True)
    (tmp_path / "model.pt").write_bytes(b"torch")
    with pytest.raises(ValueError, match="end in .keras or .weights.h5"):
        check_weights_request("mnist_cnn", str(tmp_path / "model.pt"), input_shape=None,
                              num_classes=None, include_top=True)
    with pytest.raises(TypeError, match="received int 3"):
        check_weights_request("mnist_cnn", 3, input_shape=None, num_classes=None,
                              include_top=True)


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir(DEBIAN_FASHION_MNIST),
                    reason=f"full Fashion-MNIST is not at {DEBIAN_FASHION_MNIST}")
def test_the_results_command_trains_once_and_records_what_it_measured(tmp_path):
    from bench import results

    workdir, weights = tmp_path / "run", tmp_path / "weights"
    quick = ("--epochs", "1", "--limit", "256", "--batch-size", "64")
    command, seconds = results.train("tutorial_5x5", workdir, quick)
    assert command.startswith("python -m cnnzoo train tutorial_5x5 --dataset fashion_mnist")
    assert results.train("tutorial_5x5", workdir, quick) == (command, seconds)  # not rerun
    row, entry = results.make_row("tutorial_5x5", workdir, command=command,
                                  train_seconds=seconds, classic_seconds=2.0,
                                  machine="test machine", weights_dir=weights)
    results.record(row, entry, weights_dir=weights)
    (stored,) = results.read_results(weights / results.RESULTS_FILE)
    assert (stored["model"], stored["machine"], stored["command"]) == (
        "tutorial_5x5", "test machine", command)
    assert float(stored["top1"]) == pytest.approx(100 * entry.test_accuracy, abs=0.005)
    assert float(stored["classic_epochs"]) == pytest.approx(seconds / 2.0, abs=0.05)
    assert int(stored["params"]) == cnnzoo.model_card("tutorial_5x5").num_params
    assert read_manifest(weights / results.MANIFEST_FILE) == (entry,)
    assert entry.sha256 == sha256_file(weights / entry.file)
    table = results.markdown_table(weights / results.RESULTS_FILE)
    assert "| `tutorial_5x5` | 28,938 |" in table


README_MARKERS = ("<!-- results:start -->", "<!-- results:end -->")


def test_the_readme_table_is_the_generated_one():
    from bench.results import markdown_table

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start, end = README_MARKERS
    if start not in readme or end not in readme:
        pytest.skip(f"README.md has no {start} ... {end} markers around the results table "
                    "yet (paste `python -m bench.results --markdown` between them)")
    table = readme.split(start, 1)[1].split(end, 1)[0]
    assert table.strip() == markdown_table().strip(), (
        "README.md's results table is not the one cnnzoo/weights/results.csv makes: paste "
        f"the output of `python -m bench.results --markdown` between {start} and {end}")


def test_the_model_card_lists_the_weights_that_ship():
    card = cnnzoo.model_card("mnist_cnn")
    assert [(w.tag, w.dataset) for w in card.weights] == [("fashion_mnist", "fashion_mnist")]
    assert card.weights[0].command.startswith("python3 -m cnnzoo train mnist_cnn")
    assert cnnzoo.model_card("vgg16").weights == ()
