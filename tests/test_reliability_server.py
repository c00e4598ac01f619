"""The development server under slow clients and ambiguous framing, on real sockets.

Issue 27: 100 connections each sending a header line every 3 s held all 64 slots and
every normal request got 503. Here a server with few slots and a short request deadline
meets more slow-loris sockets than it has slots; every loop stops by itself.
"""

import base64
import http.client
import io
import json
import os
import socket
import struct
import threading
import time
import zlib

import numpy as np
import pytest
from PIL import Image

import cnnzoo
from cnnzoo.export import export_saved_model
from cnnzoo.serve import make_server

SHAPE = (8, 8, 1)
SLOTS, DEADLINE = 4, 2.0


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    model = cnnzoo.build("tutorial_5x5", input_shape=SHAPE, num_classes=3)
    return export_saved_model(model, tmp_path_factory.mktemp("serve") / "tiny",
                              class_names=["a", "b", "c"])


@pytest.fixture
def server(export):
    server = make_server(export, port=0, max_connections=SLOTS, request_seconds=DEADLINE)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def _predict(server, timeout=10):
    """Returns `(status, JSON reply)` of one normal predict request."""
    host, port = server.server_address[:2]
    body = json.dumps({"instances": np.zeros((1, *SHAPE), np.uint8).tolist()})
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("POST", f"/v1/models/{server.service.name}:predict", body,
                           {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


class SlowLoris:
    """`count` sockets that each send a header line every `every` s, until `stop`."""

    def __init__(self, server, count, every=0.3, lasting=8.0):
        self.address = server.server_address[:2]
        self.sockets, self.every, self.until = [], every, time.monotonic() + lasting
        for _ in range(count):
            sock = socket.create_connection(self.address, timeout=5)
            sock.sendall(b"POST /v1/models/x:predict HTTP/1.1\r\nHost: x\r\n")
            self.sockets.append(sock)
        self.closed_at = {}
        self.thread = threading.Thread(target=self._trickle, daemon=True)
        self.thread.start()

    def _trickle(self):
        started = time.monotonic()
        while time.monotonic() < self.until and len(self.closed_at) < len(self.sockets):
            for index, sock in enumerate(self.sockets):
                if index in self.closed_at:
                    continue
                try:
                    sock.sendall(b"X-Slow: 1\r\n")
                except OSError:  # The server closed it.
                    self.closed_at[index] = time.monotonic() - started
            time.sleep(self.every)

    def stop(self):
        self.until = 0
        self.thread.join(timeout=10)
        for sock in self.sockets:
            sock.close()


def test_slow_clients_are_closed_at_the_request_deadline(server):
    loris = SlowLoris(server, SLOTS, lasting=DEADLINE + 5)
    try:
        loris.thread.join(timeout=DEADLINE + 8)
        # Each kept sending a line every 0.3 s, so only the whole-request deadline ends it.
        assert len(loris.closed_at) == SLOTS
        assert max(loris.closed_at.values()) < DEADLINE + 2
    finally:
        loris.stop()


def test_a_normal_request_gets_through_more_slow_clients_than_slots(server):
    loris = SlowLoris(server, 3 * SLOTS)
    try:
        time.sleep(0.5)  # Every slot is taken; the extra sockets got 503s or evictions.
        for _ in range(3):
            started = time.monotonic()
            status, reply = _predict(server)
            assert status == 200, reply
            assert time.monotonic() - started < 1.5
            assert len(reply["predictions"][0]["probabilities"]) == 3
    finally:
        loris.stop()


def test_an_evicted_slow_client_is_told_why(server):
    loris = SlowLoris(server, SLOTS)
    try:
        time.sleep(0.3)
        assert _predict(server)[0] == 200
        replies = []
        for sock in loris.sockets:
            sock.settimeout(0.2)
            try:
                replies.append(sock.recv(4096))
            except OSError:
                replies.append(b"")
        evicted = [r for r in replies if r.startswith(b"HTTP/1.1 408")]
        assert len(evicted) == 1 and b"new request" in evicted[0]
    finally:
        loris.stop()


def _raw(server, head, body=b""):
    """Returns the status line of a raw request `head` (+ `body`) and the reply's JSON."""
    with socket.create_connection(server.server_address[:2], timeout=10) as sock:
        sock.sendall(head + body)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, payload = reply.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(), json.loads(payload or b"{}")


@pytest.mark.parametrize("headers, word", [
    (b"Content-Length: 2\r\nContent-Length: 2\r\n", "2 Content-Length headers"),
    (b"Content-Length: 2\r\nContent-Length: 40\r\n", "2 Content-Length headers"),
    (b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n", "Transfer-Encoding"),
])
def test_ambiguous_body_lengths_are_refused(server, headers, word):
    status, reply = _raw(server, b"POST /v1/models/tiny:predict HTTP/1.1\r\nHost: x\r\n"
                         + headers + b"\r\n", b"{}")
    assert status.startswith("HTTP/1.1 400"), status
    assert word in reply["error"] and "RFC 9112" in reply["error"]


def test_a_body_trickling_past_the_deadline_gets_408(server):
    with socket.create_connection(server.server_address[:2], timeout=10) as sock:
        sock.sendall(b"POST /v1/models/tiny:predict HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: 1000\r\n\r\n")
        reply, started = b"", time.monotonic()
        while time.monotonic() - started < DEADLINE + 5:
            try:
                sock.sendall(b" ")
            except OSError:
                break
            sock.settimeout(0.3)
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                break
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
    assert time.monotonic() - started < DEADLINE + 2


# -- images whose headers hide their cost -------------------------------------------------

def _resident_bytes():
    with open("/proc/self/status") as status:
        kilobytes = next(line for line in status if line.startswith("VmRSS")).split()[1]
    return int(kilobytes) * 1024


def _jpeg_bomb():
    """A JPEG declaring 20000x20000 pixels, its frame header behind two 64 KB APP segments."""
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buffer, format="JPEG")
    jpeg = buffer.getvalue()
    frame = jpeg.index(b"\xff\xc0")  # Baseline frame header: its size at +5.
    jpeg = jpeg[:frame + 5] + struct.pack(">HH", 20000, 20000) + jpeg[frame + 9:]
    segments = b"".join(bytes([0xFF, marker]) + (65535).to_bytes(2, "big") + b"\0" * 65533
                        for marker in (0xE2, 0xE3))
    return jpeg[:2] + segments + jpeg[2:]


def _deep_png(width=4096, height=4096):
    """A 16-bit RGBA PNG of zeros: 127 KB, 128 MiB decoded, within the pixel limit."""
    row = b"\0" * (1 + width * 8)
    compressor = zlib.compressobj(9)
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind, payload):
        return (struct.pack(">I", len(payload)) + kind + payload
                + struct.pack(">I", zlib.crc32(kind + payload)))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height,
                                                              16, 6, 0, 0, 0))
            + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))


@pytest.mark.skipif(not os.path.exists("/proc/self/status"),
                    reason="reads the resident size from /proc (Linux)")
@pytest.mark.parametrize("path", [":predict", "/explain"])
def test_images_hiding_their_cost_are_refused_before_decoding(server, path):
    before = _resident_bytes()
    for image, word in ((_jpeg_bomb(), "20000x20000"), (_deep_png(), "16 bits")):
        b64 = {"b64": base64.b64encode(image).decode()}
        body = {"instances": [b64]} if path == ":predict" else b64
        url = (f"/v1/models/{server.service.name}{path}" if path == ":predict" else path)
        status, reply = _post(server, url, body)
        assert status == 413 and word in reply["error"], reply
    # Decoding the JPEG would take 1.2 GB, the PNG over 128 MiB.
    assert _resident_bytes() - before < 50 * 1024 * 1024


def test_an_image_of_unknown_size_is_a_400(server):
    status, reply = _post(server, f"/v1/models/{server.service.name}:predict",
                          {"instances": [{"b64": base64.b64encode(b"\xff\xd8\xff").decode()}]})
    assert status == 400 and "is not a PNG, JPEG" in reply["error"]


def test_cnnzoo_predict_refuses_them_by_file_name(export, tmp_path, capsys):
    from cnnzoo.cli import main

    for name, image, word in (("bomb.jpg", _jpeg_bomb(), "20000x20000"),
                              ("deep.png", _deep_png(), "16 bits"),
                              ("cut.jpg", b"\xff\xd8\xff\xe0\x00\x10JF", "is not a PNG")):
        (tmp_path / name).write_bytes(image)
        assert main(["predict", str(export), str(tmp_path / name)]) == 2
        error = capsys.readouterr().err.strip()
        assert len(error.splitlines()) == 1 and name in error and word in error, error


def _post(server, path, body):
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        connection.request("POST", path, json.dumps(body),
                           {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()
