"""Weights from a URL: a real HTTP server on 127.0.0.1 serves good, wrong, cut and missing files."""

import dataclasses
import http.server
import json
import threading

import numpy as np
import pytest

import cnnzoo
from cnnzoo import pretrained
from cnnzoo.cli import main
from cnnzoo.pretrained import WeightsDownloadError, WeightsIntegrityError, read_manifest

ENTRY = next(entry for entry in read_manifest() if entry.model == "mnist_cnn")
DATA = (pretrained.WEIGHTS_DIR / ENTRY.file).read_bytes()


class _Handler(http.server.BaseHTTPRequestHandler):
    """`/good/NAME`: the file; `/cut/NAME`: half of it, then the connection closes;
    anything else: 404. Every request is counted in `server.requests`."""

    timeout = 10  # A stalled client is dropped: the server stays bounded.

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.server.requests.append(self.path)
        if self.path.startswith(("/good/", "/cut/")):
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(DATA)))
            self.end_headers()
            cut = self.path.startswith("/cut/")
            self.wfile.write(DATA[:len(DATA) // 2] if cut else DATA)
            self.close_connection = True
        else:
            self.send_error(404, "Not Found")


@pytest.fixture(scope="module")
def server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setattr(pretrained, "DOWNLOAD_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "cnnzoo"


def _url(server, folder, sha256=ENTRY.sha256):
    host, port = server.server_address[:2]
    return f"http://{host}:{port}/{folder}/{ENTRY.file}#sha256={sha256}"


def _cached(cache):
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


def test_a_url_is_downloaded_once_checked_and_loaded(server, cache):
    url = _url(server, "good")
    before = len(server.requests)
    model = cnnzoo.build("mnist_cnn", weights=url, compile=False)
    shipped = cnnzoo.build("mnist_cnn", weights="fashion_mnist", compile=False)
    for loaded, expected in zip(model.get_weights(), shipped.get_weights()):
        np.testing.assert_array_equal(loaded, expected)
    assert _cached(cache) == [ENTRY.file]
    assert (cache / ENTRY.file).read_bytes() == DATA
    cnnzoo.build("mnist_cnn", weights=url, compile=False)  # From the cache.
    assert len(server.requests) == before + 1


def test_a_manifest_url_is_downloaded(server, cache, tmp_path, monkeypatch):
    manifest = tmp_path / "manifest.json"
    remote = dataclasses.replace(ENTRY, url=_url(server, "good").split("#")[0])
    manifest.write_text(json.dumps({"format_version": 1, "weights": [remote.to_json()]}))
    monkeypatch.setattr(pretrained, "MANIFEST", manifest)  # No file beside it: a download.
    model = cnnzoo.build("mnist_cnn", weights="fashion_mnist", compile=False)
    assert _cached(cache) == [ENTRY.file] and model.count_params() == 93_322


@pytest.mark.parametrize("folder, sha256, error, message", [
    ("good", "0" * 64, WeightsIntegrityError, "SHA-256 is not 0000"),
    ("cut", ENTRY.sha256, WeightsDownloadError, "could not download weights from http"),
    ("missing", ENTRY.sha256, WeightsDownloadError, "404"),
])
def test_a_failed_download_says_why_and_caches_nothing(server, cache, folder, sha256, error,
                                                      message):
    with pytest.raises(error, match=message) as raised:
        cnnzoo.build("mnist_cnn", weights=_url(server, folder, sha256), compile=False)
    assert "nothing was cached" in str(raised.value)
    assert _cached(cache) == []


def test_a_stale_cached_file_is_downloaded_again(server, cache):
    cache.mkdir(parents=True)
    (cache / ENTRY.file).write_bytes(DATA[:100])  # Half a download from an older version.
    cnnzoo.build("mnist_cnn", weights=_url(server, "good"), compile=False)
    assert (cache / ENTRY.file).read_bytes() == DATA and _cached(cache) == [ENTRY.file]


@pytest.mark.parametrize("url, message", [
    ("https://example.org/m.weights.h5", "must end in '#sha256="),
    ("https://example.org/m.weights.h5#sha256=abc", "must end in '#sha256="),
    ("https://example.org/m.bin#sha256=" + "a" * 64, "must name a .keras or .weights.h5"),
])
def test_a_url_without_its_hash_or_name_is_refused_before_building(url, message, cache):
    with pytest.raises(ValueError, match=message):
        cnnzoo.build("mnist_cnn", weights=url)
    assert _cached(cache) == []


def test_the_cli_reports_a_failed_download_on_one_line(server, cache, tmp_path, capsys):
    url = _url(server, "missing")
    assert main(["finetune", "mnist_cnn", "--dataset", "digits", "--workdir",
                 str(tmp_path / "run"), "--weights", url]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("cnnzoo finetune: error: ") and "404" in error
    assert len(error.splitlines()) == 1 and _cached(cache) == []
