"""The serving signatures: raw uint8 images, encoded image bytes and tf.Example records.

They follow TF Model Garden's image-classification export (`export_base.py`): the
preprocessing lives in the graph, so a client sends pixels or files and gets class ids,
names and probabilities back without any Python of ours. The model already rescales raw
[0, 255] pixels itself, so each signature only checks, decodes, resizes and casts.
"""

import tensorflow as tf

# Signature names, as listed by `saved_model_cli show` and used by TF Serving clients.
DEFAULT_SIGNATURE = "serving_default"
BYTES_SIGNATURE = "serving_bytes"
EXAMPLE_SIGNATURE = "serving_tf_example"

# Input names. TF Serving's REST API decodes `{"b64": ...}` values for any input, and
# by convention names such inputs with a `_bytes` suffix.
IMAGES_INPUT = "images"
BYTES_INPUT = "image_bytes"
EXAMPLE_INPUT = "examples"
# The tf.Example feature holding the encoded image, as in TF Model Garden and TFDS.
EXAMPLE_IMAGE_FEATURE = "image/encoded"


def expected_images_message(input_shape):
    """Returns the sentence that every bad-input error of the uint8 signature starts with.

    Example:
        >>> expected_images_message((28, 28, 1))
        'images must be uint8 with shape [batch, 28, 28, 1] (batch, height, width, channels)'
    """
    height, width, channels = input_shape
    return (f"images must be uint8 with shape [batch, {height}, {width}, {channels}] "
            "(batch, height, width, channels)")


def _checked_images(images, input_shape):
    # The signature's TensorSpec is not enforced when a SavedModel is called (neither by
    # TF Serving nor by a reloaded function), and a wrong rank can abort the process
    # inside the convolution kernel. The check compares the shape as text, which stays a
    # run-time check for any rank (a rank test is constant-folded from the spec).
    received = tf.strings.reduce_join(tf.strings.as_string(tf.shape(images)[1:]),
                                      separator=",")
    expected = ",".join(str(d) for d in input_shape)
    check = tf.debugging.Assert(
        tf.equal(received, expected),
        [expected_images_message(input_shape) + "; received shape", tf.shape(images)],
        summarize=8)
    with tf.control_dependencies([check]):
        return tf.identity(images)


# ITU-R BT.601 luma, as tf.image.rgb_to_grayscale.
_LUMA = (0.2989, 0.5870, 0.1140)


def _decode(image_bytes, input_shape):
    height, width, channels = input_shape
    # Decoded as stored (GIF, BMP and WebP refuse a 1-channel decode), then gray or
    # gray+alpha images keep their gray channel and colour ones drop alpha, so an image
    # already in the model's format reaches it bit for bit.
    image = tf.io.decode_image(image_bytes, channels=0, expand_animations=False)
    image = tf.cast(image, tf.float32)
    is_gray = tf.shape(image)[-1] < 3
    if channels == 1:
        image = tf.cond(is_gray, lambda: image[..., :1],
                        lambda: tf.reduce_sum(image[..., :3] * _LUMA, -1, keepdims=True))
    else:
        image = tf.cond(is_gray, lambda: tf.tile(image[..., :1], [1, 1, 3]),
                        lambda: image[..., :3])
    image = tf.image.resize(image, (height, width), method="bilinear")
    return tf.cast(tf.clip_by_value(tf.round(image), 0.0, 255.0), tf.uint8)


def plain_function(model):
    """Returns `(function, input signature)`: uint8 images to probabilities and class ids.

    The function returns `probabilities` (float32 `[batch, K]`) and `class_ids` (int64
    `[batch]`). No string ops and no assertions, so converters that take only builtin
    ops (TFLite) take it; `serving_functions` builds every signature on it.
    """
    input_shape = tuple(int(d) for d in model.input_shape[1:])

    def classify(images):
        probabilities = model(tf.cast(images, tf.float32), training=False)
        return {"probabilities": probabilities,
                "class_ids": tf.argmax(probabilities, axis=-1, output_type=tf.int64)}

    return classify, [tf.TensorSpec((None, *input_shape), tf.uint8, name=IMAGES_INPUT)]


def serving_functions(model, *, class_names=None):
    """Returns `{signature name: (function, input signature)}` for `model`.

    Every function returns `plain_function`'s `probabilities` and `class_ids` and, when
    `class_names` is given, `class_names` (string `[batch]`).

    Args:
        model: a built Keras classifier taking raw float32 pixels `(batch, H, W, C)`.
        class_names: None, or one name per output class.
    """
    input_shape = tuple(int(d) for d in model.input_shape[1:])
    names = None if class_names is None else tf.constant(list(class_names), tf.string)
    classify, images_signature = plain_function(model)

    def outputs(images):
        result = classify(images)
        if names is not None:
            result["class_names"] = tf.gather(names, result["class_ids"])
        return result

    def serve_images(images):
        return outputs(_checked_images(images, input_shape))

    def serve_bytes(image_bytes):
        images = tf.map_fn(lambda encoded: _decode(encoded, input_shape), image_bytes,
                           fn_output_signature=tf.TensorSpec(input_shape, tf.uint8))
        return outputs(images)

    def serve_examples(examples):
        features = tf.io.parse_example(
            examples, {EXAMPLE_IMAGE_FEATURE: tf.io.FixedLenFeature([], tf.string)})
        return serve_bytes(features[EXAMPLE_IMAGE_FEATURE])

    return {
        DEFAULT_SIGNATURE: (serve_images, images_signature),
        BYTES_SIGNATURE: (serve_bytes, [tf.TensorSpec((None,), tf.string, name=BYTES_INPUT)]),
        EXAMPLE_SIGNATURE: (serve_examples, [tf.TensorSpec((None,), tf.string,
                                                           name=EXAMPLE_INPUT)]),
    }
