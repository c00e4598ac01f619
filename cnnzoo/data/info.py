"""DatasetInfo: what a loaded dataset is, independent of how it was read."""

from __future__ import annotations

import dataclasses

__all__ = ["DatasetInfo"]


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """A description of one split of a dataset.

    Attributes:
        name: the dataset's name (`"fashion_mnist"`, `"digits"`, a folder's name).
        split: the split this describes (`"train"`, `"test"`, `"validation"`...).
        class_names: one name per label, in label order.
        image_shape: `(height, width, channels)` of every image.
        num_examples: examples in this split (after `validation_split`/`limit`),
            or `None` when a streamed source cannot say without reading it all.
        source_path: the file or folder the data came from, `None` for in-memory
            arrays and scikit-learn, `"tfds:<dir>"` for tensorflow-datasets.
        num_classes: `len(class_names)`, computed.

    Example:
        >>> info = DatasetInfo("toy", "train", ("a", "b"), (8, 8, 1), 10)
        >>> info.num_classes
        2
    """

    name: str
    split: str
    class_names: tuple[str, ...]
    image_shape: tuple[int, int, int]
    num_examples: int | None
    source_path: str | None = None
    num_classes: int = dataclasses.field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "class_names", tuple(str(c) for c in self.class_names))
        object.__setattr__(self, "image_shape", tuple(int(d) for d in self.image_shape))
        if len(self.image_shape) != 3:
            raise ValueError(
                f"image_shape must be (height, width, channels); received {self.image_shape}.")
        object.__setattr__(self, "num_classes", len(self.class_names))

    def replace(self, **changes) -> "DatasetInfo":
        """Returns a copy with `changes` applied (`num_classes` follows `class_names`)."""
        return dataclasses.replace(self, **changes)
