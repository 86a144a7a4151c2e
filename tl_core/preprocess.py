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


IMAGENET_MEAN_BGR = np.array([103.939, 116.779, 123.68], np.float32)


def model_input_preview(digit: np.ndarray, input_size: int) -> np.ndarray:
    """What VGG16 is fed for one uint8 (28, 28) digit, undone back to a viewable RGB image."""
    x = to_model_input(digit[np.newaxis], input_size).numpy()[0]
    return np.clip(x + IMAGENET_MEAN_BGR, 0, 255).astype(np.uint8)[..., ::-1]
