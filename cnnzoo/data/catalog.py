"""Facts about the named datasets: class names, file names, where they usually live."""

from __future__ import annotations

import os

__all__ = ["CLASS_NAMES", "NO_HORIZONTAL_FLIP", "flip_allowed", "SYSTEM_DATA_DIRS",
           "LOCAL_FOLDER_NAMES", "SAMPLE_NAME", "SAMPLE_DIR", "keras_datasets_dir"]

_DIGITS = tuple(str(i) for i in range(10))

CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "mnist": _DIGITS,
    "digits": _DIGITS,
    "fashion_mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    "cifar10": ("airplane", "automobile", "bird", "cat", "deer",
                "dog", "frog", "horse", "ship", "truck"),
    "cifar100": (
        "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle",
        "bicycle", "bottle", "bowl", "boy", "bridge", "bus", "butterfly", "camel",
        "can", "castle", "caterpillar", "cattle", "chair", "chimpanzee", "clock",
        "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
        "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster",
        "house", "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion",
        "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain", "mouse",
        "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear",
        "pickup_truck", "pine_tree", "plain", "plate", "poppy", "porcupine",
        "possum", "rabbit", "raccoon", "ray", "road", "rocket", "rose", "sea",
        "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake",
        "spider", "squirrel", "streetcar", "sunflower", "sweet_pepper", "table",
        "tank", "telephone", "television", "tiger", "tractor", "train", "trout",
        "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman",
        "worm"),
}

SAMPLE_NAME = "fashion_mnist_sample"
SAMPLE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "samples", SAMPLE_NAME)
CLASS_NAMES[SAMPLE_NAME] = CLASS_NAMES["fashion_mnist"]

# A mirrored digit or character is a different (or no) symbol, so presets never flip these.
NO_HORIZONTAL_FLIP = frozenset({
    "mnist", "digits", "emnist", "kmnist", "svhn_cropped", "binary_alpha_digits"})


def flip_allowed(name: str, flip: bool | None = None) -> bool:
    """Returns whether images of the dataset `name` may be mirrored: `flip` when given,
    else whether `name` is outside `NO_HORIZONTAL_FLIP`."""
    if flip is not None:
        return bool(flip)
    return name not in NO_HORIZONTAL_FLIP

# Folder names the datasets' usual downloads unpack to, tried under every search directory.
LOCAL_FOLDER_NAMES: dict[str, tuple[str, ...]] = {
    "mnist": ("mnist", "MNIST", "mnist.npz"),
    "fashion_mnist": ("fashion_mnist", "fashion-mnist", "FashionMNIST"),
    "cifar10": ("cifar10", "cifar-10-batches-bin", "cifar-10-batches-py"),
    "cifar100": ("cifar100", "cifar-100-binary", "cifar-100-python"),
}

# System-wide places, searched after data_dir, $CNNZOO_DATA_DIR and ~/.keras/datasets.
# Debian's dataset-fashion-mnist package installs the four IDX .gz files here.
SYSTEM_DATA_DIRS: dict[str, tuple[str, ...]] = {
    "fashion_mnist": ("/usr/share/datasets/fashion-mnist",),
}


def keras_datasets_dir() -> str:
    """Returns the folder `keras.datasets` downloads to (honours `$KERAS_HOME`)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "datasets")
