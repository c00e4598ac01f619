"""Peak memory one `:predict` request adds when it carries the largest image accepted.

    python bench/bench_serve_image_memory.py            # a 1-channel model
    python bench/bench_serve_image_memory.py --channels 3

Serves a fresh `mnist_cnn` export with `make_server`, sends one small image to build the
`serving_bytes` graph, then one 4096x4096 8-bit RGB PNG (the pixel and decoded-byte
limits of `cnnzoo.image_header`, 48 MiB decoded), and prints the process's peak resident
size (`VmHWM`, Linux) before and after that request.
"""

import argparse
import base64
import http.client
import json
import pathlib
import struct
import tempfile
import threading
import zlib


def png_of_zeros(width, height, channels=3):
    """A real 8-bit PNG of zeros (gray or RGB): small to send, full size to decode."""
    deflate = zlib.compressobj(9)
    rows = b"".join(deflate.compress(b"\0" * (1 + width * channels)) for _ in range(height))

    def chunk(kind, payload):
        return (struct.pack(">I", len(payload)) + kind + payload
                + struct.pack(">I", zlib.crc32(kind + payload)))

    color = {1: 0, 3: 2}[channels]
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, color, 0, 0, 0))
            + chunk(b"IDAT", rows + deflate.flush()) + chunk(b"IEND", b""))


def peak_resident_mib():
    """Returns the process's peak resident size in MiB (Linux's VmHWM)."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM"))
    return int(line.split()[1]) / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, choices=(1, 3), default=1,
                        help="the served model's input channels")
    args = parser.parse_args()

    import cnnzoo
    from cnnzoo.export import export_saved_model
    from cnnzoo.serve import make_server

    model = cnnzoo.build("mnist_cnn", input_shape=(28, 28, args.channels))
    export = export_saved_model(model, pathlib.Path(tempfile.mkdtemp()) / "mnist_cnn")
    server = make_server(export, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def predict(image):
        connection = http.client.HTTPConnection(*server.server_address[:2], timeout=600)
        body = {"instances": [{"b64": base64.b64encode(image).decode()}]}
        connection.request("POST", f"/v1/models/{server.service.name}:predict",
                           json.dumps(body))
        return connection.getresponse().status

    assert predict(png_of_zeros(8, 8)) == 200
    before = peak_resident_mib()
    status = predict(png_of_zeros(4096, 4096))
    print(f"{args.channels}-channel model, one 4096x4096 RGB PNG: HTTP {status}, peak "
          f"resident size {before:.0f} -> {peak_resident_mib():.0f} MiB "
          f"(+{peak_resident_mib() - before:.0f} MiB)")
    server.shutdown()


if __name__ == "__main__":
    main()
