"""Take the model home: a run's model as a `.keras` file and as TensorFlow Lite.

The `.keras` file is the run's own saved model (base + head; it loads with
`safe_mode=True`: no Python code inside) and is fed prepared images (`to_model_input`).
The TensorFlow Lite model is the Predictor's own serving function, preparation included:
it takes uint8 28x28 digits, as `digit_from_image` cuts them out of a drawing, deskews,
resizes and normalises them inside, and returns the ten probabilities. It uses only
TensorFlow Lite's built-in operations, so any TensorFlow Lite runtime runs it.

Converting takes a few seconds, so each model is converted once per server (a lock keeps
thirty presses to one conversion) and kept in the exports folder, keyed by the model file's
checksum.
"""

import threading
from pathlib import Path

import tensorflow as tf

from tl_core.files import write_atomic
from tl_core.i18n import N_
from tl_core.paths import digitlab_home
from tl_core.pipeline.predict import Predictor
from tl_core.pipeline.runs import MODEL_FILE, Run

_CONVERTING = threading.Lock()

# The code to use the exported files, shown as `_(USAGE, name=...)`: its comments translated.
USAGE = N_("""\
import numpy as np
import tensorflow as tf  # or: from ai_edge_litert.interpreter import Interpreter
from PIL import Image

from tl_core.pipeline.images import digit_from_image  # Digit Lab's cut-out, box and centring

# A photo of one dark digit on light paper (drawing=True for light ink on black).
digit = digit_from_image(np.asarray(Image.open("my_digit.png").convert("RGB")))

interpreter = tf.lite.Interpreter(model_path="{name}.tflite")
digits = interpreter.get_input_details()[0]
interpreter.resize_tensor_input(digits["index"], [1, 28, 28])
interpreter.allocate_tensors()
interpreter.set_tensor(digits["index"], digit[np.newaxis])  # uint8 (1, 28, 28)
interpreter.invoke()
probabilities = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0]
print("digit", probabilities.argmax(), f"{{probabilities.max():.0%}} sure")

# Or the Keras model, fed the same preparation as in Digit Lab:
import keras
from tl_core.pipeline.preprocess import to_model_input

model = keras.saving.load_model("{name}.keras", safe_mode=True)
print(model.predict(to_model_input(digit[np.newaxis], model.input_shape[1]))[0].argmax())
""")


def exports_dir() -> Path:
    return digitlab_home() / "exports"


def keras_bytes(run: Run) -> bytes:
    """The run's saved model file, as it is on disk (its checksum is in the run's status)."""
    return (run.path / MODEL_FILE).read_bytes()


def tflite_bytes(run: Run, predictor: Predictor) -> bytes:
    """The run's model as TensorFlow Lite, converted once and then read from disk."""
    path = exports_dir() / f"{run.name}-{run.status.get('model_sha256', '')[:16]}.tflite"
    with _CONVERTING:
        if not path.exists():
            content = to_tflite(predictor)
            write_atomic(path, lambda handle: handle.write(content))
    return path.read_bytes()


def to_tflite(predictor: Predictor) -> bytes:
    """Convert the Predictor's serving function (uint8 digits in, probabilities out) with
    TensorFlow Lite's built-in operations only."""
    serve = predictor.serve.get_concrete_function()
    # No Keras model as the converter's "trackable" object: given one, every output was NaN.
    converter = tf.lite.TFLiteConverter.from_concrete_functions([serve])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter.convert()
