"""Progress inside each epoch: steps done, images per second and the time left.

Ours rather than Keras's `ProgbarLogger` for two reasons: Keras's `Progbar` shows speed
only as time per step (an extra value would print as `images/s: 2345.1234`), and it
takes every POSIX process for a terminal, so in a log file or a pipe it either writes
backspaces (verbose=1) or stays silent until the epoch ends (verbose=2).
"""

import shutil
import sys
import time

import keras

# The line is redrawn at most this often (seconds): in a notebook each redraw is kept in
# the saved output, so there only once a second.
_TERMINAL_REDRAW = 0.1
_NOTEBOOK_REDRAW = 1.0
_BAR_WIDTH = 20


class TrainingProgress(keras.callbacks.Callback):
    """Shows each epoch's progress with images/s and an ETA, then a summary line.

    On a terminal or in a notebook one line is redrawn in place; elsewhere (a log file,
    CI, a pipe) a new line is printed every `interval` seconds, so a long epoch is never
    silent. Images/s leave out the epoch's first step, which includes tracing and
    compilation.

    Args:
        images_per_step: the global batch size.
        interval: seconds between lines when the output is not a terminal.
        live: redraw one line in place; default: when `stream` is a terminal or the
            process is a Jupyter kernel.
        stream: where to write (default: `sys.stdout` at each write).
        clock: a function returning seconds, for tests (default: `time.monotonic`).

    Example:
        >>> import io
        >>> out = io.StringIO()
        >>> progress = TrainingProgress(32, interval=0, live=False, stream=out,
        ...                             clock=iter(range(0, 100, 2)).__next__)
        >>> progress.set_params({"epochs": 1, "steps": 3})
        >>> progress.on_epoch_begin(0)
        >>> for step in range(3):
        ...     progress.on_train_batch_end(step, {"loss": 0.5})
        >>> print(out.getvalue().splitlines()[1])
        epoch 1/1 - step 2/3 - 16 images/s - ETA 2s - loss: 0.5000
    """

    def __init__(self, images_per_step, *, interval=20.0, live=None, stream=None,
                 clock=time.monotonic):
        super().__init__()
        self.images_per_step = images_per_step
        self.interval = interval
        self.live = live
        self.stream = stream
        self.clock = clock
        self._width = 0  # Of the line drawn in place, to blank what a shorter one leaves.

    def _out(self):
        return self.stream or sys.stdout

    def _is_terminal(self):
        return bool(getattr(self._out(), "isatty", lambda: False)())

    def _is_live(self):
        if self.live is None:
            self.live = self._is_terminal() or "ipykernel" in sys.modules
        return self.live

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._start = self._last_shown = self.clock()
        self._first_step_end = self._last_step_end = None
        self._step = self._first_call_steps = 0

    def on_train_batch_end(self, batch, logs=None):
        now = self.clock()
        self._step = batch + 1
        if self._first_step_end is None:
            # One call can run several steps (steps_per_execution): count from its last.
            self._first_step_end, self._first_call_steps = now, self._step
        self._last_step_end = now
        steps = self.params.get("steps")
        waited = now - self._last_shown
        if self._is_live():
            redraw = _TERMINAL_REDRAW if self._is_terminal() else _NOTEBOOK_REDRAW
            if waited >= redraw or self._step == steps:
                self._draw(self._status(now, logs, bar=bool(steps)))
                self._last_shown = now
        elif waited >= self.interval:
            self._write(self._status(now, logs) + "\n")
            self._last_shown = now

    def on_epoch_end(self, epoch, logs=None):
        now = self.clock()
        # The speed of the training steps; the time includes the validation after them.
        line = (f"{self._epoch_label()} - {self._step} steps - {now - self._start:.0f}s"
                f"{_speed_text(self._images_per_second(self._last_step_end))}"
                f"{_metrics_text(logs)}")
        if self._is_live():
            self._draw(line)
            self._write("\n")
            self._width = 0
        else:
            self._write(line + "\n")

    def _epoch_label(self):
        return f"epoch {self._epoch + 1}/{self.params.get('epochs', '?')}"

    def _images_per_second(self, now):
        """Returns the images/s of the epoch after its first call, or None before one."""
        if (self._step <= self._first_call_steps or now is None
                or now <= self._first_step_end):
            return None
        return ((self._step - self._first_call_steps) * self.images_per_step
                / (now - self._first_step_end))

    def _status(self, now, logs, *, bar=False):
        steps = self.params.get("steps")
        text = f"{self._epoch_label()} - step {self._step}" + (f"/{steps}" if steps else "")
        if bar:
            done = min(_BAR_WIDTH, _BAR_WIDTH * self._step // steps)
            text += f" [{'=' * done}{'.' * (_BAR_WIDTH - done)}]"
        speed = self._images_per_second(now)
        text += _speed_text(speed)
        if steps and speed:
            text += f" - ETA {_duration((steps - self._step) * self.images_per_step / speed)}"
        return text + _metrics_text(logs)

    def _draw(self, line):
        if self._is_terminal():
            # A longer line would wrap, and "\r" return to its last row only.
            line = line[:shutil.get_terminal_size().columns - 1]
        self._write("\r" + line + " " * max(0, self._width - len(line)))
        self._width = len(line)

    def _write(self, text):
        stream = self._out()
        stream.write(text)
        stream.flush()


def _speed_text(speed):
    return f" - {speed:.0f} images/s" if speed is not None else ""


def _metrics_text(logs):
    return "".join(f" - {name}: {float(value):.4f}" for name, value in (logs or {}).items())


def _duration(seconds):
    """Returns `seconds` as "42s", "3:07" or "1:02:07"."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}:{seconds:02d}"
    return f"{minutes // 60}:{minutes % 60:02d}:{seconds:02d}"


def progress_callbacks(verbose, images_per_step):
    """Returns `[TrainingProgress(images_per_step)]`, or `[]` when `verbose` is 0."""
    return [TrainingProgress(images_per_step)] if verbose else []
