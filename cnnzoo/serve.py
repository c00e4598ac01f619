"""A development server speaking TensorFlow Serving's REST API, on loopback only.

The same client works here and against TensorFlow Serving in production:

    POST /v1/models/NAME[/versions/V]:predict   {"instances": [...]} or {"inputs": ...}
    GET  /v1/models/NAME[/versions/V]           the model's version status
    GET  /v1/models/NAME[/versions/V]/metadata  the signatures and the model card
    GET  /                                      a page to try the model on an image
    POST /explain                               the page's top classes and Grad-CAM

Each instance is an image as nested lists of uint8 pixels `[H][W][C]`, or encoded image
bytes as `{"b64": "..."}` (routed to the `serving_bytes` signature); `signature_name`
picks a signature explicitly. Bad requests get HTTP 400 with `{"error": "..."}`.
It is a development tool: one process, threads, no batching, no TLS. Its resources are
bounded all the same: the body size, images per request, each encoded image's declared
pixels and decoded bytes (read from its header before decoding), JSON nesting, open
connections, the time a client may stall and the time a whole request may take to arrive
(TF Serving's `--rest_api_timeout_in_ms`); when every connection is taken, the one that
has been sending its request the longest makes way for a new one.
"""

import base64
import binascii
import http.server
import io
import ipaddress
import json
import math
import re
import socket
import sys
import threading
import time

from cnnzoo.export import signatures as sigs
from cnnzoo.layouts.serving import version_number
from cnnzoo.export.predictor import ImageInputError, load_exported
from cnnzoo.page import EXPLAIN_PATH, PageService
from cnnzoo.image_header import ImageHeaderError, ImageTooLargeError, check_image_header

MAX_BODY_BYTES = 32 * 1024 * 1024
# 7,500 blank 28x28 images fit under the body limit as JSON and cost 0.84 GB to parse and
# convert; TF Serving clients batch far fewer per request.
MAX_INSTANCES = 1024
MAX_CONNECTIONS = 64  # Each open connection holds a thread.
IDLE_SECONDS = 10  # A client silent this long mid-request is dropped (slow clients).
# A request's line, headers and body must all arrive within this, however steadily they
# trickle in (TF Serving's --rest_api_timeout_in_ms defaults to 30 s as well).
REQUEST_SECONDS = 30
# When every connection is taken, a new one waits this long for the one it evicts.
EVICT_WAIT_SECONDS = 1.0
LISTEN_BACKLOG = 128  # socketserver's 5 reset connections under 32 concurrent clients.
_ROUTE = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+))?"
                    r"(?P<rest>:predict|/metadata)?$")


class RequestError(Exception):
    """A request the server refuses; carries the HTTP status."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def check_loopback(host):
    """Returns `host` if it names a loopback address.

    Raises:
        ValueError: any other address (the server has no authentication).

    Example:
        >>> check_loopback("127.0.0.1"), check_loopback("localhost")
        ('127.0.0.1', 'localhost')
    """
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror as error:
        raise ValueError(f"cannot resolve host {host!r}: {error}.") from None
    if not addresses or not all(ipaddress.ip_address(a.split("%")[0]).is_loopback
                                for a in addresses):
        raise ValueError(f"the development server listens on loopback only; received "
                         f"host={host!r}. Use 127.0.0.1, or TensorFlow Serving to serve "
                         "other machines.")
    return host


def check_port(port):
    """Returns `port` if it is a TCP port number, 0 to 65535 (0 picks a free port).

    Raises:
        ValueError: anything else.

    Example:
        >>> check_port(8501)
        8501
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port must be an integer from 0 to 65535 (0 picks a free port); "
                         f"received port={port!r}.")
    return port


def _decode_b64(value, index):
    try:
        data = base64.b64decode(value["b64"], validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise RequestError(400, "a {\"b64\": ...} value is not valid base64.") from None
    try:
        check_image_header(data, name=f"image {index}")
    except ImageTooLargeError as error:
        raise RequestError(413, str(error)) from None
    except ImageHeaderError as error:  # Its size unknown, its cost would be too.
        raise RequestError(400, str(error)) from None
    return data


def _check_no_booleans(values):
    """Refuses JSON `true`/`false` among pixel values (Python would take them as 1 and 0)."""
    pending = [values]
    while pending:
        value = pending.pop()
        if isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, bool):
            raise RequestError(400, "pixel values must be numbers from 0 to 255; received a "
                                    f"boolean ({str(value).lower()}).")


def _is_b64(value):
    return isinstance(value, dict) and set(value) == {"b64"}


class ModelService:
    """The model behind the server: an `ExportedPredictor`, its name and version."""

    def __init__(self, export, *, model_name=None):
        self.predictor = load_exported(export)
        folder = self.predictor.path
        version = version_number(folder.name)
        self.version = 1 if version is None else version
        default_name = folder.name if version is None else folder.parent.name
        self.name = model_name or self.predictor.card.get("model") or default_name

    def status(self):
        """Returns TF Serving's `GetModelStatus` response as JSON-ready data."""
        return {"model_version_status": [{
            "version": str(self.version), "state": "AVAILABLE",
            "status": {"error_code": "OK", "error_message": ""}}]}

    def metadata(self):
        """Returns the model's signatures (as the card lists them) and its card."""
        return {"model_spec": {"name": self.name, "signature_name": "",
                               "version": str(self.version)},
                "metadata": {"signature_def": self.predictor.card.get("signatures", {}),
                             "cnnzoo_card": self.predictor.card}}

    def predict(self, request):
        """Returns the response to a TF Serving REST predict request (a parsed JSON body).

        Raises:
            RequestError: a malformed request or images the model cannot take (400).
        """
        if not isinstance(request, dict) or ("instances" in request) == ("inputs" in request):
            raise RequestError(400, "the request must be a JSON object with either "
                                    "\"instances\" (row format) or \"inputs\" (columnar).")
        row_format = "instances" in request
        values = request["instances"] if row_format else request["inputs"]
        signature = request.get("signature_name")
        if not row_format and isinstance(values, dict) and not _is_b64(values):
            if len(values) != 1:
                raise RequestError(400, f"\"inputs\" names {sorted(values)}; every "
                                        "signature here takes one input.")
            values = next(iter(values.values()))
        elif row_format:
            values = [self._unwrap_instance(v) for v in values] \
                if isinstance(values, list) else values
        if not isinstance(values, list) or not values:
            raise RequestError(400, "\"instances\"/\"inputs\" must be a non-empty list of "
                                    "images.")
        if len(values) > MAX_INSTANCES:
            raise RequestError(413, f"the request holds {len(values)} images; the limit is "
                                    f"{MAX_INSTANCES} a request. Split it into several.")
        encoded = [_is_b64(v) for v in values]
        if signature is None:
            signature = sigs.BYTES_SIGNATURE if all(encoded) else sigs.DEFAULT_SIGNATURE
        outputs = self._run(signature, values, any(encoded), all(encoded))
        lists = {key: value.tolist() for key, value in outputs.items()}
        if not row_format:
            return {"outputs": lists}
        return {"predictions": [{key: lists[key][i] for key in lists}
                                for i in range(len(values))]}

    def _unwrap_instance(self, instance):
        # Row format also allows {"input_name": value} per instance.
        if isinstance(instance, dict) and not _is_b64(instance) and len(instance) == 1:
            return next(iter(instance.values()))
        return instance

    def _run(self, signature, values, any_encoded, all_encoded):
        if signature not in self.predictor.signature_names:
            raise RequestError(400, f"unknown signature_name {signature!r}; this model has "
                                    f"{self.predictor.signature_names}.")
        takes_bytes = signature != sigs.DEFAULT_SIGNATURE
        if takes_bytes and not all_encoded:
            raise RequestError(400, f"signature {signature!r} takes encoded images: send "
                                    "every instance as {\"b64\": \"...\"}.")
        if not takes_bytes and any_encoded:
            raise RequestError(400, f"signature {signature!r} takes pixel arrays; send "
                                    "{\"b64\": ...} images without signature_name (or with "
                                    f"{sigs.BYTES_SIGNATURE!r}).")
        try:
            if takes_bytes:
                key = sigs.BYTES_INPUT if signature == sigs.BYTES_SIGNATURE else \
                    sigs.EXAMPLE_INPUT
                feed = {key: [_decode_b64(v, i) for i, v in enumerate(values)]}
            else:
                _check_no_booleans(values)
                feed = {sigs.IMAGES_INPUT: self.predictor.check_images(values)}
            return self.predictor.run_signature(signature, feed)
        except ImageInputError as error:
            raise RequestError(400, str(error)) from None


class _DeadlineReader(socket.SocketIO):
    """A socket's raw reads, each bounded by the time left to the current request.

    `BaseHTTPRequestHandler` reads the request line and headers through `readline`, which
    may take many `recv`s; a per-read timeout alone lets a client that sends a byte every
    few seconds hold its connection forever. Every `recv` here waits at most the time
    left before `deadline` (and at most `idle_seconds`, the handler's stall limit).
    """

    deadline = math.inf
    idle_seconds = IDLE_SECONDS

    def readinto(self, buffer):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request's deadline has passed")
        self._sock.settimeout(min(left, self.idle_seconds))
        return super().readinto(buffer)

    def expired(self):
        """Returns whether the current request's deadline has passed."""
        return time.monotonic() >= self.deadline


class _Evicted(Exception):
    """This connection was closed to make way for a new one (see `DevServer`)."""


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "cnnzoo-dev-serving"
    protocol_version = "HTTP/1.1"
    timeout = IDLE_SECONDS  # A stalled client's socket is closed after this long.
    # Buffered: a reply's head and body leave in one write (flushed after each request by
    # `handle_one_request`), so a client's first read sees the whole of a short reply.
    wbufsize = 64 * 1024

    def setup(self):
        super().setup()
        self.evicted = False
        self.rfile.close()  # Replaced by a reader that keeps to each request's deadline.
        self._reader = _DeadlineReader(self.connection, "rb")
        self._reader.idle_seconds = self.timeout
        self.rfile = io.BufferedReader(self._reader)

    def handle_one_request(self):
        self._reader.deadline = time.monotonic() + self.server.request_seconds
        self.server.start_reading(self)
        try:
            super().handle_one_request()
        finally:
            self.server.stop_reading(self)

    def _finished_reading(self):
        """Marks the request read, so it is no longer evicted; raises `_Evicted` if it was."""
        if not self.server.stop_reading(self):
            self.close_connection = True
            raise _Evicted

    def log_message(self, format, *args):
        if self.server.verbose:
            super().log_message(format, *args)

    def _reply(self, status, body):
        page = isinstance(body, bytes)  # The HTML page (cnnzoo.page); all else is JSON.
        data = body if page else json.dumps(body).encode("utf-8")
        self.connection.settimeout(self.timeout)  # The reads may have left less.
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8" if page else
                         "application/json")
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _route(self, method):
        match = _ROUTE.match(self.path.split("?")[0])
        service = self.server.service
        if match is None:
            raise RequestError(404, f"no such endpoint: {method} {self.path}. Use "
                                    f"/v1/models/{service.name}[:predict|/metadata].")
        if match["name"] != service.name or (
                match["version"] is not None and int(match["version"]) != service.version):
            raise RequestError(404, f"Servable not found for request: "
                                    f"{match['name']} version {match['version'] or 'latest'}"
                                    f"; this server has {service.name} version "
                                    f"{service.version}.")
        return match["rest"]

    def do_GET(self):
        self._handle(self._get)

    def do_POST(self):
        self._handle(self._post)

    def _handle(self, handler):
        try:
            try:
                self._check_framing()
                status, body = 200, handler()
            except RequestError as error:
                status, body = error.status, {"error": str(error)}
            except _Evicted:
                raise
            except Exception as error:  # The server must answer, whatever the request did.
                status, body = 500, {"error": f"internal error: {type(error).__name__}: "
                                              f"{error}"}
            self._finished_reading()  # Before any reply: an evicted one was answered 408.
        except _Evicted:
            return
        if status != 200:
            # A refused request's body may be unread; it must not be parsed as the next one.
            self.close_connection = True
        self._reply(status, body)

    def _check_framing(self):
        """Refuses a body whose length is ambiguous (RFC 9112 §6.3), before reading it.

        Raises:
            RequestError: several Content-Length headers, or Content-Length together
                with Transfer-Encoding (400): a proxy in front might read another body.
        """
        lengths = self.headers.get_all("Content-Length") or []
        encoding = self.headers.get("Transfer-Encoding")
        if self.command != "POST" and (lengths or encoding is not None):
            self.close_connection = True  # Its body is never read.
        if len(lengths) > 1:
            raise RequestError(400, f"the request has {len(lengths)} Content-Length headers "
                                    f"({', '.join(lengths)}); send exactly one (RFC 9112 "
                                    "§6.3).")
        if lengths and encoding is not None:
            raise RequestError(400, "the request has both Transfer-Encoding and "
                                    "Content-Length; send only Content-Length (chunked "
                                    "bodies are not accepted; RFC 9112 §6.3).")

    def _get(self):
        self._finished_reading()
        if self.path.split("?")[0] == "/":
            return self.server.page.html()
        rest = self._route("GET")
        if rest == ":predict":
            raise RequestError(405, "predict takes POST.")
        service = self.server.service
        return service.metadata() if rest == "/metadata" else service.status()

    def _post(self):
        explain = self.path.split("?")[0] == EXPLAIN_PATH
        if not explain and self._route("POST") != ":predict":
            raise RequestError(405, "only :predict takes POST.")
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            raise RequestError(411, "send a Content-Length header (chunked bodies are not "
                                    "accepted).")
        if int(length) > MAX_BODY_BYTES:
            self.close_connection = True
            raise RequestError(413, f"the body is {int(length)} bytes; the limit is "
                                    f"{MAX_BODY_BYTES}. Send fewer images per request.")
        body = self._read_body(int(length))
        if len(body) < int(length):
            self.close_connection = True
            if self._reader.expired():
                raise RequestError(408, f"the request took over {self.server.request_seconds}"
                                        f" s to arrive ({len(body)} of {int(length)} body "
                                        "bytes); send it faster or in smaller requests.")
            raise RequestError(400, f"the body ended after {len(body)} of the "
                                    f"{int(length)} bytes its Content-Length announced.")
        self._finished_reading()  # Computing from here: no longer evicted.
        try:
            request = json.loads(body)
        except (UnicodeDecodeError, ValueError) as error:
            raise RequestError(400, f"the body is not valid JSON: {error}.") from None
        except RecursionError:
            raise RequestError(400, "the JSON body is nested too deeply; an image is "
                                    "[height][width][channels] lists.") from None
        if explain:
            return self.server.page.explain(request)
        return self.server.service.predict(request)

    def _read_body(self, length):
        """Returns up to `length` body bytes: fewer when the client closes or stalls."""
        chunks, received = [], 0
        while received < length:
            try:
                chunk = self.rfile.read1(min(length - received, 1 << 20))
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            received += len(chunk)
        return b"".join(chunks)


class DevServer(http.server.ThreadingHTTPServer):
    """The threaded HTTP server; `service` holds the model. Stop with `shutdown()`.

    At most `max_connections` (default `MAX_CONNECTIONS`) connections are served at once,
    a thread each. Each request must arrive whole within `request_seconds` (default
    `REQUEST_SECONDS`; answered 408, or closed, after).
    When every connection is taken, a new one evicts the connection that has been
    sending its request (or idling between requests) the longest: it is answered 408 and
    closed, so slow clients cannot keep new requests out. Only when every connection is
    computing an answer is a new one answered 503 at once and closed.
    """

    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, address, service, *, verbose=False, max_connections=None,
                 request_seconds=None):
        self.service, self.verbose = service, verbose
        self.max_connections = max_connections or MAX_CONNECTIONS
        self.request_seconds = request_seconds or REQUEST_SECONDS
        self.page = PageService(service)
        self._connections = threading.BoundedSemaphore(self.max_connections)
        self._readers_lock = threading.Lock()
        self._readers = {}  # Handler -> when it began waiting for its request.
        host = address[0]
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__(address, _Handler)

    def start_reading(self, handler):
        """Marks `handler` as waiting for (or reading) a request: it may be evicted."""
        with self._readers_lock:
            if not handler.evicted:
                self._readers[handler] = time.monotonic()

    def stop_reading(self, handler):
        """Marks `handler`'s request as read; returns False if it was evicted meanwhile."""
        with self._readers_lock:
            self._readers.pop(handler, None)
            return not handler.evicted

    def _evict_oldest_reader(self):
        """Answers 408 to and closes the connection reading the longest; returns whether
        there was one."""
        with self._readers_lock:
            if not self._readers:
                return False
            handler = min(self._readers, key=self._readers.get)
            del self._readers[handler]
            handler.evicted = True
        _send_and_close(handler.connection, 408, "the server needed this connection for a "
                        f"new request; this one had not sent its request in full. Send "
                        f"requests whole, within {self.request_seconds} s.")
        return True

    def process_request(self, request, client_address):
        if not self._connections.acquire(blocking=False) and not (
                self._evict_oldest_reader()
                and self._connections.acquire(timeout=EVICT_WAIT_SECONDS)):
            _send_and_close(request, 503, f"the server has {self.max_connections} "
                                          "connections computing answers; retry shortly.")
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def handle_error(self, request, client_address):
        """Stays quiet about connections that broke or were evicted; reports the rest."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._connections.release()

    @property
    def url(self):
        """The base URL of the model, e.g. `http://127.0.0.1:8501/v1/models/mnist_cnn`."""
        host, port = self.server_address[:2]
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}/v1/models/{self.service.name}"


_REASONS = {408: "Request Timeout", 503: "Service Unavailable"}


def _send_and_close(connection, status, message):
    """Sends a JSON error reply on a raw connection and shuts it down (best effort)."""
    body = json.dumps({"error": message}).encode()
    head = (f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n")
    try:
        connection.settimeout(1)  # A client that does not read gets nothing more.
        connection.sendall(head.encode() + body)
        connection.shutdown(socket.SHUT_RDWR)  # Wakes its handler's pending read.
    except OSError:
        pass  # The client has gone; nothing to tell it.


def make_server(export, *, host="127.0.0.1", port=8501, model_name=None, verbose=False,
                max_connections=None, request_seconds=None):
    """Returns a `DevServer` for the export at `export`, bound but not yet serving.

    Call `serve_forever()` (in a thread, for tests) and `shutdown()`; port 0 picks a
    free port (see `server.url`). `max_connections` and `request_seconds` bound the
    connections served at once and the time a request may take to arrive (`DevServer`).

    Raises:
        ValueError: a host that is not loopback, a port outside 0-65535, or `export` is
            not a cnnzoo SavedModel.
        FileNotFoundError: nothing at `export`.
        OSError: the port is taken or not ours to bind (the message says which).
    """
    check_loopback(host)
    check_port(port)
    service = ModelService(export, model_name=model_name)
    try:
        return DevServer((host, port), service, verbose=verbose,
                         max_connections=max_connections, request_seconds=request_seconds)
    except OSError as error:  # Said apart from the export's own errors, which name a file.
        raise OSError(error.errno, f"cannot listen on {host}:{port}: "
                                   f"{error.strerror or error}") from None


def serve(export, *, host="127.0.0.1", port=8501, model_name=None, say=print):
    """Serves `export` until interrupted (Ctrl-C); returns nothing.

    Raises:
        As `make_server`.
    """
    server = make_server(export, host=host, port=port, model_name=model_name, verbose=True)
    say(f"serving {server.service.name} version {server.service.version} from "
        f"{server.service.predictor.path} at {server.url} (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


__all__ = ["DevServer", "ModelService", "RequestError", "make_server", "serve"]
