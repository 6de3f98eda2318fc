"""The ``crowdlearn`` command-line tool: argument parsing only; every command calls the library.

Each sub-command lives in its own module of this package with two functions,
``register(subparsers)`` (builds its parser, imports nothing heavy) and ``run(args)`` (does the
work, importing what it needs). Start-up therefore costs only ``argparse``: ``crowdlearn --help``
and label-only commands never import torch.

Errors of the user's input (:class:`crowdlearn.errors.CrowdlearnError`) are printed as one line
and exit with status 2; ``--debug`` shows the traceback instead. A reader that closes the output
early (``crowdlearn info X | head``) ends the command quietly with status 141 (128 + SIGPIPE,
what the shell reports for a program killed by a closed pipe).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

#: sub-command modules, in the order ``crowdlearn --help`` lists them
COMMANDS: tuple[str, ...] = ("info", "convert", "simulate", "aggregate", "identify", "report",
                             "fit", "train", "experiment", "datasets", "demo")


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    def _get_help_string(self, action: argparse.Action) -> str | None:
        # "(default: None)" says nothing: options without a default explain it in their help;
        # a flag's default is its absence ("--no-verify (default: True)" reads as the opposite)
        if action.default is None or (action.nargs == 0 and isinstance(action.const, bool)):
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


#: exit status when the reader of the output went away (128 + SIGPIPE)
EXIT_BROKEN_PIPE = 141


def _command_parser(parser: argparse.ArgumentParser, command: str | None
                    ) -> argparse.ArgumentParser:
    """The parser of sub-command ``command`` (``parser`` itself when there is none)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            return action.choices[command]
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``crowdlearn`` console script."""
    try:
        status = _main(argv)
        sys.stdout.flush()  # inside the try: a closed pipe fails here, not at exit
    except BrokenPipeError:
        _drop_stdout()
        return EXIT_BROKEN_PIPE
    return status


def _drop_stdout() -> None:
    """Point standard output at the null device: nothing more can reach the closed pipe, and
    Python's own flush at exit stays silent."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError, AttributeError):  # no real file descriptor (captured output)
        pass


def _main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # what a relaunch repeats
    if unknown:  # reported with the sub-command's usage, not the top-level one
        _command_parser(parser, getattr(args, "command", None)).error(
            f"unrecognized arguments: {' '.join(unknown)}")
    if not getattr(args, "command", None):
        parser.print_help()
        return 0
    debug = bool(getattr(args, "debug", False))
    from ..errors import CrowdlearnError, cli_spelling

    try:
        with cli_spelling():  # advice in error messages names flags, not keywords
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
