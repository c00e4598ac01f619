"""The `cnnzoo` command line: each command is a thin call into the library.

User errors (bad arguments, missing files, models that refuse an input) print one line
and exit with status 2; anything else is a bug and keeps its traceback.
"""

import argparse
import sys


class UserError(Exception):
    """An error in what the user asked for; the CLI prints its message and exits 2."""


def _run_list(args):
    from cnnzoo.registry import list_models, model_card

    names = list_models(args.pattern)
    if not names:
        raise UserError(f"no model matches {args.pattern!r}; try `cnnzoo list` for all.")
    rows = [("name", "family", "params", "input", "classes")]
    for name in names:
        card = model_card(name)
        rows.append((name, card.family, f"{card.num_params:,}",
                     "x".join(str(d) for d in card.default_input), str(card.num_classes)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.rjust(w) if i == 2 else cell.ljust(w)
                        for i, (cell, w) in enumerate(zip(row, widths))).rstrip())


def _add_list_command(subparsers):
    parser = subparsers.add_parser(
        "list", help="list the registered models",
        description="List registered models with trainable parameters at the default input.")
    parser.add_argument("pattern", nargs="?", default="*",
                        help="wildcard filter, e.g. 'resnet*' (default: all)")
    parser.set_defaults(handler=_run_list)


def build_parser():
    """Returns the argparse parser of the `cnnzoo` command."""
    parser = argparse.ArgumentParser(
        prog="cnnzoo", description="Classic CNN image classifiers for Keras 3: list, "
                                   "train, evaluate, export, predict and serve.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_list_command(subparsers)
    return parser


def main(argv=None):
    """Runs the command line; returns the process exit status."""
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except (UserError, ValueError, FileNotFoundError, FileExistsError) as error:
        print(f"cnnzoo {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
