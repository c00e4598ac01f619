"""`cnnzoo doctor [MODEL]`: the command-line front end of `cnnzoo.doctor`.

Only argparse here, so `cnnzoo --help` and `cnnzoo doctor --help` answer without Keras or
TensorFlow; the handler imports the doctor when it runs.
"""


def run_doctor(args, *, say=print):
    """Runs `cnnzoo.doctor.diagnose` as `args` ask, prints its report, saves its finding.

    Raises:
        ValueError: an unknown model, or counts that are not positive integers.
        OSError: the cache cannot be written.
    """
    from cnnzoo.doctor import diagnose, save_finding

    result = diagnose(args.model, steps=args.steps, repeats=args.repeats,
                      batch_size=args.batch_size,
                      say=lambda message: say(f"... {message}"))
    say(result.report())
    if args.no_save:
        return result
    if result.finding() is None:
        say("nothing saved: no setting trained on this machine.")
        return result
    path = save_finding(result)
    say(f"saved to {path}: fit's 'auto' mixed_precision and jit_compile now follow it for "
        f"{args.model} on this machine.")
    return result


def add_doctor_command(subparsers):
    """Adds the `doctor` command to the `cnnzoo` command's `subparsers`."""
    parser = subparsers.add_parser(
        "doctor", help="time mixed precision, XLA and the input pipeline on this machine",
        description="Time a few training steps of MODEL with mixed precision and XLA each on "
                    "and off (where the device makes them worth trying), and the input "
                    "pipeline alone; print which settings to use and whether the pipeline "
                    "is the bottleneck, and save them so that `cnnzoo train` and `fit`'s "
                    "'auto' settings follow them on this machine ($CNNZOO_CACHE_DIR/"
                    "doctor.json, default ~/.cache/cnnzoo).")
    parser.add_argument("model", nargs="?", default="mnist_cnn",
                        help="a registered model (default: mnist_cnn)")
    parser.add_argument("--steps", type=int, default=20,
                        help="training steps per timed repeat (default: 20)")
    parser.add_argument("--repeats", type=int, default=5,
                        help="alternated repeats; medians are taken (default: 5)")
    parser.add_argument("--batch-size", type=int,
                        help="images a step (default: the model's recipe's)")
    parser.add_argument("--no-save", action="store_true",
                        help="print the advice without saving it for fit's 'auto' settings")
    parser.set_defaults(handler=run_doctor)
    return parser
