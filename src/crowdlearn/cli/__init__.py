"""The ``crowdlearn`` command-line tool: argument parsing only; every command calls the library.

Each sub-command lives in its own module of this package with two functions,
``register(subparsers)`` (builds its parser, imports nothing heavy) and ``run(args)`` (does the
work, importing what it needs). Start-up therefore costs only ``argparse``: ``crowdlearn --help``
and label-only commands never import torch.

Errors of the user's input (:class:`crowdlearn.errors.CrowdlearnError`) are printed as one line
and exit with status 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: sub-command modules, in the order ``crowdlearn --help`` lists them
COMMANDS: tuple[str, ...] = ("info", "convert", "simulate", "aggregate", "fit", "train",
                             "experiment", "datasets", "demo")


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    def _get_help_string(self, action: argparse.Action) -> str | None:
        # "(default: None)" says nothing: options without a default explain it in their help
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (every sub-command registered)."""
    parser = argparse.ArgumentParser(
        prog="crowdlearn",
        description="Learning from crowdsourced labels: aggregation, deep learning from crowds, "
        "diagnostics, datasets and simulated annotators.",
        epilog="Example:\n  crowdlearn demo\n  crowdlearn info answers.csv\n"
        "Run 'crowdlearn COMMAND --help' for a command's options and an example.",
        formatter_class=_Formatter,
    )
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"crowdlearn {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"{__name__}.{name}")
        module.register(sub)
    return parser


def add_command(sub: argparse._SubParsersAction, name: str, help: str, example: str,
                description: str | None = None,
                aliases: Sequence[str] = ()) -> argparse.ArgumentParser:
    """Create a sub-command parser with the common formatting and an ``Example`` epilog."""
    p = sub.add_parser(
        name, help=help, description=description or help, aliases=list(aliases),
        epilog="Example:\n  " + example.strip().replace("\n", "\n  "),
        formatter_class=_Formatter,
    )
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help="show tracebacks on errors")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``crowdlearn`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 0
    debug = bool(getattr(args, "debug", False))
    from ..errors import CrowdlearnError

    try:
        result = args.func(args)
    except CrowdlearnError as exc:
        if debug:
            raise
        print(f"crowdlearn {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as exc:
        if debug:
            raise
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"crowdlearn {args.command}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except MemoryError as exc:
        if debug:
            raise
        print(f"crowdlearn {args.command}: error: out of memory: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
