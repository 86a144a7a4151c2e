"""Step 2, preprocessing: the one path every digit takes into VGG16.

Training, evaluation and prediction all call `to_model_input`, so a digit drawn in class is
seen exactly as the training digits were: 28x28 gray -> input size -> 3 channels -> the
ImageNet normalization VGG16 was trained with (BGR order, mean pixel subtracted).
"""

import numpy as np
import tensorflow as tf
from keras.applications.vgg16 import preprocess_input


def to_model_input(digits: np.ndarray | tf.Tensor, input_size: int) -> tf.Tensor:
    """Turn uint8 digits (N, 28, 28), 0-255, into float32 (N, size, size, 3) for VGG16.

    Values end up in roughly [-124, 152]: pixel values minus ImageNet's channel means.
    """
    x = tf.cast(digits, tf.float32)[..., tf.newaxis]
    x = tf.image.resize(x, (input_size, input_size), method="bilinear")
    x = tf.image.grayscale_to_rgb(x)
    return preprocess_input(x)
