"""``crowdlearn datasets``: list, describe and install public crowdsourcing data sets."""

from __future__ import annotations

import argparse
import sys

from . import _Formatter, add_command

EXAMPLE = """\
crowdlearn datasets list
crowdlearn datasets install music                  # download, verify, convert
crowdlearn datasets install rte dog web --root data/
crowdlearn datasets install labelme --from ~/Downloads/deep_LabelMe.tar.gz   # no network
crowdlearn datasets show cifar10h                   # URLs, file names, checksums, citation
crowdlearn info ~/.crowdlearn/datasets/music        # every command reads installed sets"""

INSTALL_EXAMPLE = """\
crowdlearn datasets install music
crowdlearn datasets install cifar10h --root /data/crowd
crowdlearn datasets install temp --from all_collected_data.tgz
crowdlearn datasets install cifar10h --from cifar10h-raw.zip --from cifar-10-python.tar.gz
crowdlearn datasets install bluebirds --from downloads/bluebird/   # label.csv + truth.csv
crowdlearn datasets install music --force           # reinstall (replaced atomically)
crowdlearn datasets install cifar10 cifar10h --keep-downloads   # one CIFAR-10 download"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``datasets`` sub-command and its actions."""
    p = add_command(
        sub, "datasets", "list and install public crowdsourcing data sets", EXAMPLE,
        description="Install public crowdsourcing data sets (Music, LabelMe, CIFAR-10H, the "
        "truth-inference benchmarks, CIFAR-10 and MNIST for simulated annotators) into "
        "ROOT/NAME (ROOT: --root, else $CROWDLEARN_HOME, else ~/.crowdlearn/datasets) in "
        "peerannot's folder format, readable by every crowdlearn command. Downloads are "
        "verified (SHA-256, or the publisher's MD5) and the data set folder appears only "
        "when the installation succeeded.",
    )
    p.set_defaults(func=run, parser=p)
    actions = p.add_subparsers(dest="action", metavar="ACTION")

    def action(name: str, help: str, example: str) -> argparse.ArgumentParser:
        a = actions.add_parser(name, help=help, description=help, formatter_class=_Formatter,
                               epilog="Example:\n  " + example.strip().replace("\n", "\n  "))
        a.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show tracebacks on errors")
        a.add_argument("--root", default=None,
                       help="folder of installed data sets (default: $CROWDLEARN_HOME, else "
                       "~/.crowdlearn/datasets)")
        return a

    ls = action("list", "list the data sets that can be installed",
                "crowdlearn datasets list\ncrowdlearn datasets list --json")
    ls.add_argument("--json", action="store_true", help="print the full records as JSON")

    show = action("show", "describe one data set: files, URLs, checksums, licence, citation",
                  "crowdlearn datasets show labelme")
    show.add_argument("name", help="data set name (see 'crowdlearn datasets list')")

    inst = action("install", "download (or take --from files), verify and install data sets",
                  INSTALL_EXAMPLE)
    inst.add_argument("names", nargs="+", metavar="NAME",
                      help="data set name(s) (see 'crowdlearn datasets list')")
    inst.add_argument("--from", dest="sources", action="append", metavar="FILE",
                      help="a file downloaded by hand (or an archive or folder holding the "
                      "files) to use instead of downloading; repeatable; one NAME only")
    inst.add_argument("--force", action="store_true",
                      help="reinstall a data set that is already installed")
    inst.add_argument("--no-verify", dest="verify", action="store_false",
                      help="accept files whose checksum differs from the registry's, and "
                      "files without a known checksum offered only over plain HTTP")
    inst.add_argument("--keep-downloads", action="store_true",
                      help="keep the downloaded files in ROOT/.downloads/ (by default they "
                      "are deleted once the data set is installed)")
    inst.add_argument("-q", "--quiet", action="store_true",
                      help="no progress bars or notes, only errors")


def run(args: argparse.Namespace) -> int:
    """Dispatch to the chosen action."""
    if not getattr(args, "action", None):
        args.parser.print_help()
        return 0
    if args.action == "list":
        return _list(args)
    if args.action == "show":
        return _show(args)
    return _install(args)


def _list(args: argparse.Namespace) -> int:
    import json

    from ..datasets import REGISTRY, default_root, summary_rows
    from ._common import format_table

    if args.json:
        print(json.dumps([r.to_dict() for r in REGISTRY.values()], indent=2,
                         ensure_ascii=False))
        return 0
    rows = summary_rows(args.root)
    cols = ("name", "kind", "download", "tasks", "workers", "classes", "answers", "checksums",
            "installed", "licence", "reference")
    for r in rows:
        r["licence"] = r["licence"].split(" (")[0].split(";")[0]
        r["installed"] = "yes" if r["installed"] else "no"
    table = [[_short(r[c]) for c in cols] for r in rows]
    print(format_table(table, cols))
    root = default_root() if args.root is None else args.root
    print(f"\nROOT: {root}   install: crowdlearn datasets install NAME   details: crowdlearn "
          "datasets show NAME")
    return 0


def _short(value: object, width: int = 34) -> object:
    if isinstance(value, str) and len(value) > width:
        return value[: width - 3] + "..."
    return value


def _show(args: argparse.Namespace) -> int:
    from ..datasets import get_record, installed_path

    r = get_record(args.name)
    lines = [
        f"name:        {r.name}" + (f" (aliases: {', '.join(r.aliases)})" if r.aliases else ""),
        f"description: {r.description}",
        f"kind:        {r.kind}",
        f"sizes:       {_n(r.n_tasks)} tasks, {_n(r.n_workers)} workers, {r.n_classes} "
        f"classes, {_n(r.n_answers)} answers",
        f"licence:     {r.licence}",
        f"citation:    {r.citation}",
        f"homepage:    {r.homepage}",
    ]
    if r.notes:
        lines.append(f"notes:       {r.notes}")
    if r.manual:
        lines.append(f"by hand:     {r.manual}")
    lines.append("files:")
    for f in r.files:
        size = f"{f.size:,} bytes" if f.size else "size unknown"
        check = (f"sha256 {f.sha256}" if f.sha256 else f"md5 {f.md5} (no SHA-256 yet)"
                 if f.md5 else "no checksum known: not verified")
        lines.append(f"  {f.fname} ({size}; {check})")
        lines.extend(f"    {u}" for u in f.urls)
        if f.members:
            lines.append(f"    uses: {', '.join(f.members)}")
    path = installed_path(r.name, args.root)
    lines.append(f"installed:   {path if path else 'no'}")
    print("\n".join(lines))
    return 0


def _n(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _install(args: argparse.Namespace) -> int:
    from ..datasets import install
    from ..errors import CrowdlearnError

    if args.sources and len(args.names) > 1:
        raise CrowdlearnError("--from takes the files of one data set: name only one")
    log = None if args.quiet else _stderr
    for name in args.names:
        path = install(name, root=args.root, source=args.sources, force=args.force,
                       verify=args.verify, progress=not args.quiet, log=log,
                       keep_downloads=args.keep_downloads)
        if not args.quiet:
            print(path)
    return 0


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)
