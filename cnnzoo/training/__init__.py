"""cnnzoo.training: `fit` and `evaluate`, recipes, schedules, callbacks and strategies.

    fit.py           fit: train into a resumable run directory
    evaluate.py      evaluate a model: loss, accuracy, per-class accuracy, confusion matrix
    recipes.py       the default recipe of every registered model
    schedules.py     learning-rate schedules (cosine with warm-up, step)
    callbacks.py     checkpoints, history, resume and the NaN guard
    strategy.py      tf.distribute strategies from one `distribute` argument
    precision.py     mixed precision and XLA per device
    determinism.py   seeded, deterministic runs
    inputs.py        the data forms accepted, and the checks before training
    workdir.py       the run directory's files, written atomically
    lock.py          one run per workdir: the lock a run holds while it writes

The library trains and evaluates models; loading a model from a path lives above it in
`cnnzoo.artifacts`, and the main job behind `cnnzoo train` in `cnnzoo.job`.
"""

from cnnzoo.lazy import lazy_attributes
from cnnzoo.training.determinism import make_deterministic
from cnnzoo.training.evaluate import confusion_matrix, evaluate, format_report
from cnnzoo.training.fit import fit
from cnnzoo.training.recipes import Recipe, get_recipe
from cnnzoo.training.schedules import make_schedule
from cnnzoo.training.strategy import make_strategy

__all__ = ["Recipe", "confusion_matrix", "evaluate", "fit", "format_report", "get_recipe",
           "make_deterministic", "make_schedule", "make_strategy"]

# Deprecated aliases of names that moved above the library; each access warns.
__getattr__, __dir__ = lazy_attributes(__name__, {"load_model": "cnnzoo.artifacts"},
                                       moved=True)
