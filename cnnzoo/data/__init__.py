"""cnnzoo.data: named datasets, arrays, IDX/CIFAR files and image folders as tf.data batches.

    >>> from cnnzoo.data import load_dataset
    >>> ds, info = load_dataset("fashion_mnist_sample", batch_size=64, augment="standard")
    >>> info.num_examples, info.image_shape
    (4000, (28, 28, 1))
"""

from cnnzoo.data.augment import (AugmentPreset, get_augment_preset, list_augment_presets,
                                 register_augment_preset)
from cnnzoo.data.files import DataFormatError
from cnnzoo.data.folders import ImageFolderError
from cnnzoo.data.idx import IdxFormatError, read_idx, write_idx
from cnnzoo.data.info import DatasetInfo
from cnnzoo.data.pipeline import load_arrays, load_dataset
from cnnzoo.data.sources import DatasetNotFoundError, check_labels, list_local_names, search_dirs

__all__ = ["AugmentPreset", "DataFormatError", "DatasetInfo", "DatasetNotFoundError",
           "IdxFormatError", "ImageFolderError", "check_labels", "get_augment_preset",
           "list_augment_presets", "list_local_names", "load_arrays", "load_dataset",
           "read_idx", "register_augment_preset", "search_dirs", "write_idx"]
