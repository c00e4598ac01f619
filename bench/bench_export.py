"""Serving speed of an exported mnist_cnn beside the Keras model's, in one run.

    python bench/bench_export.py                 # defaults: 2000 batch-1 calls, 30 batches
    python bench/bench_export.py --calls 500 --batches 10   # quicker
    python bench/bench_export.py --threads 1     # one TensorFlow thread, as on a busy host
    python bench/bench_export.py --model runs/mnist_cnn-fashion_mnist_sample  # a trained one
    python -m bench.bench_export --quantization bench/export_quantization.csv --calls 5000

`--quantization CSV` measures the LiteRT formats of the shipped Fashion-MNIST weights of
mnist_cnn and lenet5 instead (`--models` changes them): float32, dynamic-range int8 and
full-integer int8 (calibrated on 500 training images), each with its size, its accuracy
on the full test set (all 10,000 images: Debian's Fashion-MNIST is needed) and its
agreement with float32, and its batch-1 latency (p50, p99) in the LiteRT interpreter on
one thread, the formats interleaved in rounds; one CSV row per model and format.

Batch 1: latency (p50, p99) of the exported `serving_default` signature, called as TF
Serving's Python clients and `tf.saved_model.load` users call it (a uint8 tensor in), and
of `ExportedPredictor.predict` (NumPy in, checks included), against `model.predict` on
one image, Keras's usual call for single predictions. Batch 256: images/s of the
signature against a plain call of the Keras model (`model(x, training=False)`, float32
tensor in). Contenders are interleaved in rounds, so load from other processes on a
shared machine hits each alike. Targets on a 2-core CPU: p50 at batch 1 under 1 ms and
at least 30x faster than `model.predict`; batch throughput at least 0.9x the plain call.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import cnnzoo  # noqa: E402
from cnnzoo.export import export_model, export_saved_model, load_exported  # noqa: E402


def timed_calls(function, count):
    """Returns the wall time in seconds of each of `count` calls of `function`."""
    times = []
    for _ in range(count):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def interleaved(contenders, rounds):
    """Returns `{name: [seconds per call]}`; `contenders` maps a name to (function, calls
    per round). Each is warmed up once, then the rounds alternate between them."""
    results = {name: [] for name in contenders}
    for function, _ in contenders.values():
        function()
    for _ in range(rounds):
        for name, (function, calls) in contenders.items():
            results[name] += timed_calls(function, calls)
    return results


def percentile(times, q):
    return float(np.percentile(times, q)) * 1000.0


def tflite_runner(model, folder, image):
    path = export_model(model, os.path.join(folder, "model.tflite"), format="tflite")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # tf.lite.Interpreter's LiteRT notice
        interpreter = tf.lite.Interpreter(model_path=str(path), num_threads=1)
    runner = interpreter.get_signature_runner("serving_default")
    return lambda: runner(images=image)


def tflite_agreement(model, folder):
    """Prints, per TFLite variant, top-1 agreement with Keras on the sample's test images."""
    from cnnzoo.data import load_arrays

    images, _, _ = load_arrays("fashion_mnist_sample", "test")
    reference = model(images.astype("float32"), training=False).numpy()
    print(f"TFLite vs Keras on {len(images)} Fashion-MNIST sample test images")
    print("  format           size (KB)  top-1 agreement  max |p - p_keras|")
    for fmt in ("tflite", "tflite_float16", "tflite_int8"):
        path = export_model(model, os.path.join(folder, f"{fmt}.tflite"), format=fmt)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            interpreter = tf.lite.Interpreter(model_path=str(path))
        probabilities = interpreter.get_signature_runner("serving_default")(
            images=images)["probabilities"]
        agreement = (probabilities.argmax(-1) == reference.argmax(-1)).mean()
        print(f"  {fmt:16s} {os.path.getsize(path) / 1024:9.0f}  {agreement:15.4f}  "
              f"{np.abs(probabilities - reference).max():17.2e}")


QUANTIZED_FORMATS = ("tflite", "tflite_int8", "tflite_full_int8")
QUANTIZATION_COLUMNS = ("model", "weights", "format", "bytes", "size_vs_float32",
                        "test_accuracy", "agreement_with_float32", "p50_ms", "p99_ms",
                        "test_images", "calibration_images", "machine", "load_1min",
                        "tensorflow", "date", "command")


def litert_runner(path, *, threads=None):
    """Returns the `serving_default` runner of a .tflite file in LiteRT's interpreter."""
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_path=str(path), num_threads=threads).get_signature_runner(
        "serving_default")


def quantization_rows(name, folder, test, calibration, *, calls, rounds=5):
    """Returns one CSV row per LiteRT format of `name`'s shipped Fashion-MNIST weights."""
    from cnnzoo.export.formats import CALIBRATED_FORMAT

    images, labels = test
    model = cnnzoo.build(name, weights="fashion_mnist", compile=False)
    paths = {fmt: export_model(model, os.path.join(folder, f"{name}-{fmt}.tflite"),
                               format=fmt, calibration=calibration
                               if fmt == CALIBRATED_FORMAT else None)
             for fmt in QUANTIZED_FORMATS}
    predicted = {fmt: np.concatenate([litert_runner(path)(images=images[i:i + 1000])
                                      ["class_ids"] for i in range(0, len(images), 1000)])
                 for fmt, path in paths.items()}
    one = images[:1]
    runners = {fmt: litert_runner(path, threads=1) for fmt, path in paths.items()}
    latency = interleaved({fmt: (lambda r=runner: r(images=one), calls // rounds)
                           for fmt, runner in runners.items()}, rounds)
    rows = []
    for fmt, path in paths.items():
        size = os.path.getsize(path)
        rows.append({
            "model": name, "weights": "fashion_mnist", "format": fmt, "bytes": size,
            "size_vs_float32": f"{size / os.path.getsize(paths['tflite']):.3f}",
            "test_accuracy": f"{float(np.mean(predicted[fmt] == labels)):.4f}",
            "agreement_with_float32":
                f"{float(np.mean(predicted[fmt] == predicted['tflite'])):.4f}",
            "p50_ms": f"{percentile(latency[fmt], 50):.4f}",
            "p99_ms": f"{percentile(latency[fmt], 99):.4f}",
            "test_images": len(labels), "calibration_images": len(calibration)})
    return rows


def quantization_table(csv_path, models, *, calls, calibration_size=500):
    """Measures `models`' LiteRT formats and writes the rows to `csv_path`; returns them."""
    import csv
    import datetime
    import io

    from bench.machine import describe_machine
    from cnnzoo.atomic import write_atomically
    from cnnzoo.data import load_arrays
    from cnnzoo.export.formats import calibration_sample

    images, labels, _ = load_arrays("fashion_mnist", "test", download=False)
    if len(labels) != 10_000:
        raise SystemExit(f"the full Fashion-MNIST test set is needed; found {len(labels)} "
                         "images (apt-get install dataset-fashion-mnist).")
    calibration = calibration_sample("fashion_mnist", calibration_size)
    # The load average says how shared the machine was while latencies were timed.
    common = {"machine": describe_machine()["machine"], "tensorflow": tf.__version__,
              "load_1min": f"{os.getloadavg()[0]:.2f}",
              "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%MZ"),
              "command": "python -m bench.bench_export " + " ".join(sys.argv[1:])}
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in models:
            rows += [{**row, **common} for row in quantization_rows(
                name, folder, (images, labels), calibration, calls=calls)]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=QUANTIZATION_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomically(csv_path, text.getvalue())
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000,
                        help="batch-1 calls of each fast contender (default: 2000)")
    parser.add_argument("--predict-calls", type=int, default=100,
                        help="model.predict calls on one image (default: 100)")
    parser.add_argument("--batches", type=int, default=30,
                        help="batch-256 calls of each contender (default: 30)")
    parser.add_argument("--threads", type=int,
                        help="TensorFlow intra- and inter-op threads (default: TensorFlow's "
                             "choice), as TF Serving's --tensorflow_intra_op_parallelism")
    parser.add_argument("--model", help="a .keras file or training workdir to time and "
                                        "compare (default: a fresh mnist_cnn); a trained "
                                        "model makes the TFLite agreement meaningful")
    parser.add_argument("--quantization", metavar="CSV",
                        help="measure the LiteRT formats of shipped weights (see above) and "
                             "write them to CSV instead")
    parser.add_argument("--models", nargs="+", default=["mnist_cnn", "lenet5"],
                        help="models with shipped Fashion-MNIST weights, for --quantization")
    args = parser.parse_args(argv)
    if args.quantization:
        for row in quantization_table(args.quantization, args.models, calls=args.calls):
            print(f"{row['model']:10s} {row['format']:17s} {row['bytes']:>8} B  acc "
                  f"{row['test_accuracy']}  agree {row['agreement_with_float32']}  p50 "
                  f"{row['p50_ms']} ms  p99 {row['p99_ms']} ms")
        return 0
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    rounds = 5

    if args.model:
        from cnnzoo.artifacts import load_export_source

        model, _ = load_export_source(args.model)
    else:
        model = cnnzoo.build_mnist_cnn()
    rng = np.random.default_rng(0)
    shape = tuple(model.input_shape[1:])
    image = rng.integers(0, 256, (1, *shape), dtype=np.uint8)
    batch = rng.integers(0, 256, (256, *shape), dtype=np.uint8)
    with tempfile.TemporaryDirectory() as folder:
        path = export_saved_model(model, os.path.join(folder, "mnist_cnn"))
        signature = tf.saved_model.load(str(path)).signatures["serving_default"]
        predictor = load_exported(path)
        image_tensor, batch_tensor = tf.constant(image), tf.constant(batch)
        batch_float = tf.constant(batch.astype("float32"))
        tflite = tflite_runner(model, folder, image)
        tflite_agreement(model, folder)

        latency = interleaved({
            "exported signature": (lambda: signature(images=image_tensor),
                                   args.calls // rounds),
            "ExportedPredictor.predict": (lambda: predictor.predict(image),
                                          args.calls // rounds),
            "TFLite float32 (1 thread)": (tflite, args.calls // rounds),
            "keras model.predict": (lambda: model.predict(image, verbose=0),
                                    max(1, args.predict_calls // rounds)),
        }, rounds)
        throughput = interleaved({
            "exported signature": (lambda: signature(images=batch_tensor),
                                   max(1, args.batches // rounds)),
            "keras model(x, training=False)": (lambda: model(batch_float, training=False),
                                               max(1, args.batches // rounds)),
        }, rounds)

    print(f"{model.name}, TensorFlow {tf.__version__}, {os.cpu_count()} CPUs, threads "
          f"{args.threads or 'default'}")
    print("batch 1 latency (ms)            p50      p99   calls")
    for name, times in latency.items():
        print(f"  {name:28s} {percentile(times, 50):7.3f}  {percentile(times, 99):7.3f}"
              f"  {len(times):6d}")
    print("batch 256 throughput           images/s (median)")
    rates = {name: 256 / statistics.median(times) for name, times in throughput.items()}
    for name, rate in rates.items():
        print(f"  {name:30s} {rate:10.0f}")
    signature_p50 = statistics.median(latency["exported signature"])
    predict_p50 = statistics.median(latency["keras model.predict"])
    batch_ratio = rates["exported signature"] / rates["keras model(x, training=False)"]
    print(f"batch 1: signature p50 {signature_p50 * 1000:.3f} ms (target < 1 ms), "
          f"{predict_p50 / signature_p50:.0f}x faster than model.predict (target >= 30x)")
    print(f"batch 256: signature / plain Keras call = {batch_ratio:.2f} (target >= 0.9)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
