"""One plain dataclass holds every number that shapes a run, with defaults that work.

The CLI flags, the app's form and the saved `config.json` of a run are all this dataclass,
so a run can be repeated from its folder alone.
"""

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from tl_core.errors import ConfigError
from tl_core.i18n import Text

DATA_SOURCES = ("auto", "file", "keras", "embedded")
PRECISIONS = ("auto", "float32", "bfloat16")
BOTTLENECKS = ("block3", "block4", "block5")  # where the base is cut; the head sits on it
POOLINGS = ("average", "flatten")  # how the head reads the bottleneck
WEIGHT_SPECS = ("pretrained", "imagenet", "edges", "random")  # or a weights file path
MIN_INPUT_SIZE, MAX_INPUT_SIZE = 32, 96


HELP = "help"  # a setting's one-line description, for the CLI's flags


def _setting(default: Any, help_text: str) -> Any:
    """A config field with its description, so the CLI builds its flags from this class."""
    return field(default=default, metadata={HELP: help_text})


CHOICES = {
    "data_source": DATA_SOURCES,
    "precision": PRECISIONS,
    "bottleneck": BOTTLENECKS,
    "pooling": POOLINGS,
}


@dataclass(frozen=True)
class Ranges:
    """How far each random change may go, either way.

    rotation: degrees; shift: fraction of the side; zoom: relative scale change (0.1 means
    0.9x to 1.1x); shear: horizontal shift per pixel down (the slant of a leaning digit);
    stroke: change of the stroke width in pixels of the 28x28 digit.
    """

    rotation: float = 0.0
    shift: float = 0.0
    zoom: float = 0.0
    shear: float = 0.0
    stroke: float = 0.0


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run.

    `weights` is "pretrained" (ImageNet where it can be had, else VGG16 pretrained on
    ImageNet then on edge detection: transfer learning either way), "imagenet", "edges",
    "random" (same network, no pretraining: not transfer learning) or a path to a VGG16
    no-top weights file (weights.resolve_weights). `precision` is what the base computes in;
    "auto" is what this machine measured faster (features.resolve_precision). `bottleneck` is
    the block whose output the head sits on, `pooling` how the head reads it: "average" (one
    value per channel) or "flatten" (every position). `include_people` adds the digits of
    the people's training writers (tl_core.pipeline.people) to the training digits;
    `include_handwriting` adds the class's saved drawings (tl_core.pipeline.handwriting).
    The defaults were chosen by measurement: docs/choices.md.
    """

    data_source: str = _setting("auto", "where MNIST comes from (auto: the first that works)")
    data_path: str | None = _setting(None, "mnist.npz or a folder of the four IDX files")
    per_class: int | None = _setting(None, "training digits per class (none: all)")
    test_per_class: int | None = _setting(None, "test digits per class (none: all)")
    input_size: int = _setting(32, "side of VGG16's input in pixels, 32 to 96")
    weights: str = _setting(
        "pretrained",
        "pretrained (ImageNet, else ImageNet then edge detection), imagenet, edges, "
        "random (not transfer learning) or a weights file path",
    )
    head_units: int = _setting(512, "units of the head's Dense layer")
    epochs: int = _setting(20, "epochs of training the head")
    batch_size: int = _setting(64, "digits per training batch")
    learning_rate: float = _setting(1e-3, "Adam's learning rate for the head")
    rotation: float = _setting(10.0, "augmentation: max rotation in degrees")
    shift: float = _setting(0.1, "augmentation: max shift, fraction of the side")
    zoom: float = _setting(0.1, "augmentation: max zoom change, fraction")
    shear: float = _setting(0.3, "augmentation: max slant, horizontal shift per pixel down")
    stroke: float = _setting(1.0, "augmentation: max change of the pen width, in pixels")
    views: int = _setting(2, "views per training digit: the digit itself, then augmented copies")
    seed: int = _setting(0, "seed of the digits chosen, the augmentation and the head")
    fine_tune: bool = _setting(False, "then fine-tune the base's top block (slow)")
    fine_tune_epochs: int = _setting(2, "epochs of fine-tuning")
    fine_tune_learning_rate: float = _setting(1e-5, "learning rate of fine-tuning")
    precision: str = _setting(
        "auto", "what the base computes features in (auto: what this machine measured faster)"
    )
    bottleneck: str = _setting("block4", "the block whose output the head sits on")
    pooling: str = _setting("average", "how the head reads the bottleneck: average or flatten")
    include_people: bool = _setting(
        False, "add real people's digits (20 writers; 10 others are kept out, to test)"
    )
    include_handwriting: bool = _setting(
        False, "add the class's saved drawings to the training digits (one in four held out)"
    )

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError naming the first value out of range and the allowed range."""
        if self.data_source not in DATA_SOURCES:
            _not_one_of("data_source", self.data_source, DATA_SOURCES)
        if self.precision not in PRECISIONS:
            _not_one_of("precision", self.precision, PRECISIONS)
        if self.bottleneck not in BOTTLENECKS:
            _not_one_of("bottleneck", self.bottleneck, BOTTLENECKS)
        if self.pooling not in POOLINGS:
            _not_one_of("pooling", self.pooling, POOLINGS)
        if self.data_source == "file" and not self.data_path:
            raise ConfigError(
                Text(
                    "{name}={value} is not allowed: use a path when data_source is 'file'.",
                    name="data_path",
                    value=repr(self.data_path),
                )
            )
        _check_range("input_size", self.input_size, MIN_INPUT_SIZE, MAX_INPUT_SIZE)
        _check_range("per_class", self.per_class, 1, 10_000, optional=True)
        _check_range("test_per_class", self.test_per_class, 1, 10_000, optional=True)
        _check_range("head_units", self.head_units, 1, 4096)
        _check_range("epochs", self.epochs, 1, 200)
        _check_range("batch_size", self.batch_size, 1, 4096)
        _check_range("learning_rate", self.learning_rate, 1e-7, 1.0)
        _check_range("rotation", self.rotation, 0.0, 180.0)
        _check_range("shift", self.shift, 0.0, 0.5)
        _check_range("zoom", self.zoom, 0.0, 0.9)
        _check_range("shear", self.shear, 0.0, 1.0)
        _check_range("stroke", self.stroke, 0.0, 2.0)
        _check_range("views", self.views, 1, 32)
        _check_range("fine_tune_epochs", self.fine_tune_epochs, 1, 50)
        _check_range("fine_tune_learning_rate", self.fine_tune_learning_rate, 1e-8, 1e-2)
        if not self.weights:
            raise ConfigError(
                Text(
                    "{name}={value} is not allowed: use one of {choices} or a file path.",
                    name="weights",
                    value=repr(self.weights),
                    choices=", ".join(WEIGHT_SPECS),
                )
            )

    @property
    def is_transfer(self) -> bool:
        """Random weights are the same network without pretraining: not transfer learning."""
        return self.weights != "random"

    @property
    def ranges(self) -> Ranges:
        """The augmentation ranges, as `augment` takes them."""
        return Ranges(self.rotation, self.shift, self.zoom, self.shear, self.stroke)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy, as saved in a run's `config.json`."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        """Rebuild a config from `to_dict` output, ignoring keys this version doesn't know;
        a run saved before a setting existed gets the value it was trained with."""
        known = {f.name for f in fields(cls)}
        return cls(**{**BEFORE_SETTING, **{k: v for k, v in values.items() if k in known}})


# What runs saved before these settings existed were trained with.
BEFORE_SETTING = {"bottleneck": "block5", "pooling": "flatten"}


def _check_range(
    name: str, value: float | None, low: float, high: float, optional: bool = False
) -> None:
    """Reject a value outside [low, high]; `None` is fine only for optional settings."""
    if value is None and optional:
        return
    if value is None or isinstance(value, bool) or not low <= value <= high:
        raise ConfigError(
            Text(
                "{name}={value} is not allowed: use from {low} to {high}.",
                name=name,
                value=repr(value),
                low=format(low, "g"),
                high=format(high, "g"),
            )
        )


def _not_one_of(name: str, value: object, choices: tuple[str, ...]) -> None:
    raise ConfigError(
        Text(
            "{name}={value} is not allowed: use one of {choices}.",
            name=name,
            value=repr(value),
            choices=", ".join(choices),
        )
    )


# The app's default: 400 training and 100 test digits per class (with the embedded digits,
# every one of them, as `python -m tl_core train` offline). What it reads and how long it
# takes, measured: docs/choices.md (`python -m tl_core choices`).
QUICK_RUN = TrainConfig(per_class=400, test_per_class=100)
