"""The development server: real HTTP requests in TF Serving's REST format, good and bad."""

import base64
import concurrent.futures
import http.client
import json
import os
import socket
import struct
import threading
import time
import zlib
import urllib.error
import urllib.request

import numpy as np
import pytest
import tensorflow as tf

import cnnzoo
from cnnzoo.export import export_saved_model, load_exported
from cnnzoo.serve import check_loopback, check_port, make_server

CLASS_NAMES = [f"class_{i}" for i in range(10)]


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).integers(0, 256, (3, 28, 28, 1), dtype=np.uint8)


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    model = cnnzoo.build_mnist_cnn()
    return export_saved_model(model, tmp_path_factory.mktemp("serve") / "mnist_cnn",
                              class_names=CLASS_NAMES, version=3)


@pytest.fixture(scope="module")
def server(export):
    server = make_server(export.parent, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def call(url, body=None, *, raw=None, method=None):
    """Returns `(status, parsed JSON)` of a request; `raw` sends bytes as they are."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def expected_probabilities(export, images):
    return load_exported(export).predict(images)


def test_status_like_tensorflow_serving(server):
    assert server.url.endswith("/v1/models/mnist_cnn")
    status, body = call(server.url)
    assert status == 200
    assert body == {"model_version_status": [{
        "version": "3", "state": "AVAILABLE",
        "status": {"error_code": "OK", "error_message": ""}}]}
    assert call(server.url + "/versions/3")[0] == 200
    status, body = call(server.url + "/metadata")
    assert status == 200 and "serving_bytes" in body["metadata"]["signature_def"]


def test_predict_instances(server, export, images):
    status, body = call(server.url + ":predict", {"instances": images.tolist()})
    assert status == 200
    expected = expected_probabilities(export, images)
    predictions = body["predictions"]
    assert len(predictions) == 3
    np.testing.assert_allclose([p["probabilities"] for p in predictions], expected, atol=1e-6)
    assert [p["class_ids"] for p in predictions] == expected.argmax(-1).tolist()
    assert [p["class_names"] for p in predictions] == \
        [CLASS_NAMES[i] for i in expected.argmax(-1)]


def test_predict_columnar_inputs(server, export, images):
    status, body = call(server.url + ":predict", {"inputs": {"images": images.tolist()}})
    assert status == 200
    np.testing.assert_allclose(body["outputs"]["probabilities"],
                               expected_probabilities(export, images), atol=1e-6)
    assert len(body["outputs"]["class_names"]) == 3


def test_predict_b64_images(server, export, images):
    encoded = [{"b64": base64.b64encode(tf.io.encode_png(i).numpy()).decode()}
               for i in images]
    for body in ({"instances": encoded},
                 {"signature_name": "serving_bytes", "instances": encoded},
                 {"inputs": {"image_bytes": encoded}}):
        status, reply = call(server.url + "/versions/3:predict", body)
        assert status == 200, reply
        result = reply.get("predictions") or [
            dict(zip(reply["outputs"], v)) for v in zip(*reply["outputs"].values())]
        np.testing.assert_allclose([p["probabilities"] for p in result],
                                   expected_probabilities(export, images), atol=1e-6)


@pytest.mark.parametrize("raw, message", [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "\"instances\""),
    (b'{"instances": [], "inputs": []}', "either"),
    (b'{"instances": []}', "non-empty list"),
    (json.dumps({"instances": np.zeros((2, 27, 28, 1), int).tolist()}).encode(),
     r"uint8 with shape [batch, 28, 28, 1]"),
    (json.dumps({"instances": [[[1, 2]], [[3]]]}).encode(), "ragged"),
    (json.dumps({"instances": np.full((1, 28, 28, 1), 300).tolist()}).encode(),
     "outside [0, 255]"),
    (b'{"instances": [{"b64": "%%%"}]}', "not valid base64"),
    (json.dumps({"instances": [{"b64": base64.b64encode(b"no image").decode()}]}).encode(),
     "is not a PNG, JPEG"),
    (b'{"signature_name": "nope", "instances": [[1]]}', "unknown signature_name"),
    (b'{"signature_name": "serving_bytes", "instances": [[1]]}', "takes encoded images"),
    (json.dumps({"instances": [[[[True]] * 28] * 28]}).encode(), "boolean"),
    (b'{"instances": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
])
def test_bad_requests_get_400_with_a_json_error(server, raw, message):
    status, body = call(server.url + ":predict", raw=raw)
    assert status == 400
    assert message in body["error"]


def test_unknown_routes_and_models_get_404(server):
    base = server.url.rsplit("/", 1)[0]
    assert call(base + "/other:predict", {"instances": [[1]]})[0] == 404
    assert call(server.url + "/versions/9")[0] == 404
    assert call(base.replace("/v1/models", "/v2"))[0] == 404


def test_oversized_body_is_refused(server, monkeypatch):
    monkeypatch.setattr("cnnzoo.serve.MAX_BODY_BYTES", 10)
    status, body = call(server.url + ":predict", {"instances": [[1, 2, 3]]})
    assert status == 413 and "limit" in body["error"]


def test_server_still_answers_after_bad_requests(server, images):
    call(server.url + ":predict", raw=b"\x00\xff")
    status, body = call(server.url + ":predict", {"instances": images[:1].tolist()})
    assert status == 200 and len(body["predictions"]) == 1


def test_refused_body_does_not_leak_into_the_next_request(server, images):
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=60)
    body = json.dumps({"instances": images[:1].tolist()})
    connection.request("POST", "/v1/models/other:predict", body=body)
    response = connection.getresponse()
    assert (response.status, response.getheader("Connection")) == (404, "close")
    response.read()
    connection.request("POST", "/v1/models/mnist_cnn:predict", body=body)
    response = connection.getresponse()
    assert response.status == 200
    assert len(json.loads(response.read())["predictions"]) == 1
    connection.close()


def test_model_name_and_version_come_from_the_folder_or_the_caller(export):
    for folder, name, expected in [(export.parent, None, "mnist_cnn/versions/3"),
                                   (export, "digits", "digits/versions/3")]:
        server = make_server(folder, port=0, model_name=name)
        try:
            service = server.service
            assert f"{service.name}/versions/{service.version}" == expected
        finally:
            server.server_close()


def test_only_loopback_hosts():
    assert check_loopback("127.0.0.1") == "127.0.0.1"
    with pytest.raises(ValueError, match="loopback only"):
        check_loopback("0.0.0.0")


@pytest.mark.parametrize("port", [-1, 65536, 70000, "8501", True])
def test_ports_outside_0_to_65535_are_refused(export, port):
    assert check_port(0) == 0 and check_port(65535) == 65535
    with pytest.raises(ValueError, match="port must be an integer from 0 to 65535"):
        make_server(export, port=port)


def _png(width, height):
    """Returns a real grayscale PNG of zeros: small on disk, `width * height` bytes decoded."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    row = b"\x00" * (width + 1)  # Filter byte, then the pixels.
    compressor = zlib.compressobj(9)
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height,
                                                              8, 0, 0, 0, 0))
            + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))


def _resident_bytes():
    with open("/proc/self/status") as status:
        kilobytes = next(line for line in status if line.startswith("VmRSS")).split()[1]
    return int(kilobytes) * 1024


@pytest.mark.skipif(not os.path.exists("/proc/self/status"),
                    reason="reads the resident size from /proc (Linux)")
def test_decompression_bomb_images_are_refused_before_decoding(server):
    bomb = base64.b64encode(_png(10_000, 10_000)).decode()  # 100 MB decoded, < 1 MB sent.
    before = _resident_bytes()
    for _ in range(3):
        status, body = call(server.url + ":predict", {"instances": [{"b64": bomb}]})
        assert status == 413 and "10000x10000 pixels" in body["error"]
    # Decoding even one would add 100 MB; what remains is parsing the 0.1 MB request.
    assert _resident_bytes() - before < 50 * 1024 * 1024


def test_too_many_images_in_one_request_are_refused(server, monkeypatch):
    monkeypatch.setattr("cnnzoo.serve.MAX_INSTANCES", 4)
    status, body = call(server.url + ":predict", {"instances": [[[[0]] * 28] * 28] * 5})
    assert status == 413 and "5 images; the limit is 4" in body["error"]


def test_body_shorter_than_its_content_length_is_a_fast_400(server, monkeypatch):
    monkeypatch.setattr("cnnzoo.serve._Handler.timeout", 1)
    host, port = server.server_address[:2]
    with socket.create_connection((host, port), timeout=30) as client:
        client.sendall(b"POST /v1/models/mnist_cnn:predict HTTP/1.1\r\nHost: x\r\n"
                       b"Content-Length: 1000\r\n\r\n{\"instances\": ")
        started = time.monotonic()
        reply = client.recv(65536).decode()
    assert reply.startswith("HTTP/1.1 400") and "of the 1000 bytes" in reply
    assert time.monotonic() - started < 20  # The stall limit, not the old 60 s, and no 500.


def test_idle_connections_make_way_for_new_requests_and_are_dropped(export, monkeypatch):
    monkeypatch.setattr("cnnzoo.serve._Handler.timeout", 1)
    server = make_server(export.parent, port=0, max_connections=3)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        idle = [socket.create_connection(server.server_address[:2]) for _ in range(3)]
        time.sleep(0.3)  # Let the server accept them: every slot is taken.
        assert call(server.url)[0] == 200  # The oldest idle one made way...
        evicted = idle[0].recv(4096)
        assert evicted.startswith(b"HTTP/1.1 408") and b"new request" in evicted
        time.sleep(2.5)  # ...and past the idle limit the silent clients are dropped.
        assert [c.recv(4096) for c in idle[1:]] == [b"", b""]
        assert call(server.url)[0] == 200
        for connection in idle:
            connection.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.mark.slow
def test_concurrent_clients_get_the_answers_of_sequential_calls(server, export):
    rng = np.random.default_rng(1)
    batches = [rng.integers(0, 256, (1, 28, 28, 1), dtype=np.uint8) for _ in range(16)]
    expected = [expected_probabilities(export, b)[0] for b in batches]

    def one_request(index):
        status, body = call(server.url + ":predict", {"instances": batches[index % 16].tolist()})
        assert status == 200, body
        return index, body["predictions"][0]["probabilities"]

    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        results = list(pool.map(one_request, range(32 * 64)))
    assert len(results) == 32 * 64
    for index, probabilities in results:
        np.testing.assert_allclose(probabilities, expected[index % 16], atol=1e-6)
