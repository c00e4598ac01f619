"""Read and write IDX files (the MNIST / Fashion-MNIST format), in pure NumPy.

An IDX file is a 4-byte magic number `00 00 <dtype> <ndim>`, then `ndim`
big-endian uint32 dimensions, then the data, big-endian, row-major. Files may be
gzipped (detected by content, not by name). Every format problem raises
`IdxFormatError` naming the file, so no corrupt bytes reach TensorFlow.

Example:
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "x-idx3-ubyte.gz")
    >>> write_idx(path, np.zeros((2, 3, 3), np.uint8))
    >>> read_idx(path).shape
    (2, 3, 3)
"""

from __future__ import annotations

import gzip
import math
import os
import zlib

import numpy as np

from cnnzoo.atomic import write_atomically

__all__ = ["IdxFormatError", "read_idx", "write_idx"]

_GZIP_MAGIC = b"\x1f\x8b"

# IDX type byte -> NumPy dtype (big-endian, as the format stores it).
_IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_DTYPE_CODES = {dtype.newbyteorder("="): code for code, dtype in _IDX_DTYPES.items()}


class IdxFormatError(ValueError):
    """An IDX file is not valid: bad magic number, truncated, or the wrong length."""


# Deflate expands at most about 1032:1, so a gzip file of n bytes holds at most this many
# times n bytes of data; a header that declares more is a lie, refused before inflating.
_MAX_DEFLATE_RATIO = 1032


def _header(path: str, data: bytes):
    """Returns `(dtype, shape, header_length, data_length)` from the start of `data`.

    Raises:
        IdxFormatError: a wrong magic number or a truncated header.
    """
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise IdxFormatError(
            f"{path} is not an IDX file: its magic number is {data[:4].hex() or 'empty'}, "
            f"expected 0000<type><ndim> with type one of "
            f"{sorted(hex(c) for c in _IDX_DTYPES)}. Is this the right file?")
    dtype, ndim = _IDX_DTYPES[data[2]], data[3]
    header_length = 4 + 4 * ndim
    if ndim == 0 or len(data) < header_length:
        raise IdxFormatError(
            f"{path} has a truncated IDX header: ndim={ndim} needs {header_length} bytes, "
            f"the file has {len(data)}. Download it again.")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, offset=4))
    # Python integers: a product of four uint32 dimensions overflows int64.
    return dtype, shape, header_length, math.prod(shape) * dtype.itemsize


def _check_length(path: str, shape, expected: int, found: int) -> None:
    if found != expected:
        what = "truncated" if found < expected else "longer than its header says"
        raise IdxFormatError(
            f"{path} is {what}: header shape {shape} needs {expected} data bytes, "
            f"found {found}{' or more' if found > expected else ''}. Download it again.")


def _inflate(path: str, raw: bytes) -> bytes:
    """Returns the IDX bytes of the gzip file `raw`, inflating no more than its header
    declares (plus one byte, to see that nothing follows), so a decompression bomb is
    refused without being expanded.

    Raises:
        IdxFormatError: a corrupt stream, a bad header, or data of another length than
            the header declares.
    """
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # The gzip container.
    pending = raw

    def take(size):
        nonlocal pending
        try:
            out = inflater.decompress(pending, size)
        except zlib.error as err:
            raise IdxFormatError(
                f"{path} looks gzipped but cannot be decompressed ({err}); the file is "
                f"truncated or corrupt. Download it again.") from None
        pending = inflater.unconsumed_tail
        return out

    head = take(4)
    head += take(4 * head[3]) if len(head) == 4 else b""
    dtype, shape, header_length, expected = _header(path, head)
    if expected > _MAX_DEFLATE_RATIO * len(raw) + 1024:
        raise IdxFormatError(
            f"{path} declares shape {shape} ({expected:,} bytes), more than a gzip file of "
            f"{len(raw):,} bytes can hold; it is corrupt or crafted. Download it again.")
    body = take(expected + 1)
    if len(body) <= expected and not inflater.eof:  # All input used, no end of stream.
        raise IdxFormatError(
            f"{path} looks gzipped but cannot be decompressed (the stream ends before its "
            f"end marker); the file is truncated or corrupt. Download it again.")
    _check_length(path, shape, expected, len(body))
    return head + body


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Reads one IDX file (optionally gzipped).

    Returns:
        A NumPy array in native byte order with the file's shape and dtype
        (uint8 for MNIST-style images and labels).

    Raises:
        FileNotFoundError: `path` does not exist.
        IdxFormatError: the magic number is wrong, the header is short, the
            data is shorter or longer than the header's dimensions say, or they
            make a shape no array can have.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"IDX file not found: {path}")
    with open(path, "rb") as f:
        data = f.read()
    if data.startswith(_GZIP_MAGIC):
        data = _inflate(path, data)
    dtype, shape, header_length, expected = _header(path, data)
    _check_length(path, shape, expected, len(data) - header_length)
    # An empty shape passes the length check whatever its other dimensions; NumPy refuses
    # one whose non-zero dimensions multiply past its index range.
    if math.prod(d for d in shape if d) * dtype.itemsize > np.iinfo(np.intp).max:
        raise IdxFormatError(
            f"{path} declares shape {shape}, which no array can have; it is corrupt or "
            f"crafted. Download it again.")
    array = np.frombuffer(data, dtype, offset=header_length).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=False)


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Writes `array` as an IDX file, gzipped when `path` ends in `.gz`.

    The file is written atomically (`cnnzoo.atomic.write_atomically`), so a
    reader never sees half a file; it gets the umask's permissions (usually 0644).

    Raises:
        ValueError: the array's dtype has no IDX type code or it has no dimensions.
    """
    path = os.fspath(path)
    array = np.asarray(array)
    code = _DTYPE_CODES.get(array.dtype.newbyteorder("="))
    if code is None or array.ndim == 0:
        raise ValueError(
            f"cannot write an IDX file from an array of dtype={array.dtype}, "
            f"shape={array.shape}; use uint8, int8, int16, int32, float32 or float64 "
            f"with at least one dimension.")
    payload = (bytes([0, 0, code, array.ndim])
               + np.asarray(array.shape, ">u4").tobytes()
               + np.ascontiguousarray(array, _IDX_DTYPES[code]).tobytes())
    if path.endswith(".gz"):
        # mtime=0 keeps the bytes reproducible, so a regenerated sample is a no-op diff.
        payload = gzip.compress(payload, compresslevel=9, mtime=0)
    write_atomically(path, payload)
