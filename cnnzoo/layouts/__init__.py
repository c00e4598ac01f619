"""cnnzoo.layouts: the on-disk layouts cnnzoo reads and writes, each spelled in one place.

    run_dir.py   a training run directory: run.json, best.keras, last.keras, history.csv...
    serving.py   TensorFlow Serving's SavedModel folders and numbered version folders

Plain Python (no TensorFlow or Keras), so every layer may import them: training writes a
run directory, export writes version folders, and the job, the CLI and the server read
both.
"""
