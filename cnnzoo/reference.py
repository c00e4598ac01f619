"""Convolution from scratch: the layers of a small CNN written out in NumPy.

Each layer comes twice. The `*_loop` version is the definition, written as plain Python
loops you can read next to a textbook; the other is the same arithmetic vectorised the
way real libraries do it (im2col for convolution, strided windows for pooling), fast
enough to run a whole model. Both follow Keras's conventions exactly, so a test can hold
them to the Keras layers:

- Images are NHWC: `(batch, height, width, channels)`.
- A convolution kernel is HWIO: `(kernel_height, kernel_width, in_channels,
  out_channels)`, as `Conv2D.kernel` stores it. Like every deep-learning library, Keras
  computes a *cross-correlation* (the kernel is not flipped), and so does this module.
- `padding="valid"` uses only whole windows: `out = floor((size - kernel) / stride) + 1`.
  `padding="same"` pads so that `out = ceil(size / stride)`; when the padding needed is
  odd, the extra row or column goes at the bottom or right (TensorFlow's rule, which
  Keras follows on every backend). See `same_padding`.
- `Flatten` keeps NHWC order: the channel index varies fastest (PyTorch, being NCHW,
  flattens in another order, so its dense weights do not carry over as they are).

Only NumPy is imported: nothing here needs TensorFlow or Keras. `forward` runs a
Keras model (anything with `.layers`, `.get_config()` and `.get_weights()`) through
these functions, layer by layer.

Example:
    >>> import numpy as np
    >>> image = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    >>> edge = np.array([[1.0, -1.0]], dtype="float32").reshape(1, 2, 1, 1)
    >>> conv2d(image, edge)[0, :, :, 0]   # each pixel minus its right neighbour
    array([[-1., -1., -1.],
           [-1., -1., -1.],
           [-1., -1., -1.],
           [-1., -1., -1.]], dtype=float32)
    >>> max_pool2d(image, 2)[0, :, :, 0]
    array([[ 5.,  7.],
           [13., 15.]], dtype=float32)
"""

import numbers

import numpy as np

PADDINGS = ("valid", "same")

__all__ = ["PADDINGS", "avg_pool2d", "avg_pool2d_loop", "conv2d", "conv2d_loop", "dense",
           "dense_loop", "flatten", "forward", "global_avg_pool2d", "global_max_pool2d",
           "max_pool2d", "max_pool2d_loop", "output_size", "relu", "relu_loop", "rescale",
           "same_padding", "softmax", "softmax_loop"]


# ---------------------------------------------------------------------------------------
# Shapes and padding
# ---------------------------------------------------------------------------------------

def _pair(value, argument):
    """Returns `value` (an int or a pair of ints, each at least 1) as a pair of ints."""
    pair = (value, value) if isinstance(value, numbers.Integral) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                                 and v >= 1 for v in pair):
        raise ValueError(f"{argument} must be a positive integer or a pair of them, such "
                         f"as 2 or (2, 2); received {argument}={value!r}.")
    return int(pair[0]), int(pair[1])


def _check_padding(padding):
    if not isinstance(padding, str) or padding.lower() not in PADDINGS:
        raise ValueError(f"padding must be one of {list(PADDINGS)}; received "
                         f"padding={padding!r}.")
    return padding.lower()


def output_size(size, window, stride, padding):
    """Returns the output length along one axis of a convolution or pooling.

    Example:
        >>> output_size(28, 3, 1, "valid"), output_size(28, 3, 1, "same")
        (26, 28)
        >>> output_size(7, 2, 2, "valid"), output_size(7, 2, 2, "same")
        (3, 4)
    """
    if _check_padding(padding) == "same":
        return -(-size // stride)  # ceil(size / stride)
    return max((size - window) // stride + 1, 0)


def same_padding(size, window, stride):
    """Returns `(before, after)`: the zeros 'same' padding adds along one axis.

    The total is whatever makes the last window end at or past the last pixel for
    `ceil(size / stride)` outputs; TensorFlow (and so Keras) puts the odd one after.

    Example:
        >>> same_padding(28, 3, 1)   # 3x3 kernel, stride 1: one pixel each side
        (1, 1)
        >>> same_padding(28, 4, 1)   # even kernel: the extra pixel goes after
        (1, 2)
        >>> same_padding(7, 3, 2)    # 4 outputs at stride 2 need windows up to pixel 8
        (1, 1)
        >>> same_padding(8, 3, 2)
        (0, 1)
    """
    out = -(-size // stride)
    total = max((out - 1) * stride + window - size, 0)
    return total // 2, total - total // 2


def _check_images(x, name="x"):
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"{name} must be a batch of images (batch, height, width, "
                         f"channels); received an array of shape {x.shape}. Add a batch "
                         "axis with x[None] for one image.")
    return x.astype(np.float32, copy=False) if x.dtype != np.float64 else x


def _pad(x, window, strides, padding, value=0.0):
    """Returns `x` (NHWC) padded as `padding` requires for `window` and `strides`."""
    if padding == "valid":
        return x
    (top, bottom), (left, right) = (same_padding(x.shape[axis], window[i], strides[i])
                                    for i, axis in enumerate((1, 2)))
    return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)


def _windows(x, window, strides):
    """Returns the strided windows of padded NHWC `x`: `(N, out_h, out_w, C, kh, kw)`.

    `sliding_window_view` makes every window without copying a pixel (it is a view
    with extra strides); slicing by the stride keeps the windows the layer uses.
    """
    view = np.lib.stride_tricks.sliding_window_view(x, window, axis=(1, 2))
    return view[:, ::strides[0], ::strides[1]]


# ---------------------------------------------------------------------------------------
# Convolution
# ---------------------------------------------------------------------------------------

def _check_conv(x, kernel, bias, strides, padding):
    x = _check_images(x)
    kernel = np.asarray(kernel, dtype=x.dtype)
    if kernel.ndim != 4:
        raise ValueError(f"kernel must be (kernel_height, kernel_width, in_channels, "
                         f"out_channels), as Conv2D.kernel; received shape {kernel.shape}.")
    if kernel.shape[2] != x.shape[3]:
        raise ValueError(f"the kernel takes {kernel.shape[2]} input channels but the images "
                         f"have {x.shape[3]} (x.shape={x.shape}, kernel.shape="
                         f"{kernel.shape}).")
    if bias is None:
        bias = np.zeros(kernel.shape[3], x.dtype)
    bias = np.asarray(bias, dtype=x.dtype)
    if bias.shape != (kernel.shape[3],):
        raise ValueError(f"bias must hold one value per output channel ({kernel.shape[3]}); "
                         f"received shape {bias.shape}.")
    return x, kernel, bias, _pair(strides, "strides"), _check_padding(padding)


def conv2d_loop(x, kernel, bias=None, *, strides=1, padding="valid"):
    """Returns the 2-D convolution of `x`, computed one output number at a time.

    Output pixel `(i, j)` of channel `o` is the window of the (padded) input whose top
    left corner is `(i * stride, j * stride)`, multiplied element by element with the
    kernel's `o`-th slice, summed over height, width and every input channel, plus
    `bias[o]`. That one sentence is all a convolution layer does.

    Args:
        x: images, `(batch, height, width, in_channels)`.
        kernel: weights, `(kernel_height, kernel_width, in_channels, out_channels)`.
        bias: `(out_channels,)`, or None for no bias.
        strides: an int or `(stride_y, stride_x)`.
        padding: "valid" (no padding) or "same" (see `same_padding`).

    Returns:
        `(batch, out_height, out_width, out_channels)`, float32 (float64 in, float64 out).

    Raises:
        ValueError: arrays of the wrong rank, channel counts that disagree, or a bad
            stride or padding.
    """
    x, kernel, bias, strides, padding = _check_conv(x, kernel, bias, strides, padding)
    kernel_h, kernel_w, _, out_channels = kernel.shape
    batch, height, width, _ = x.shape
    out_h = output_size(height, kernel_h, strides[0], padding)
    out_w = output_size(width, kernel_w, strides[1], padding)
    x = _pad(x, (kernel_h, kernel_w), strides, padding)
    out = np.zeros((batch, out_h, out_w, out_channels), x.dtype)
    for n in range(batch):
        for i in range(out_h):
            for j in range(out_w):
                top, left = i * strides[0], j * strides[1]
                window = x[n, top:top + kernel_h, left:left + kernel_w, :]
                for o in range(out_channels):
                    out[n, i, j, o] = np.sum(window * kernel[:, :, :, o]) + bias[o]
    return out


def conv2d(x, kernel, bias=None, *, strides=1, padding="valid"):
    """Returns the 2-D convolution of `x`, vectorised with im2col ("image to columns").

    im2col lays every window out as one row of a matrix (`kernel_height * kernel_width
    * in_channels` numbers long), so the whole convolution becomes a single matrix
    product with the kernel reshaped to `(kernel_height * kernel_width * in_channels,
    out_channels)`. That product is what BLAS and GPUs are fast at, and it is how
    early Caffe and cuDNN's GEMM algorithms computed convolutions.

    Args, returns and raises: as `conv2d_loop`.
    """
    x, kernel, bias, strides, padding = _check_conv(x, kernel, bias, strides, padding)
    kernel_h, kernel_w, in_channels, out_channels = kernel.shape
    x = _pad(x, (kernel_h, kernel_w), strides, padding)
    windows = _windows(x, (kernel_h, kernel_w), strides)  # (N, oh, ow, C, kh, kw)
    batch, out_h, out_w = windows.shape[:3]
    # Reorder each window to (kh, kw, C), the kernel's own order, then one row per window.
    columns = windows.transpose(0, 1, 2, 4, 5, 3).reshape(
        batch * out_h * out_w, kernel_h * kernel_w * in_channels)
    out = columns @ kernel.reshape(-1, out_channels) + bias
    return out.reshape(batch, out_h, out_w, out_channels)


# ---------------------------------------------------------------------------------------
# Pooling
# ---------------------------------------------------------------------------------------

def _check_pool(x, pool_size, strides, padding):
    x = _check_images(x)
    pool_size = _pair(pool_size, "pool_size")
    # Keras's default: strides=None means windows side by side (stride = pool size).
    strides = pool_size if strides is None else _pair(strides, "strides")
    return x, pool_size, strides, _check_padding(padding)


def _pool_loop(x, pool_size, strides, padding, reduce):
    x, pool_size, strides, padding = _check_pool(x, pool_size, strides, padding)
    batch, height, width, channels = x.shape
    out_h = output_size(height, pool_size[0], strides[0], padding)
    out_w = output_size(width, pool_size[1], strides[1], padding)
    top_pad = same_padding(height, pool_size[0], strides[0])[0] if padding == "same" else 0
    left_pad = same_padding(width, pool_size[1], strides[1])[0] if padding == "same" else 0
    out = np.zeros((batch, out_h, out_w, channels), x.dtype)
    for n in range(batch):
        for i in range(out_h):
            for j in range(out_w):
                # The window in unpadded coordinates, clipped to the image: padding
                # adds no values, so the pool sees only real pixels.
                top, left = i * strides[0] - top_pad, j * strides[1] - left_pad
                rows = slice(max(top, 0), min(top + pool_size[0], height))
                cols = slice(max(left, 0), min(left + pool_size[1], width))
                for c in range(channels):
                    out[n, i, j, c] = reduce(x[n, rows, cols, c])
    return out


def max_pool2d_loop(x, pool_size=2, strides=None, *, padding="valid"):
    """Returns max pooling of `x`: the largest value of each window, channel by channel.

    Args:
        x: images, `(batch, height, width, channels)`.
        pool_size: an int or `(height, width)` of the window.
        strides: an int or a pair; None (Keras's default) means `pool_size`.
        padding: "valid", or "same", whose padded positions are ignored (as if -inf).

    Returns:
        `(batch, out_height, out_width, channels)`.

    Raises:
        ValueError: a non-NHWC array, or a bad pool size, stride or padding.
    """
    return _pool_loop(x, pool_size, strides, padding, np.max)


def avg_pool2d_loop(x, pool_size=2, strides=None, *, padding="valid"):
    """Returns average pooling of `x`: the mean of each window, channel by channel.

    With "same" padding a window that overhangs the image averages only the pixels it
    covers (TensorFlow's rule): the padded zeros are not counted.

    Args, returns and raises: as `max_pool2d_loop`.
    """
    return _pool_loop(x, pool_size, strides, padding, np.mean)


def max_pool2d(x, pool_size=2, strides=None, *, padding="valid"):
    """Returns max pooling of `x`, vectorised over strided windows.

    Args, returns and raises: as `max_pool2d_loop`.
    """
    x, pool_size, strides, padding = _check_pool(x, pool_size, strides, padding)
    padded = _pad(x, pool_size, strides, padding, value=-np.inf)
    return _windows(padded, pool_size, strides).max(axis=(-2, -1))


def avg_pool2d(x, pool_size=2, strides=None, *, padding="valid"):
    """Returns average pooling of `x`, vectorised over strided windows.

    The sum of each window is divided by the number of real pixels in it, found by
    pooling an image of ones padded with zeros.

    Args, returns and raises: as `max_pool2d_loop`.
    """
    x, pool_size, strides, padding = _check_pool(x, pool_size, strides, padding)
    sums = _windows(_pad(x, pool_size, strides, padding), pool_size, strides).sum((-2, -1))
    ones = np.ones((1,) + x.shape[1:3] + (1,), x.dtype)
    counts = _windows(_pad(ones, pool_size, strides, padding), pool_size, strides).sum((-2, -1))
    return sums / counts


def global_avg_pool2d(x):
    """Returns the mean of each channel over height and width: `(batch, channels)`."""
    return _check_images(x).mean(axis=(1, 2))


def global_max_pool2d(x):
    """Returns the maximum of each channel over height and width: `(batch, channels)`."""
    return _check_images(x).max(axis=(1, 2))


# ---------------------------------------------------------------------------------------
# Dense, activations, rescaling, flatten
# ---------------------------------------------------------------------------------------

def _check_dense(x, kernel, bias):
    x = np.asarray(x, np.float32) if np.asarray(x).dtype != np.float64 else np.asarray(x)
    kernel = np.asarray(kernel, x.dtype)
    if x.ndim != 2 or kernel.ndim != 2 or kernel.shape[0] != x.shape[1]:
        raise ValueError(f"dense takes x of shape (batch, features) and a kernel of shape "
                         f"(features, units); received x.shape={x.shape}, kernel.shape="
                         f"{kernel.shape}. Flatten images first.")
    bias = np.zeros(kernel.shape[1], x.dtype) if bias is None else np.asarray(bias, x.dtype)
    return x, kernel, bias


def dense_loop(x, kernel, bias=None):
    """Returns `x @ kernel + bias`, one weighted sum at a time.

    Unit `o` of example `n` is the sum over inputs `i` of `x[n, i] * kernel[i, o]`,
    plus `bias[o]`: a convolution whose window is the whole input.

    Args:
        x: `(batch, features)`.
        kernel: `(features, units)`, as `Dense.kernel`.
        bias: `(units,)` or None.

    Returns:
        `(batch, units)`.

    Raises:
        ValueError: shapes that do not chain.
    """
    x, kernel, bias = _check_dense(x, kernel, bias)
    out = np.zeros((x.shape[0], kernel.shape[1]), x.dtype)
    for n in range(x.shape[0]):
        for o in range(kernel.shape[1]):
            total = bias[o]
            for i in range(x.shape[1]):
                total += x[n, i] * kernel[i, o]
            out[n, o] = total
    return out


def dense(x, kernel, bias=None):
    """Returns `x @ kernel + bias` as one matrix product. Args: as `dense_loop`."""
    x, kernel, bias = _check_dense(x, kernel, bias)
    return x @ kernel + bias


def relu_loop(x):
    """Returns `max(value, 0)` for every value of `x`, one at a time."""
    x = np.asarray(x)
    out = x.copy()
    for index in np.ndindex(x.shape):
        out[index] = x[index] if x[index] > 0 else 0
    return out


def relu(x):
    """Returns `max(x, 0)` elementwise."""
    return np.maximum(x, 0)


def softmax_loop(x):
    """Returns the softmax of each row of `x` (batch, classes), one row at a time.

    `exp(z_k) / sum_j exp(z_j)`. Subtracting the row's largest value first changes
    nothing mathematically (it cancels in the ratio) but keeps `exp` from overflowing
    for large scores.
    """
    x = np.asarray(x, np.float64)
    out = np.zeros_like(x)
    for n in range(x.shape[0]):
        largest = max(x[n])
        exps = [np.exp(value - largest) for value in x[n]]
        total = sum(exps)
        for k, value in enumerate(exps):
            out[n, k] = value / total
    return out


def softmax(x, axis=-1):
    """Returns the softmax of `x` along `axis`, stable for large values."""
    x = np.asarray(x)
    exps = np.exp(x - x.max(axis=axis, keepdims=True))
    return exps / exps.sum(axis=axis, keepdims=True)


def rescale(x, scale, offset=0.0):
    """Returns `x * scale + offset`, as Keras's `Rescaling` (cnnzoo models: 1/255)."""
    return np.asarray(x, np.float32) * np.float32(scale) + np.float32(offset)


def flatten(x):
    """Returns `x` as `(batch, features)` in NHWC order: channels vary fastest.

    Example:
        >>> flatten(np.arange(8).reshape(1, 2, 2, 2)).tolist()   # pixel (0,0)'s 2 channels first
        [[0, 1, 2, 3, 4, 5, 6, 7]]
    """
    x = np.asarray(x)
    return x.reshape(x.shape[0], -1)


# ---------------------------------------------------------------------------------------
# A whole model
# ---------------------------------------------------------------------------------------

_ACTIVATIONS = {"linear": lambda x: x, "relu": relu, "softmax": softmax}
_ACTIVATIONS_LOOP = {"linear": lambda x: x, "relu": relu_loop, "softmax": softmax_loop}


def _activation(config, loops, layer):
    name = config.get("activation", "linear")
    name = name if isinstance(name, str) else str(name)
    table = _ACTIVATIONS_LOOP if loops else _ACTIVATIONS
    if name not in table:
        raise ValueError(f"layer {layer.name!r} uses activation {name!r}; the reference "
                         f"implements {sorted(table)}.")
    return table[name]


def _run_layer(layer, x, loops):
    """Returns the output of one Keras layer on `x`, computed with this module."""
    kind = type(layer).__name__
    config = layer.get_config()
    weights = layer.get_weights()
    if kind == "InputLayer" or kind == "Dropout":  # Dropout does nothing at inference.
        return x
    if kind == "Rescaling":
        return rescale(x, config["scale"], config["offset"])
    if kind == "Conv2D":
        if tuple(config.get("dilation_rate", (1, 1))) != (1, 1) or config.get("groups", 1) != 1:
            raise ValueError(f"layer {layer.name!r} is a dilated or grouped convolution; the "
                             "reference implements plain ones.")
        conv = conv2d_loop if loops else conv2d
        out = conv(x, weights[0], weights[1] if config["use_bias"] else None,
                   strides=config["strides"], padding=config["padding"])
        return _activation(config, loops, layer)(out)
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        pool = {("MaxPooling2D", False): max_pool2d, ("MaxPooling2D", True): max_pool2d_loop,
                ("AveragePooling2D", False): avg_pool2d,
                ("AveragePooling2D", True): avg_pool2d_loop}[kind, loops]
        return pool(x, config["pool_size"], config["strides"], padding=config["padding"])
    if kind == "GlobalAveragePooling2D":
        return global_avg_pool2d(x)
    if kind == "GlobalMaxPooling2D":
        return global_max_pool2d(x)
    if kind == "Flatten":
        return flatten(x)
    if kind == "Dense":
        out = (dense_loop if loops else dense)(
            x, weights[0], weights[1] if config["use_bias"] else None)
        return _activation(config, loops, layer)(out)
    if kind in ("Activation", "ReLU", "Softmax"):
        config = {"ReLU": {"activation": "relu"}, "Softmax": {"activation": "softmax"}}.get(
            kind, config)
        return _activation(config, loops, layer)(x)
    raise ValueError(
        f"layer {layer.name!r} is a {kind}, which the reference does not implement. It "
        "runs InputLayer, Rescaling, Conv2D, MaxPooling2D, AveragePooling2D, Global"
        "Average/MaxPooling2D, Flatten, Dense, Dropout, Activation, ReLU and Softmax.")


def forward(model, images, *, loops=False):
    """Returns the output of a Keras model computed by this module, layer by layer.

    This is what `model.predict` does for a plain chain of layers, with nothing
    hidden: rescale the raw pixels, convolve, pool, flatten, multiply, softmax.

    Args:
        model: a `keras.Model` (Sequential or functional) whose layers form a single
            chain, such as `cnnzoo.build("tutorial_5x5")` or `"mnist_cnn"`. Only its
            `layers`, their `get_config()` and `get_weights()` are used.
        images: raw pixels `(batch, height, width, channels)`.
        loops: use the `*_loop` versions (slow: tiny inputs only).

    Returns:
        The model's output as a NumPy array (float32 unless the images are float64).

    Raises:
        ValueError: a layer this module does not implement, or a model that branches
            (a residual model's `Add` joins two paths; this runs chains only).
    """
    x = _check_images(images, "images")
    previous = None
    for layer in model.layers:
        if previous is not None and getattr(layer, "input", None) is not getattr(
                previous, "output", None):
            raise ValueError(
                f"model {model.name!r} is not a single chain of layers: {layer.name!r} does "
                f"not take {previous.name!r}'s output. The reference runs chains such as "
                "tutorial_5x5, tutorial_3x3 and mnist_cnn, not residual models.")
        x = _run_layer(layer, x, loops)
        previous = layer
    return x
