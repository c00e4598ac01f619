"""Regenerate the shipped Fashion-MNIST sample from the full dataset.

    python -m cnnzoo.data.sample [--source /usr/share/datasets/fashion-mnist]

The sample is a stratified, deterministic choice (`seed`) of `train_per_class`
training and `test_per_class` test images per class, kept in file order and written
as gzipped IDX files (atomically) to `cnnzoo/data/samples/fashion_mnist_sample/`.
The same source and arguments give byte-identical files.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from cnnzoo.data import catalog
from cnnzoo.data.files import read_local_split
from cnnzoo.data.idx import write_idx

__all__ = ["make_sample"]


def _choose(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    chosen = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if len(members) < per_class:
            raise ValueError(f"class {c} has {len(members)} examples, fewer than "
                             f"per_class={per_class}.")
        chosen.append(rng.choice(members, per_class, replace=False))
    return np.sort(np.concatenate(chosen))


def make_sample(source_dir: str, out_dir: str = catalog.SAMPLE_DIR, *,
                train_per_class: int = 400, test_per_class: int = 100,
                seed: int = 0) -> dict[str, int]:
    """Writes the sample's four IDX files into `out_dir`.

    Returns:
        `{"train": n_train, "test": n_test}`, the examples written.

    Raises:
        FileNotFoundError: `source_dir` holds no Fashion-MNIST IDX files.
        ValueError: a class has fewer examples than asked for.
    """
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(seed)
    counts = {}
    for split, prefix, per_class in (("train", "train", train_per_class),
                                     ("test", "t10k", test_per_class)):
        arrays = read_local_split(source_dir, split)
        if arrays is None:
            raise FileNotFoundError(f"no Fashion-MNIST IDX files for split {split!r} in "
                                    f"{source_dir}.")
        images, labels = arrays
        keep = _choose(labels, per_class, rng)
        write_idx(os.path.join(out_dir, f"{prefix}-images-idx3-ubyte.gz"), images[keep, :, :, 0])
        write_idx(os.path.join(out_dir, f"{prefix}-labels-idx1-ubyte.gz"),
                  labels[keep].astype(np.uint8))
        counts[split] = len(keep)
    return counts


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=catalog.SYSTEM_DATA_DIRS["fashion_mnist"][0])
    parser.add_argument("--out", default=catalog.SAMPLE_DIR)
    parser.add_argument("--train-per-class", type=int, default=400)
    parser.add_argument("--test-per-class", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    counts = make_sample(args.source, args.out, train_per_class=args.train_per_class,
                         test_per_class=args.test_per_class, seed=args.seed)
    print(f"wrote {counts} to {args.out}")


if __name__ == "__main__":
    main()
