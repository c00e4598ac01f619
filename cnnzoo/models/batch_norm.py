"""Batch normalization that trains with TensorFlow's fused kernel on the TensorFlow backend.

Keras 3 computes a training step's batch norm from separate moments, subtract and scale
ops on every backend. TensorFlow has one fused kernel for it (`FusedBatchNormV3`, oneDNN
on CPUs, cuDNN on GPUs), which Keras 2 used and Keras 3 does not. On this project's 2-core
CPU a training step of `resnet9_w24` (batch 256) took 341 ms with this layer and 682 ms
with `keras.layers.BatchNormalization` (`python bench/bench_training.py --compare
batch-norm`; README, Models). Inference, other backends and the options the fused kernel
lacks (masks, renorm, synchronized statistics, another axis) take the Keras code
unchanged, so a model built with this layer computes what Keras's would.
"""

import keras

# The fused kernel refuses a smaller epsilon (cuDNN's limit).
_FUSED_MIN_EPSILON = 1.001e-5
_FUSED_DTYPES = ("float16", "bfloat16", "float32")


@keras.saving.register_keras_serializable(package="cnnzoo")
class BatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization`, fused in TensorFlow training steps.

    The layer takes the same arguments and holds the same weights, so a checkpoint of
    either loads into the other. One difference: the fused kernel updates the moving
    variance with the unbiased batch variance (as Keras 2 did), Keras 3 with the biased
    one; they differ by a factor n/(n-1), n being batch x height x width.
    """

    def call(self, inputs, training=None, mask=None):
        """Returns the normalised inputs in the layer's compute dtype."""
        if not self._fusable(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            inputs, tf.cast(self.gamma, "float32"), tf.cast(self.beta, "float32"),
            epsilon=self.epsilon, data_format="NHWC", is_training=True)
        decay = 1.0 - self.momentum
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * decay)
        self.moving_variance.assign(self.moving_variance * self.momentum + variance * decay)
        return tf.cast(outputs, self.compute_dtype)

    def _fusable(self, inputs, training, mask):
        """Whether this call is a plain training step the fused kernel computes exactly."""
        return (training is True and self.trainable and mask is None
                and keras.backend.backend() == "tensorflow"
                and len(inputs.shape) == 4 and self.axis in (3, -1)
                and self.center and self.scale and not self.renorm and not self.synchronized
                and self.epsilon >= _FUSED_MIN_EPSILON
                and keras.backend.standardize_dtype(inputs.dtype) in _FUSED_DTYPES)
