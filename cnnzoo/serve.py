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
pixels (read from its header before decoding), JSON nesting, open connections and the time
a client may stall.
"""

import base64
import binascii
import http.server
import ipaddress
import json
import re
import socket
import threading

from cnnzoo.export import signatures as sigs
from cnnzoo.layouts.serving import version_number
from cnnzoo.export.predictor import ImageInputError, load_exported
from cnnzoo.page import EXPLAIN_PATH, PageService
from cnnzoo.image_header import MAX_IMAGE_PIXELS, ImageTooLargeError, check_image_size

MAX_BODY_BYTES = 32 * 1024 * 1024
# 7,500 blank 28x28 images fit under the body limit as JSON and cost 0.84 GB to parse and
# convert; TF Serving clients batch far fewer per request.
MAX_INSTANCES = 1024
MAX_CONNECTIONS = 64  # Each open connection holds a thread.
IDLE_SECONDS = 10  # A client silent this long mid-request is dropped (slow clients).
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
        return check_image_size(data, max_pixels=MAX_IMAGE_PIXELS, name=f"image {index}")
    except ImageTooLargeError as error:
        raise RequestError(413, str(error)) from None


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


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "cnnzoo-dev-serving"
    protocol_version = "HTTP/1.1"
    timeout = IDLE_SECONDS  # A stalled client's socket is closed after this long.
    # Buffered: a reply's head and body leave in one write (flushed after each request by
    # `handle_one_request`), so a client's first read sees the whole of a short reply.
    wbufsize = 64 * 1024

    def log_message(self, format, *args):
        if self.server.verbose:
            super().log_message(format, *args)

    def _reply(self, status, body):
        page = isinstance(body, bytes)  # The HTML page (cnnzoo.page); all else is JSON.
        data = body if page else json.dumps(body).encode("utf-8")
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
            status, body = 200, handler()
        except RequestError as error:
            status, body = error.status, {"error": str(error)}
        except Exception as error:  # The server must answer, whatever the request did.
            status, body = 500, {"error": f"internal error: {type(error).__name__}: {error}"}
        if status != 200:
            # A refused request's body may be unread; it must not be parsed as the next one.
            self.close_connection = True
        self._reply(status, body)

    def _get(self):
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
            raise RequestError(400, f"the body ended after {len(body)} of the "
                                    f"{int(length)} bytes its Content-Length announced.")
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

    At most `MAX_CONNECTIONS` connections are served at once, a thread each; one more is
    answered 503 at once and closed, so slow clients cannot take every thread.
    """

    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, address, service, *, verbose=False):
        self.service, self.verbose = service, verbose
        self.page = PageService(service)
        self._connections = threading.BoundedSemaphore(MAX_CONNECTIONS)
        host = address[0]
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__(address, _Handler)

    def process_request(self, request, client_address):
        if not self._connections.acquire(blocking=False):
            _refuse_busy(request)
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

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


def _refuse_busy(connection):
    body = json.dumps({"error": f"the server has {MAX_CONNECTIONS} connections open; "
                                "retry shortly."}).encode()
    head = (f"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n")
    try:
        connection.sendall(head.encode() + body)
    except OSError:
        pass  # The client has gone; nothing to tell it.


def make_server(export, *, host="127.0.0.1", port=8501, model_name=None, verbose=False):
    """Returns a `DevServer` for the export at `export`, bound but not yet serving.

    Call `serve_forever()` (in a thread, for tests) and `shutdown()`; port 0 picks a
    free port (see `server.url`).

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
        return DevServer((host, port), service, verbose=verbose)
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
