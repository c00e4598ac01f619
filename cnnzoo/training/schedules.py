"""Learning-rate schedules from `keras.optimizers.schedules`, named as the recipes name them."""

import keras

SCHEDULES = ("constant", "cosine", "step")


def make_schedule(schedule, learning_rate, *, epochs, steps_per_epoch, warmup_epochs=0):
    """Returns the learning rate for the optimizer: a float or a `LearningRateSchedule`.

    Args:
        schedule: "constant" (the float `learning_rate`), "cosine" (cosine decay to 0 over
            the whole run, after a linear warm-up of `warmup_epochs` from 0), or "step"
            (`learning_rate`, divided by 10 at 50% and again at 75% of the run).
        learning_rate: the peak learning rate, a positive float.
        epochs, steps_per_epoch: the length of the run, in epochs and steps per epoch.
        warmup_epochs: epochs of linear warm-up; "cosine" only.

    Raises:
        ValueError: an unknown schedule, a learning rate that is not positive and finite,
            or a warm-up longer than the run or given to a schedule without one.

    Example:
        >>> lr = make_schedule("cosine", 0.1, epochs=10, steps_per_epoch=100, warmup_epochs=1)
        >>> [round(float(lr(step)), 4) for step in (0, 100, 1000)]
        [0.0, 0.1, 0.0]
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {list(SCHEDULES)}; received "
                         f"schedule={schedule!r}.")
    if (isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float))
            or not 0 < learning_rate < float("inf")):
        raise ValueError(f"learning_rate must be a positive number, finite; received "
                         f"learning_rate={learning_rate!r}. Typical: 1e-3 (adam), 0.1 (sgd).")
    if warmup_epochs and schedule != "cosine":
        raise ValueError(f"warmup_epochs applies to schedule='cosine'; received "
                         f"warmup_epochs={warmup_epochs} with schedule={schedule!r}.")
    if not 0 <= warmup_epochs < epochs:
        raise ValueError(f"warmup_epochs must be >= 0 and below epochs={epochs}; received "
                         f"warmup_epochs={warmup_epochs}.")
    learning_rate = float(learning_rate)
    total_steps = max(1, int(epochs * steps_per_epoch))
    if schedule == "constant":
        return learning_rate
    if schedule == "step":
        boundaries = [max(1, total_steps // 2), max(2, (3 * total_steps) // 4)]
        return keras.optimizers.schedules.PiecewiseConstantDecay(
            boundaries, [learning_rate, learning_rate / 10, learning_rate / 100])
    warmup_steps = int(warmup_epochs * steps_per_epoch)
    if not warmup_steps:
        return keras.optimizers.schedules.CosineDecay(learning_rate, total_steps)
    return keras.optimizers.schedules.CosineDecay(
        0.0, total_steps - warmup_steps, warmup_target=learning_rate, warmup_steps=warmup_steps)
