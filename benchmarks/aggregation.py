"""Aggregation benchmarks: speed and accuracy of crowdlearn's strategies beside crowd-kit's.

Run from the repository root::

    python benchmarks/aggregation.py                 # everything (several minutes)
    python benchmarks/aggregation.py --quick         # about a minute
    python benchmarks/aggregation.py --only accuracy --strategies mv ds glad
    python benchmarks/aggregation.py --no-peers --json results.json

Sections (see ``benchmarks/README.md``):

speed
    (1) every registered strategy on a simulated crowd of 1,000,000 answers (200,000 tasks x 5
    answers, 2,000 workers, 5 classes; strategies for two classes only on a binary crowd of the
    same size), beside crowd-kit's equivalent on the same DataFrame, with iterations, time per
    iteration and speed ratios; (2) GLAD and MACE on the real ``web``, ``trec`` and
    ``relevance`` sets against crowd-kit; (3) peak memory of building an ``Answers`` and fitting
    Dawid-Skene on 10,000,000 answers (in a fresh process); (4) wall time of the whole
    ``crowdlearn aggregate FILE -s ds`` process on the 1M-answer CSV.
accuracy
    accuracy on the tasks with known truth of every strategy (and ``auto``) on every data set in
    ``$CROWDLEARN_DATA/truth-inference``, crowd-kit's strategies beside them, averages, and how
    far ``auto`` falls from the per-data-set best single strategy.

crowd-kit runs in a forked child process with a time limit (``--peer-timeout``) and an
address-space limit (``--peer-memory-gb``), so that a peer that crashes, runs out of memory or
takes too long is reported instead of stopping the benchmark. Truth is used only to score.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crowdlearn.aggregate import available, get_strategy_class, make_strategy
from crowdlearn.answers import Answers

#: crowd-kit class -> the names our registry may use for the same strategy
PEERS: dict[str, tuple[str, ...]] = {
    "MajorityVote": ("mv", "majority_vote"),
    "DawidSkene": ("ds", "dawid_skene"),
    "OneCoinDawidSkene": ("onecoin", "one_coin"),
    "GLAD": ("glad",),
    "MACE": ("mace",),
    "MMSR": ("mmsr", "m_msr"),
    "Wawa": ("wawa",),
    "ZeroBasedSkill": ("zbs", "zero_based_skill"),
    "KOS": ("kos",),
}
#: crowd-kit strategies that take a random_state (averaged over seeds in the accuracy table)
PEER_RANDOMISED = {"MACE", "MMSR", "KOS"}
#: crowd-kit strategies for two classes only
PEER_BINARY = {"KOS"}
#: (strategy, data set) pairs whose crowd-kit run takes more than ~30 s: skipped by --quick
SLOW_PEERS = {("GLAD", "trec"), ("GLAD", "relevance"), ("MACE", "trec"), ("MACE", "relevance")}
#: crowd-kit strategies run by --quick (the others are reported as skipped)
QUICK_PEERS_CROWD = {"MajorityVote", "DawidSkene"}
QUICK_PEERS_ACCURACY = {"MajorityVote", "DawidSkene"}

SPEED_SHAPE = {"n_tasks": 200_000, "answers_per_task": 5, "n_workers": 2_000, "n_classes": 5}
MEMORY_ANSWERS = 10_000_000
REAL_SPEED_SETS = ("web", "trec", "relevance")

# targets printed beside the numbers
MV_TARGET_S = 0.05
DS_TARGET_S = 1.0
DS_ITER_RATIO = 8.0
GLAD_MACE_RATIO = 20.0
GLAD_TREC_S = 15.0
MEMORY_TARGET_GB = 4.0
CLI_TARGET_S = 3.0


# ============================================================================ small helpers
def log(msg: str) -> None:
    """Progress to stderr (tables go to stdout)."""
    print(msg, file=sys.stderr, flush=True)


def fmt(value: Any, spec: str = ".3f", missing: str = "-") -> str:
    """Format a number, or ``missing`` (shortened to 32 characters) for None/NaN."""
    if len(missing) > 32:
        missing = missing[:29] + "..."
    if value is None:
        return missing
    if isinstance(value, str):
        return value
    if isinstance(value, float) and not np.isfinite(value):
        return missing
    return format(value, spec)


def table(rows: Sequence[Sequence[Any]], header: Sequence[str], title: str = "") -> str:
    """A fixed-width plain-text table: first column left-aligned, the others right-aligned."""
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]

    def line(r: list[str]) -> str:
        return "  ".join(
            r[i].ljust(widths[i]) if i == 0 else r[i].rjust(widths[i]) for i in range(len(r))
        ).rstrip()

    out = [title, "=" * len(title)] if title else []
    out += [line(cells[0]), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells[1:]]
    return "\n".join(out)


def ours_for_peer(peer: str) -> str | None:
    """Our registered name for crowd-kit's ``peer``, or None."""
    for alias in PEERS[peer]:
        try:
            return get_strategy_class(alias).name
        except Exception:  # noqa: BLE001 - an unknown name is a CrowdlearnError
            continue
    return None


def peer_for_ours(name: str) -> str | None:
    """crowd-kit's class for our strategy ``name``, or None."""
    for peer in PEERS:
        if ours_for_peer(peer) == name:
            return peer
    return None


def strategy_names(selected: Sequence[str] | None) -> list[str]:
    """Registered strategies to benchmark (``auto`` is handled separately)."""
    names = [n for n in available() if n != "auto"]
    if selected:
        wanted = [get_strategy_class(s).name for s in selected]
        names = [n for n in names if n in wanted]
    return names


def takes_seed(name: str) -> bool:
    return "random_state" in get_strategy_class(name)._param_names()


def load_truth_inference(folder: Path) -> Answers:
    """``label.csv`` (item, worker, label) and ``truth.csv`` (item, truth) as :class:`Answers`.

    Every row is kept (``duplicates="all"``), exactly as crowd-kit receives them.
    """
    labels = pd.read_csv(folder / "label.csv")
    truth = pd.read_csv(folder / "truth.csv")
    answers = Answers.from_frame(
        labels, task="item", name=folder.name, duplicates="all", source=str(folder / "label.csv")
    )
    return answers.with_truth_table(truth["item"].to_numpy(), truth["truth"].to_numpy())


def simulated_crowd(n_classes: int, seed: int = 0) -> tuple[Answers, str]:
    """The speed benchmark's crowd (1M answers) and a description of how it was drawn."""
    shape = dict(SPEED_SHAPE, n_classes=n_classes)
    from crowdlearn.simulate import simulate

    n_w = shape["n_workers"]
    groups = [("one-coin", n_w * 3 // 4), ("diagonal", n_w // 5),
              ("spammer", n_w - n_w * 3 // 4 - n_w // 5)]
    crowd = simulate(shape["n_tasks"], n_classes, workers=groups,
                     answers_per_task=shape["answers_per_task"], seed=seed,
                     name=f"simulated-{n_classes}")
    how = (f"crowdlearn.simulate: {shape['n_tasks']:,} tasks x {shape['answers_per_task']} "
           f"answers, {n_w:,} workers ({', '.join(f'{c} {m}' for m, c in groups)}), "
           f"{n_classes} classes, seed {seed}")
    return crowd.answers, how


def accuracy(labels: np.ndarray, answers: Answers) -> float:
    """Share of the tasks with known truth whose label is right (a missing label is wrong)."""
    known = answers.truth_mask
    return float(np.mean(np.asarray(labels)[known] == answers.truth[known]))


# ============================================================================ forked runs
def _die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies (no orphaned slow fits)."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the time limit still applies
        pass


def _child(conn: Any, job: Callable[[], dict[str, Any]], mem_bytes: int) -> None:
    """Body of a forked child: run ``job`` under an address-space limit, send its result."""
    _die_with_parent()
    try:
        if mem_bytes > 0:
            resource.setrlimit(resource.RLIMIT_AS, (mem_bytes, mem_bytes))
        warnings.simplefilter("ignore")
        conn.send(job())
    except MemoryError:
        conn.send({"status": f"out of memory (> {mem_bytes / 2**30:.0f} GB)"})
    except BaseException as exc:  # noqa: BLE001 - everything is reported to the parent
        text = str(exc).splitlines()[0][:70] if str(exc) else ""
        conn.send({"status": f"failed: {type(exc).__name__}: {text}"})
    finally:
        conn.close()


def run_forked(job: Callable[[], dict[str, Any]], timeout: float, mem_gb: float) -> dict[str, Any]:
    """Run ``job`` in a forked child with a time limit and an address-space limit.

    The child shares the parent's data copy-on-write; only the result dict comes back. A
    timeout, an out-of-memory error or a crash becomes ``{"status": "..."}`` instead of an
    exception, and a timeout also records ``"timeout": seconds``.
    """
    ctx = mp.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, job, int(mem_gb * 2**30)), daemon=True)
    proc.start()
    send.close()
    try:
        if recv.poll(timeout):
            result = recv.recv()
        else:
            result = {"status": f"timeout (> {timeout:.0f} s)", "timeout": timeout}
    except EOFError:
        proc.join(5)
        code = proc.exitcode
        why = "killed, out of memory?" if code == -9 else f"exit code {code}"
        result = {"status": f"crashed ({why})"}
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join()
        recv.close()
    if result.get("status") == "ok" and result.get("n_iter") and result.get("seconds"):
        result.setdefault("per_iter", result["seconds"] / result["n_iter"])
    return result


# ============================================================================ our strategies
def _fit_ours(name: str, answers: Answers, params: dict[str, Any],
              repeat_below: float) -> dict[str, Any]:
    est = make_strategy(name, **params)
    start = time.perf_counter()
    est.fit(answers)
    first = time.perf_counter() - start
    warm = first
    if first < repeat_below:  # fast fits: best of two more, with the views already built
        for _ in range(2):
            again = make_strategy(name, **params)
            start = time.perf_counter()
            again.fit(answers)
            warm = min(warm, time.perf_counter() - start)
    n_iter = int(getattr(est, "n_iter_", 0) or 0)
    out = {"status": "ok", "seconds": first, "warm_seconds": warm, "n_iter": n_iter,
           "per_iter": first / n_iter if n_iter else None, "labels": np.asarray(est.labels_)}
    if hasattr(est, "chosen_"):
        out["chosen"] = est.chosen_
    return out


def run_ours(name: str, answers: Answers, timeout: float, mem_gb: float, seed: int = 0,
             repeat_below: float = 0.0, **params: Any) -> dict[str, Any]:
    """Fit our strategy ``name`` in a forked child (so a slow or failing one cannot stall).

    ``seconds`` is the first fit, which builds the sparse views the strategy needs (the
    ``Answers`` object comes fresh from the parent each time); when it is below
    ``repeat_below``, ``warm_seconds`` is the best of two more fits on the same object.
    """
    if takes_seed(name):
        params.setdefault("random_state", seed)
    return run_forked(lambda: _fit_ours(name, answers, params, repeat_below), timeout, mem_gb)


# ============================================================================ crowd-kit peers
_CK_LOADED = False


def _import_crowdkit() -> bool:
    """Import crowd-kit in this process (so that forked children start warm)."""
    global _CK_LOADED
    if not _CK_LOADED:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                import crowdkit.aggregation  # noqa: F401
            _CK_LOADED = True
        except ImportError:
            return False
    return True


def _fit_peer(method: str, frame: pd.DataFrame, params: dict[str, Any],
              answers: Answers) -> dict[str, Any]:
    import crowdkit.aggregation as ck

    est = getattr(ck, method)(**params)
    start = time.perf_counter()
    est.fit(frame)
    seconds = time.perf_counter() - start
    task_ids, classes = answers.task_ids, answers.classes
    found = est.labels_.reindex(task_ids)
    codes = np.full(len(task_ids), -1, dtype=np.int64)
    ok = found.notna().to_numpy()
    codes[ok] = np.searchsorted(classes, found[ok].to_numpy().astype(classes.dtype))
    history = getattr(est, "loss_history_", None)
    n_iter = len(history) if history is not None and len(history) else None
    return {"status": "ok", "seconds": seconds, "n_iter": n_iter, "labels": codes}


def run_peer(method: str, frame: pd.DataFrame, answers: Answers, timeout: float,
             mem_gb: float, **params: Any) -> dict[str, Any]:
    """Run crowd-kit's ``method`` on ``frame`` in a forked child with time and memory limits."""
    if not _import_crowdkit():
        return {"status": "crowd-kit not installed"}
    return run_forked(lambda: _fit_peer(method, frame, params, answers), timeout, mem_gb)


class PeerCache:
    """crowd-kit results by (method, data set, seed): one run serves speed and accuracy."""

    def __init__(self, timeout: float, mem_gb: float) -> None:
        self.timeout = timeout
        self.mem_gb = mem_gb
        self.results: dict[tuple[str, str, int], dict[str, Any]] = {}
        self.frames: dict[str, pd.DataFrame] = {}

    def get(self, method: str, answers: Answers, seed: int = 0,
            timeout: float | None = None) -> dict[str, Any]:
        key = (method, str(answers.name), seed)
        if key not in self.results:
            name = str(answers.name)
            if name not in self.frames:
                self.frames[name] = answers.to_frame()
            params = {"random_state": seed} if method in PEER_RANDOMISED else {}
            log(f"  crowd-kit {method} on {name} (seed {seed}) ...")
            self.results[key] = run_peer(
                method, self.frames[name], answers, self.timeout if timeout is None else timeout,
                self.mem_gb, **params,
            )
        return self.results[key]


# ============================================================================ speed
def target_note(name: str, ours: dict[str, Any], peer: dict[str, Any] | None) -> str:
    """The target that applies to ``name`` on the 1M crowd, and whether it is met."""
    if ours.get("status") != "ok":
        return ""
    secs = ours["seconds"]
    if name == "mv":  # a warm fit: the best of the first and the repeated fits
        warm = min(secs, ours.get("warm_seconds") or secs)
        return f"<= {MV_TARGET_S} s warm: " + ("ok" if warm <= MV_TARGET_S else "MISSED")
    if name == "ds":
        text = f"<= {DS_TARGET_S:g} s: " + ("ok" if secs <= DS_TARGET_S else "MISSED")
        ratio = per_iter_ratio(ours, peer)
        if ratio is not None:
            text += f"; iter >= {DS_ITER_RATIO:g}x: " + ("ok" if ratio >= DS_ITER_RATIO
                                                         else "MISSED")
        return text
    if name in ("glad", "mace"):
        ratio = total_ratio(ours, peer)
        if ratio is None:
            return ""
        at_least = peer is not None and "timeout" in peer
        ok = ratio >= GLAD_MACE_RATIO
        return f">= {GLAD_MACE_RATIO:g}x: " + ("ok" if ok else ("open" if at_least
                                                                   else "MISSED"))
    return ""


def total_ratio(ours: dict[str, Any], peer: dict[str, Any] | None) -> float | None:
    """crowd-kit time / our time (a lower bound when crowd-kit timed out)."""
    if peer is None or ours.get("status") != "ok" or not ours["seconds"]:
        return None
    if peer.get("status") == "ok":
        return peer["seconds"] / ours["seconds"]
    if "timeout" in peer:
        return peer["timeout"] / ours["seconds"]
    return None


def per_iter_ratio(ours: dict[str, Any], peer: dict[str, Any] | None) -> float | None:
    if peer is None or peer.get("status") != "ok" or not ours.get("per_iter") \
            or not peer.get("per_iter"):
        return None
    return peer["per_iter"] / ours["per_iter"]


def ratio_text(ours: dict[str, Any], peer: dict[str, Any] | None) -> str:
    r = total_ratio(ours, peer)
    if r is None:
        return "-"
    prefix = ">" if peer is not None and "timeout" in peer else ""
    return f"{prefix}{r:.1f}x"


def speed_rows(args: argparse.Namespace, names: list[str], answers: Answers,
               peers: PeerCache | None) -> tuple[list[list[Any]], dict[str, Any]]:
    """Rows of the 1M-answer speed table for ``names`` on ``answers``."""
    rows, record = [], {}
    for name in names:
        log(f"  ours {name} on {answers.name} ...")
        ours = run_ours(name, answers, args.ours_timeout, args.memory_gb, repeat_below=1.0)
        peer_name = peer_for_ours(name)
        peer = None
        if peers is not None and peer_name is not None:
            if args.quick and peer_name not in QUICK_PEERS_CROWD:
                peer = {"status": "skipped (--quick)"}
            else:
                peer = peers.get(peer_name, answers, timeout=args.crowd_peer_timeout)
        agree = None
        if peer is not None and peer.get("status") == "ok" and ours.get("status") == "ok":
            agree = float(np.mean(peer["labels"] == ours["labels"]))
        rows.append([
            name,
            fmt(ours.get("seconds"), ".3f", ours["status"]),
            fmt(ours.get("warm_seconds") if ours.get("warm_seconds") != ours.get("seconds")
                else None, ".3f"),
            fmt(ours.get("n_iter") or None, "d"),
            fmt(ours.get("per_iter"), ".4f"),
            peer_name or "-",
            "-" if peer is None else fmt(peer.get("seconds"), ".2f", peer["status"]),
            fmt(None if peer is None else peer.get("n_iter"), "d"),
            fmt(None if peer is None else peer.get("per_iter"), ".3f"),
            ratio_text(ours, peer),
            fmt(per_iter_ratio(ours, peer), ".1f"),
            fmt(agree, ".3f"),
            target_note(name, ours, peer),
        ])
        record[name] = {
            "seconds": ours.get("seconds"), "warm_seconds": ours.get("warm_seconds"),
            "n_iter": ours.get("n_iter"), "per_iter": ours.get("per_iter"),
            "status": ours["status"],
            "peer": peer_name,
            "peer_seconds": None if peer is None else peer.get("seconds"),
            "peer_n_iter": None if peer is None else peer.get("n_iter"),
            "peer_status": None if peer is None else peer.get("status"),
            "ratio": total_ratio(ours, peer), "iter_ratio": per_iter_ratio(ours, peer),
            "label_agreement": agree,
        }
    return rows, record


SPEED_HEADER = ["strategy", "ours s", "warm s", "iters", "s/iter", "crowd-kit", "ck s", "ck iters",
                "ck s/iter", "ratio", "iter ratio", "agree", "target"]


def bench_speed(args: argparse.Namespace, names: list[str], peers: PeerCache | None,
                data_root: Path | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    # ---- 1M answers, 5 classes (and binary for the two-class strategies)
    multi = [n for n in names if not get_strategy_class(n).binary_only]
    binary = [n for n in names if get_strategy_class(n).binary_only]
    if "auto" in (args.strategies or []):
        multi.append("auto")
    log("speed: simulating 1M answers ...")
    crowd, how = simulated_crowd(SPEED_SHAPE["n_classes"])
    frame = crowd.to_frame()
    start = time.perf_counter()
    Answers.from_frame(frame)
    from_frame_s = time.perf_counter() - start
    shuffled = frame.sample(frac=1.0, random_state=0)
    start = time.perf_counter()
    Answers.from_frame(shuffled)
    from_shuffled_s = time.perf_counter() - start
    del frame, shuffled
    rows, rec = speed_rows(args, multi, crowd, peers)
    out["crowd"] = {"description": how, "answers_from_frame_s": from_frame_s,
                    "answers_from_shuffled_frame_s": from_shuffled_s, "strategies": rec}
    print(table(rows, SPEED_HEADER, f"Speed: {crowd!r}"))
    print(f"({how}; ours fit on an Answers object; building it from the DataFrame takes "
          f"{from_frame_s:.2f} s once ({from_shuffled_s:.2f} s with the rows shuffled). "
          f"crowd-kit time limit {args.crowd_peer_timeout:.0f} s here; 'agree' = share of tasks "
          f"where both give the same label.)\n")
    binary_peers = [p for p in PEER_BINARY if ours_for_peer(p) in binary or ours_for_peer(p)
                    is None]
    if binary or (peers is not None and binary_peers):
        log("speed: simulating 1M binary answers ...")
        crowd2, how2 = simulated_crowd(2)
        rows, rec = speed_rows(args, binary, crowd2, peers)
        for peer_name in binary_peers:
            if ours_for_peer(peer_name) is None and peers is not None:
                p = {"status": "skipped (--quick)"} if args.quick else \
                    peers.get(peer_name, crowd2, timeout=args.crowd_peer_timeout)
                rows.append(["(none)", "-", "-", "-", "-", peer_name,
                             fmt(p.get("seconds"), ".2f", p["status"]), "-", "-", "-", "-",
                             "-", ""])
        out["crowd_binary"] = {"description": how2, "strategies": rec}
        print(table(rows, SPEED_HEADER, f"Speed, two-class strategies: {crowd2!r}"))
        print()

    # ---- GLAD and MACE on real data sets
    if data_root is not None:
        out["real"] = bench_real_speed(args, names, peers, data_root)
    # ---- memory at 10M answers
    if args.skip_memory:
        log("memory: skipped")
    else:
        out["memory"] = bench_memory(args)
    # ---- the whole CLI process
    out["cli"] = bench_cli(crowd)
    return out


def bench_real_speed(args: argparse.Namespace, names: list[str], peers: PeerCache | None,
                     data_root: Path) -> dict[str, Any]:
    rows, rec = [], {}
    for set_name in REAL_SPEED_SETS:
        folder = data_root / "truth-inference" / set_name
        if not (folder / "label.csv").exists():
            continue
        answers = load_truth_inference(folder)
        for name in ("glad", "mace"):
            if name not in names:
                continue
            log(f"  ours {name} on {set_name} ...")
            ours = run_ours(name, answers, args.ours_timeout, args.memory_gb)
            peer_name = peer_for_ours(name)
            peer: dict[str, Any] | None = None
            if peers is not None and peer_name is not None:
                if args.quick:
                    peer = {"status": "skipped (--quick)"}
                else:
                    peer = peers.get(peer_name, answers)
            target = ""
            r = total_ratio(ours, peer)
            if r is not None:
                target = f">= {GLAD_MACE_RATIO:g}x: " + ("ok" if r >= GLAD_MACE_RATIO else
                                                         "open" if "timeout" in (peer or {})
                                                         else "MISSED")
            if name == "glad" and set_name == "trec" and ours.get("status") == "ok":
                target += ("; " if target else "") + f"< {GLAD_TREC_S:g} s: " + (
                    "ok" if ours["seconds"] < GLAD_TREC_S else "MISSED")
            acc_o = accuracy(ours["labels"], answers) if ours.get("status") == "ok" else None
            acc_p = accuracy(peer["labels"], answers) if peer and peer.get("status") == "ok" \
                else None
            rows.append([
                f"{name} {set_name}", f"{answers.n_answers:,}",
                fmt(ours.get("seconds"), ".3f", ours["status"]), fmt(ours.get("n_iter") or None,
                                                                     "d"),
                "-" if peer is None else fmt(peer.get("seconds"), ".2f", peer["status"]),
                fmt(None if peer is None else peer.get("n_iter"), "d"),
                ratio_text(ours, peer), fmt(acc_o, ".4f"), fmt(acc_p, ".4f"), target,
            ])
            rec[f"{name}/{set_name}"] = {
                "seconds": ours.get("seconds"), "n_iter": ours.get("n_iter"),
                "status": ours["status"],
                "peer_seconds": None if peer is None else peer.get("seconds"),
                "peer_status": None if peer is None else peer.get("status"),
                "ratio": r, "accuracy": acc_o, "peer_accuracy": acc_p,
            }
    if rows:
        print(table(rows, ["fit", "answers", "ours s", "iters", "ck s", "ck iters", "ratio",
                           "ours acc", "ck acc", "target"],
                    "Speed on real data sets: GLAD and MACE vs crowd-kit"))
        print(f"(crowd-kit time limit {args.peer_timeout:.0f} s.)\n")
    return rec


def _memory_child(n_answers: int) -> None:
    """Entry point of the memory subprocess: build Answers + fit DS, print JSON to stdout."""
    from crowdlearn.simulate import simulate

    def rss_now() -> float:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**30

    base = rss_now()
    per_task = SPEED_SHAPE["answers_per_task"]
    n_tasks = n_answers // per_task
    n_w = SPEED_SHAPE["n_workers"] * 5
    # draw in chunks of 1M answers so that simulation temporaries stay small
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    chunk = 200_000
    rng = np.random.default_rng(0)
    conf = None
    for start in range(0, n_tasks, chunk):
        size = min(chunk, n_tasks - start)
        if conf is None:
            crowd = simulate(size, SPEED_SHAPE["n_classes"], n_w, answers_per_task=per_task,
                             seed=rng)
            conf = crowd.confusions
        else:
            crowd = simulate(size, confusions=conf, answers_per_task=per_task, seed=rng)
        a = crowd.answers
        parts.append((a.task + start, a.worker.copy(), a.label.copy()))
        del crowd, a
    task = np.concatenate([p[0] for p in parts])
    worker = np.concatenate([p[1] for p in parts])
    label = np.concatenate([p[2] for p in parts])
    del parts
    after_sim = rss_now()
    t0 = time.perf_counter()
    answers = Answers(task, worker, label, task_ids=np.arange(n_tasks),
                      worker_ids=np.arange(n_w), classes=np.arange(SPEED_SHAPE["n_classes"]))
    del task, worker, label
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    est = make_strategy("ds").fit(answers)
    fit_s = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    print(json.dumps({
        "n_answers": answers.n_answers, "baseline_gb": base, "after_simulation_gb": after_sim,
        "peak_gb": peak, "build_s": build_s, "fit_s": fit_s,
        "n_iter": int(getattr(est, "n_iter_", 0) or 0),
    }))


def bench_memory(args: argparse.Namespace) -> dict[str, Any]:
    log(f"memory: {MEMORY_ANSWERS:,} answers in a fresh process ...")
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--_memory-child", str(MEMORY_ANSWERS)],
        capture_output=True, text=True, timeout=1800,
    )
    if proc.returncode != 0:
        tail = (proc.stderr or "").strip().splitlines()[-1:] or ["?"]
        print(f"Memory at {MEMORY_ANSWERS:,} answers: FAILED ({tail[0]})\n")
        return {"status": "failed", "error": tail[0]}
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    ok = res["peak_gb"] < MEMORY_TARGET_GB
    rows = [[f"{res['n_answers']:,}", f"{res['baseline_gb']:.2f}",
             f"{res['after_simulation_gb']:.2f}", f"{res['peak_gb']:.2f}",
             f"{res['build_s']:.2f}", f"{res['fit_s']:.2f}", res["n_iter"],
             f"< {MEMORY_TARGET_GB:g} GB: " + ("ok" if ok else "MISSED")]]
    print(table(rows, ["answers", "RSS after import GB", "RSS with arrays GB", "peak RSS GB",
                       "Answers s", "DS fit s", "DS iters", "target"],
                "Memory: Answers + Dawid-Skene at 10M answers (peak RSS of the whole process)"))
    print()
    res["status"] = "ok"
    return res


def crowdlearn_executable() -> str | None:
    exe = Path(sys.executable).with_name("crowdlearn")
    if exe.exists():
        return str(exe)
    return shutil.which("crowdlearn")


def bench_cli(crowd: Answers) -> dict[str, Any]:
    exe = crowdlearn_executable()
    result: dict[str, Any] = {"status": "not available"}
    if exe is not None:
        probe = subprocess.run([exe, "aggregate", "--help"], capture_output=True, text=True)
        if probe.returncode == 0:
            result = {}
    if result:
        print(table([["crowdlearn aggregate -s ds", "not available", "", ""]],
                    ["command", "wall s", "exit", "target"],
                    "CLI: the whole process on the 1M-answer CSV"))
        print()
        return result
    assert exe is not None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "crowd_1m.csv"
        crowd.to_frame().to_csv(path, index=False)
        cmd = [exe, "aggregate", str(path), "-s", "ds", "-o", str(Path(tmp) / "out"), "--quiet"]
        log("cli: " + " ".join(cmd))
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        wall = time.perf_counter() - start
    status = "ok" if proc.returncode == 0 else \
        f"failed: {(proc.stderr.strip().splitlines() or ['?'])[-1][:80]}"
    target = f"< {CLI_TARGET_S:g} s: " + ("ok" if wall < CLI_TARGET_S else "MISSED")
    print(table([["crowdlearn aggregate crowd_1m.csv -s ds -o DIR", f"{wall:.2f}",
                  proc.returncode, target if proc.returncode == 0 else status]],
                ["command", "wall s", "exit", "target"],
                "CLI: the whole process on the 1M-answer CSV (read, fit, write)"))
    print()
    return {"status": status, "wall_s": wall, "returncode": proc.returncode}


# ============================================================================ accuracy
def data_sets(root: Path) -> list[Path]:
    base = root / "truth-inference"
    if not base.is_dir():
        return []
    return sorted(p for p in base.iterdir() if (p / "label.csv").exists())


def mean_accuracy(fit: Callable[[int], dict[str, Any]], seeds: Sequence[int],
                  answers: Answers) -> dict[str, Any]:
    """Accuracy averaged over ``seeds`` (fits that failed are reported, not averaged)."""
    accs, secs, chosen = [], [], []
    for seed in seeds:
        res = fit(seed)
        if res.get("status") != "ok":
            return {"status": res.get("status", "failed"), "accuracy": None}
        accs.append(accuracy(res["labels"], answers))
        if res.get("seconds") is not None:
            secs.append(res["seconds"])
        if "chosen" in res:
            chosen.append(res["chosen"])
    return {"status": "ok", "accuracy": float(np.mean(accs)), "per_seed": accs,
            "seconds": float(np.mean(secs)) if secs else None, "chosen": chosen}


def bench_accuracy(args: argparse.Namespace, names: list[str], peers: PeerCache | None,
                   data_root: Path) -> dict[str, Any]:
    sets = data_sets(data_root)
    if args.datasets:
        sets = [p for p in sets if p.name in args.datasets]
    loaded = sorted((load_truth_inference(p) for p in sets), key=lambda a: a.n_answers)
    seeds = list(range(args.seeds))
    peer_names = [] if peers is None else [
        p for p in PEERS if not args.quick or p in QUICK_PEERS_ACCURACY]
    results: dict[str, dict[str, Any]] = {}
    limits = (args.ours_timeout, args.memory_gb)
    # smallest data sets first: a fit that times out is not tried on larger ones
    timed_out: dict[str, str] = {}

    def measured(key: str, fit: Callable[[int], dict[str, Any]], use: list[int],
                 answers: Answers) -> dict[str, Any]:
        if key in timed_out:
            return {"status": f"skipped (timeout on {timed_out[key]})", "accuracy": None}
        res = mean_accuracy(fit, use, answers)
        if str(res.get("status", "")).startswith("timeout"):
            timed_out[key] = str(answers.name)
        return res

    for answers in loaded:
        log(f"accuracy: {answers!r}")
        blind = answers.with_truth(None)  # strategies never see the truth
        res: dict[str, Any] = {"ours": {}, "peers": {}}
        for name in names:
            if get_strategy_class(name).binary_only and answers.n_classes != 2:
                continue
            use = seeds if takes_seed(name) else [0]
            res["ours"][name] = measured(
                name, lambda s, n=name, b=blind: cached_fit(
                    args.cache, n, b, s, lambda: run_ours(n, b, *limits, seed=s)),
                use, answers)
        if not args.no_auto:
            res["auto"] = measured(
                "auto",
                lambda s, b=blind: run_ours("auto", b, args.auto_timeout, args.memory_gb, seed=s),
                seeds, answers)
        for peer in peer_names:
            if peer in PEER_BINARY and answers.n_classes != 2:
                continue
            assert peers is not None
            if args.quick and (peer, answers.name) in SLOW_PEERS:
                res["peers"][peer] = {"status": "skipped (--quick)", "accuracy": None}
                continue
            use = seeds if peer in PEER_RANDOMISED else [0]
            res["peers"][peer] = measured(
                "ck " + peer, lambda s, p=peer, a=answers: peers.get(p, a, seed=s), use, answers)
        results[str(answers.name)] = res
    results = dict(sorted(results.items()))
    print_accuracy(results, names, peer_names, args)
    print_default_targets(results, names)
    return results


def cached_fit(cache: str | None, name: str, answers: Answers, seed: int,
               fit: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``fit()``, or its stored result: with ``--cache DIR`` the labels, time and iterations of
    every successful fit of ours are kept in ``DIR/<set>__<strategy>__<seed>.npz`` (the key
    also holds the number of answers) and reused, so that a rerun does not refit slow
    strategies. Delete the folder after changing a strategy."""
    if not cache:
        return fit()
    path = Path(cache) / f"{answers.name}__{answers.n_answers}__{name}__{seed}.npz"
    if path.exists():
        with np.load(path) as d:
            return {"status": "ok", "labels": d["labels"], "seconds": float(d["seconds"]),
                    "n_iter": int(d["n_iter"]), "cached": True}
    res = fit()
    if res.get("status") == "ok":
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, labels=res["labels"], seconds=res.get("seconds") or np.nan,
                 n_iter=res.get("n_iter") or 0)
    return res


def _pct(entry: dict[str, Any] | None) -> str:
    if entry is None:
        return ""
    if entry.get("accuracy") is None:
        status = str(entry.get("status", ""))
        if status.startswith(("timeout", "skipped (timeout")):
            return "time"
        return "skip" if status.startswith("skipped") else "fail"
    return f"{100 * entry['accuracy']:.2f}"


def _avg(values: list[float | None], n_total: int) -> str:
    vals = [v for v in values if v is not None]
    if not vals:
        return ""
    text = f"{100 * np.mean(vals):.2f}"
    return text if len(vals) == n_total else f"{text}({len(vals)})"


def print_accuracy(results: dict[str, dict[str, Any]], names: list[str], peer_names: list[str],
                   args: argparse.Namespace) -> None:
    sets = list(results)
    show_auto = not args.no_auto
    # ---- ours
    header = ["data set"] + names + (["auto", "best", "auto-best", "auto picks"]
                                     if show_auto else ["best"])
    rows = []
    gaps, best_vals, auto_vals = [], [], []
    for s in sets:
        r = results[s]
        accs = {n: r["ours"][n]["accuracy"] for n in names
                if n in r["ours"] and r["ours"][n]["accuracy"] is not None}
        best_name = max(accs, key=accs.get) if accs else None
        best = accs.get(best_name) if best_name else None
        row = [s] + [_pct(r["ours"].get(n)) for n in names]
        best_vals.append(best)
        if show_auto:
            auto = r["auto"]
            auto_acc = auto.get("accuracy")
            auto_vals.append(auto_acc)
            gap = None if auto_acc is None or best is None else 100 * (auto_acc - best)
            gaps.append(gap)
            picks = sorted(set(auto.get("chosen") or []), key=(auto.get("chosen") or []).index)
            row += [_pct(auto), f"{100 * best:.2f} {best_name}" if best is not None else "",
                    fmt(gap, "+.2f"), "/".join(picks) or auto.get("status", "")]
        else:
            row += [f"{100 * best:.2f} {best_name}" if best is not None else ""]
        rows.append(row)
    avg_row = ["average"] + [
        _avg([results[s]["ours"].get(n, {}).get("accuracy") for s in sets], len(sets))
        for n in names
    ]
    if show_auto:
        real_gaps = [g for g in gaps if g is not None]
        avg_row += [_avg(auto_vals, len(sets)), _avg(best_vals, len(sets)),
                    fmt(float(np.mean(real_gaps)) if real_gaps else None, "+.2f"), ""]
    else:
        avg_row += [_avg(best_vals, len(sets))]
    rows.append(avg_row)
    seeds_note = (f"randomised strategies (random_state) averaged over {args.seeds} seed(s)")
    print(table(rows, header, "Accuracy (%) on tasks with known truth: crowdlearn"))
    print(f"({seeds_note}; 'best' = best single strategy per data set; 'fail' = the strategy "
          f"raised; 'time' = over the time limit of {args.ours_timeout:.0f} s, or skipped after "
          f"exceeding it on a smaller data set.)")
    if show_auto:
        real = [(g, s) for g, s in zip(gaps, sets, strict=True) if g is not None]
        if real:
            mean_gap = float(np.mean([g for g, _ in real]))
            worst, worst_set = min(real)
            print(f"auto vs per-data-set best: mean {mean_gap:+.2f} points (target >= -1), "
                  f"worst {worst:+.2f} on {worst_set} (target >= -3): "
                  + ("ok" if mean_gap >= -1 and worst >= -3 else "MISSED"))
    print()
    # ---- crowd-kit
    if not peer_names:
        return
    header = ["data set"] + [p for p in peer_names] + ["ds-ck ds"]
    rows = []
    for s in sets:
        r = results[s]
        row = [s] + [_pct(r["peers"].get(p)) for p in peer_names]
        ours_ds = r["ours"].get(ours_for_peer("DawidSkene") or "ds", {}).get("accuracy")
        ck_ds = r["peers"].get("DawidSkene", {}).get("accuracy")
        if ours_ds is None or ck_ds is None:
            row.append("")
        else:
            d = 100 * (ours_ds - ck_ds)
            row.append(f"{d:+.2f}" + (" !" if abs(d) > 1 else "  "))
        rows.append(row)
    rows.append(["average"] + [
        _avg([results[s]["peers"].get(p, {}).get("accuracy") for s in sets],
             sum(p in results[s]["peers"] for s in sets))
        for p in peer_names
    ] + [""])
    print(table(rows, header, "Accuracy (%) on tasks with known truth: crowd-kit 1.4.2"))
    print("('!' = our DS differs from crowd-kit's DS by more than 1 point; 'time' = over the "
          "crowd-kit time limit; 'fail' = crowd-kit raised; 'skip' = skipped by --quick; an "
          "average over fewer data sets shows their number in parentheses.)")
    print()


# ============================================================================ the default
#: the targets of the default strategy (issue 11): mean and worst gap to each set's best
#: strategy, worst gap to majority vote (points), and its fit time on ``relevance`` (s)
DEFAULT_MEAN_GAP, DEFAULT_WORST_GAP, DEFAULT_MV_GAP, DEFAULT_RELEVANCE_S = -1.0, -3.0, -1.0, 3.0


def default_gaps(results: dict[str, dict[str, Any]], names: list[str],
                 default: str) -> list[dict[str, Any]]:
    """Per data set: the default's accuracy, the best strategy (the default included), MV, and
    the default's gaps to both, in points (``None`` where a fit failed)."""
    rows = []
    for s, r in results.items():
        accs = {n: r["ours"][n]["accuracy"] for n in names
                if n in r["ours"] and r["ours"][n]["accuracy"] is not None}
        acc = accs.get(default)
        best_name = max(accs, key=accs.get) if accs else None
        mv = accs.get("mv")
        rows.append({
            "set": s, "default": acc, "best": accs.get(best_name), "best_name": best_name,
            "mv": mv, "seconds": r["ours"].get(default, {}).get("seconds"),
            "gap_best": None if acc is None else 100 * (acc - accs[best_name]),
            "gap_mv": None if acc is None or mv is None else 100 * (acc - mv),
        })
    return rows


def print_default_targets(results: dict[str, dict[str, Any]], names: list[str]) -> dict[str, Any]:
    """The default strategy's table: gap to each set's best and to MV, the targets checked."""
    default = get_strategy_class("default").name
    if default not in names:
        print(f"Default strategy: {default} not run (see --strategies)\n")
        return {}
    rows = default_gaps(results, names, default)
    body = [[r["set"], _pct({"accuracy": r["default"]}),
             f"{100 * r['best']:.2f} {r['best_name']}" if r["best"] is not None else "",
             _pct({"accuracy": r["mv"]}), fmt(r["gap_best"], "+.2f"), fmt(r["gap_mv"], "+.2f"),
             fmt(r["seconds"], ".2f")] for r in rows]
    best_gaps = [r["gap_best"] for r in rows if r["gap_best"] is not None]
    mv_gaps = [r["gap_mv"] for r in rows if r["gap_mv"] is not None]
    if best_gaps:
        body.append(["average", _avg([r["default"] for r in rows], len(rows)),
                     _avg([r["best"] for r in rows], len(rows)),
                     _avg([r["mv"] for r in rows], len(rows)),
                     fmt(float(np.mean(best_gaps)), "+.2f"), fmt(float(np.mean(mv_gaps)), "+.2f"),
                     ""])
    print(table(body, ["data set", default, "best", "mv", "-best", "-mv", "seconds"],
                f"The default strategy ({default}): gap to each set's best strategy and to MV"))
    out: dict[str, Any] = {"strategy": default, "rows": rows}
    if best_gaps and len(best_gaps) == len(rows):
        mean_gap, worst = float(np.mean(best_gaps)), min(best_gaps)
        worst_mv = min(mv_gaps)
        rel = next((r["seconds"] for r in rows if r["set"] == "relevance"), None)
        checks = [
            (f"mean gap to the best {mean_gap:+.2f} (target >= {DEFAULT_MEAN_GAP:+.0f})",
             mean_gap >= DEFAULT_MEAN_GAP),
            (f"worst gap to the best {worst:+.2f} (target >= {DEFAULT_WORST_GAP:+.0f})",
             worst >= DEFAULT_WORST_GAP),
            (f"worst gap to MV {worst_mv:+.2f} (target >= {DEFAULT_MV_GAP:+.0f})",
             worst_mv >= DEFAULT_MV_GAP),
        ]
        if rel is not None:
            checks.append((f"fit on relevance {rel:.2f} s (target <= {DEFAULT_RELEVANCE_S:.0f})",
                           rel <= DEFAULT_RELEVANCE_S))
        for text, ok in checks:
            print(f"  {text}: {'ok' if ok else 'MISSED'}")
        out["targets"] = {text: ok for text, ok in checks}
    else:
        print("  targets not checked: a fit failed or was skipped")
    print()
    return out


# ============================================================================ simulated crowds
def _correlated_crowd(seed: int, n_tasks: int = 2000, n_good: int = 20, n_clique: int = 4,
                      hard: float = 0.25) -> Answers:
    """Binary crowd (3:1 classes) violating conditional independence: on a random quarter of
    the tasks, the two members of a 4-worker clique who answer a task both give the same wrong
    class (90%); 5 more answers per task come from 20 one-coin workers (accuracy 0.6-0.85)."""
    rng = np.random.default_rng(seed)
    truth = (rng.random(n_tasks) < 0.25).astype(np.int64)
    confusing = rng.random(n_tasks) < hard
    skill = rng.uniform(0.6, 0.85, n_good)
    good = np.argsort(rng.random((n_tasks, n_good)), axis=1)[:, :5]
    good_ok = rng.random(good.shape) < skill[good]
    good_label = np.where(good_ok, truth[:, None], 1 - truth[:, None])
    clique = np.argsort(rng.random((n_tasks, n_clique)), axis=1)[:, :2] + n_good
    flip = np.where(confusing[:, None], rng.random(clique.shape) < 0.9,
                    rng.random(clique.shape) < 0.05)
    clique_label = np.where(flip, 1 - truth[:, None], truth[:, None])
    task = np.repeat(np.arange(n_tasks), 7)
    worker = np.concatenate([good, clique], axis=1).ravel()
    label = np.concatenate([good_label, clique_label], axis=1).ravel()
    return Answers(task, worker, label, classes=np.arange(2), truth=truth,
                   name=f"correlated-{seed}")


def _biased_crowd(seed: int) -> Answers:
    """5 classes, unequal priors, power-law activity; every worker over-uses the last class
    (a random bias of up to 0.6 added to that column), accuracies 0.35-0.85."""
    from crowdlearn.simulate import simulate

    rng = np.random.default_rng(seed)
    k, n_workers = 5, 150
    acc = rng.uniform(0.35, 0.85, n_workers)
    conf = np.repeat(((1 - acc) / (k - 1))[:, None, None], k, axis=1).repeat(k, axis=2)
    conf[:, np.arange(k), np.arange(k)] = acc[:, None]
    conf[:, :, -1] += rng.uniform(0.0, 0.6, n_workers)[:, None]
    conf /= conf.sum(axis=2, keepdims=True)
    return simulate(3000, k, confusions=conf, priors=[0.12, 0.18, 0.26, 0.2, 0.24],
                    answers_per_task=5, activity="power-law", seed=seed,
                    name=f"biased-{seed}").answers


def simulated_kinds() -> dict[str, Callable[[int], Answers]]:
    """The crowds on which the default is checked besides the real sets (name -> seed -> crowd)."""
    from crowdlearn.simulate import simulate

    def sim(*args: Any, **kw: Any) -> Callable[[int], Answers]:
        return lambda seed: simulate(*args, seed=seed, **kw).answers

    return {
        "hammer-spammer": sim(2000, 2, 40, model="hammer-spammer", answers_per_task=5,
                              model_params={"hammer_share": 0.3, "hammer_accuracy": 0.9}),
        "adversarial-minority": sim(2000, 3, workers=[("one-coin", 28),
                                                      ("adversarial", 12, {"noise": 0.1})],
                                    answers_per_task=7),
        "sparse-power-law": sim(3000, 4, 600, model="one-coin", answers_per_task=3,
                                model_params={"min_skill": 0.35, "max_skill": 0.9},
                                activity="power-law"),
        "many-classes": sim(2000, 20, 100, model="diagonal", model_params={"strength": 6.0},
                            answers_per_task=5),
        "diagonal-k5": sim(2000, 5, 60, model="diagonal", model_params={"strength": 3.0},
                           answers_per_task=5),
        "one-coin-dense": sim(1000, 2, 15, model="one-coin", answers_per_task=9,
                              model_params={"min_skill": 0.55, "max_skill": 0.8}),
        "biased-k5": _biased_crowd,
        "correlated": _correlated_crowd,
    }


def bench_default_simulated(names: list[str], seeds: Sequence[int] = (0, 1, 2),
                            skip: Sequence[str] = ("ebcc",)) -> dict[str, Any]:
    """The default's gap to the best strategy and to MV on simulated crowds of eight kinds.

    Every strategy in ``names`` but ``skip`` (EBCC: seconds per crowd) is fitted in-process on
    each crowd (truth removed); accuracy is on all tasks.
    """
    default = get_strategy_class("default").name
    use = [n for n in names if n not in skip]
    rows, gaps = [], []
    for kind, make in simulated_kinds().items():
        for seed in seeds:
            crowd = make(seed)
            blind = crowd.with_truth(None)
            accs = {}
            for name in use:
                if get_strategy_class(name).binary_only and crowd.n_classes != 2:
                    continue
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    est = make_strategy(name).fit(blind)
                accs[name] = accuracy(est.labels_, crowd)
            best = max(accs, key=accs.get)
            gap, gap_mv = 100 * (accs[default] - accs[best]), 100 * (accs[default] - accs["mv"])
            gaps.append((kind, gap, gap_mv))
            rows.append([f"{kind}-{seed}", f"{100 * accs[default]:.2f}",
                         f"{100 * accs[best]:.2f} {best}", f"{100 * accs['mv']:.2f}",
                         f"{gap:+.2f}", f"{gap_mv:+.2f}"])
    print(table(rows, ["crowd", default, "best", "mv", "-best", "-mv"],
                f"The default ({default}) on simulated crowds ({', '.join(skip)} not run)"))
    out: dict[str, Any] = {"rows": rows}
    for label, keep in (("all crowds", lambda k: True),
                        ("without 'correlated'", lambda k: k != "correlated")):
        g = [x for x in gaps if keep(x[0])]
        mean, worst, worst_mv = (float(np.mean([x[1] for x in g])), min(x[1] for x in g),
                                 min(x[2] for x in g))
        print(f"  {label}: mean gap to the best {mean:+.2f}, worst {worst:+.2f}, "
              f"worst gap to MV {worst_mv:+.2f}")
        out[label] = {"mean": mean, "worst": worst, "worst_mv": worst_mv}
    print()
    return out


# ======================================================================== EBCC/MACE/MMSR speed
#: wall seconds of the implementation before the speed-ups (commit c23e4cf), measured on the
#: development machine (2 shared cores, under the benchmark lock, OMP_NUM_THREADS=1) on the
#: data sets of :func:`em_speed_sets`; None = not measured (over the time limit given in the
#: note). EBCC on relevance and trec ran 4 of its 40 restarts (each restart costs about the
#: same, so the whole fit takes about ten times as long).
EM_SPEED_BEFORE: dict[tuple[str, str], tuple[float | None, str]] = {
    ("ebcc", "relevance"): (104.05, "4 of 40 restarts"),
    ("ebcc", "trec"): (81.88, "4 of 40 restarts"),
    ("ebcc", "1000 classes"): (None, "over 200 s"),
    ("ebcc", "simulated 1M"): (None, "1 restart over 200 s"),
    ("mace", "relevance"): (5.12, ""),
    ("mace", "trec"): (2.64, ""),
    ("mace", "simulated 1M"): (45.48, ""),
}
#: targets of issue 11 (seconds)
EM_SPEED_TARGETS = {("ebcc", "relevance"): 3.0, ("ebcc", "trec"): 3.0,
                    ("ebcc", "simulated 1M"): 10.0, ("ebcc", "1000 classes"): 5.0,
                    ("mace", "simulated 1M"): 2.0, ("mmsr", "simulated 1M"): 3.0}
EM_SPEED_PEERS = {"mace": "MACE", "mmsr": "MMSR"}


def em_speed_sets(data_root: Path | None) -> list[tuple[str, Answers]]:
    """relevance and trec (if present), the 1M-answer crowd and a 1,000-class crowd."""
    out: list[tuple[str, Answers]] = []
    for name in ("relevance", "trec"):
        folder = data_root / "truth-inference" / name if data_root else None
        if folder is not None and folder.is_dir():
            out.append((name, load_truth_inference(folder)))
    out.append(("simulated 1M", simulated_crowd(5)[0]))
    from crowdlearn.simulate import simulate

    many = simulate(1000, 1000, 50, answers_per_task=5, seed=0, name="classes-1000").answers
    out.append(("1000 classes", many))  # 1,000 tasks x 5 answers, 50 one-coin workers
    return out


def bench_em_speed(args: argparse.Namespace, peers: PeerCache | None,
                   data_root: Path | None) -> dict[str, Any]:
    """EBCC, MACE and MMSR: time now, before the speed-ups, and crowd-kit's on the same data."""
    rows, results = [], {}
    for set_name, answers in em_speed_sets(data_root):
        for name in ("ebcc", "mace", "mmsr"):
            log(f"  {name} on {set_name} ...")
            ours = run_ours(name, answers, args.ours_timeout, args.memory_gb)
            peer = None
            if peers is not None and name in EM_SPEED_PEERS:
                peer = peers.get(EM_SPEED_PEERS[name], answers, timeout=args.crowd_peer_timeout)
            before, note = EM_SPEED_BEFORE.get((name, set_name), (None, "not recorded"))
            target = EM_SPEED_TARGETS.get((name, set_name))
            now = ours.get("seconds") if ours.get("status") == "ok" else None
            acc = (accuracy(ours["labels"], answers) if now is not None and answers.truth_mask.any()
                   else None)
            peer_s = peer.get("seconds") if peer and peer.get("status") == "ok" else None
            met = "" if target is None or now is None else ("yes" if now <= target else "NO")
            rows.append([name, set_name, f"{answers.n_answers:,}", fmt(now, ".2f", ours.get(
                "status", "")), fmt(before, ".2f", note), fmt(peer_s, ".2f", (peer or {}).get(
                    "status", "-")), fmt(acc), fmt(target, ".0f"), met])
            results[f"{name}/{set_name}"] = {"seconds": now, "before": before, "peer": peer_s,
                                             "accuracy": acc, "target": target}
    print(table(rows, ["strategy", "data", "answers", "now s", "before s", "crowd-kit s",
                       "accuracy", "target s", "met"],
                title="EBCC, MACE and MMSR: wall time now, before (c23e4cf) and crowd-kit's"))
    print("(one fit in a forked child; 'before' was measured once, see EM_SPEED_BEFORE)\n")
    return results


# ============================================================================ main
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help="a few minutes: one seed, crowd-kit's MajorityVote and DawidSkene only, "
                   "20 s per fit of ours")
    p.add_argument("--only", choices=("speed", "accuracy", "simulated", "em-speed"),
                   default=None,
                   help="one section; em-speed: EBCC, MACE and MMSR times (issue 11)")
    p.add_argument("--strategies", nargs="+", default=None, metavar="NAME",
                   help="our strategies to run (default: every registered one)")
    p.add_argument("--datasets", nargs="+", default=None, metavar="NAME",
                   help="truth-inference data sets for the accuracy table (default: all)")
    p.add_argument("--no-peers", action="store_true", help="do not run crowd-kit")
    p.add_argument("--no-auto", action="store_true", help="leave out the auto column")
    p.add_argument("--seeds", type=int, default=None,
                   help="seeds for randomised strategies (default 3; 1 with --quick)")
    p.add_argument("--peer-timeout", type=float, default=None,
                   help="time limit of one crowd-kit fit on a real data set, seconds "
                   "(default 600; 60 with --quick)")
    p.add_argument("--crowd-peer-timeout", type=float, default=None,
                   help="time limit of one crowd-kit fit on the simulated 1M crowd, seconds "
                   "(default 60; 30 with --quick)")
    p.add_argument("--ours-timeout", type=float, default=None,
                   help="time limit of one fit of our strategies, seconds (default 120; 20 with "
                   "--quick)")
    p.add_argument("--auto-timeout", type=float, default=900.0,
                   help="time limit of one auto fit in the accuracy table, seconds")
    p.add_argument("--memory-gb", type=float, default=12.0,
                   help="address-space limit of the child process of every fit (ours and "
                   "crowd-kit's)")
    p.add_argument("--skip-memory", action="store_true",
                   help="skip the 10M-answer memory measurement")
    p.add_argument("--data", default=os.environ.get("CROWDLEARN_DATA"),
                   help="data root with truth-inference/ (default: $CROWDLEARN_DATA)")
    p.add_argument("--json", default=None, metavar="OUT", help="also save the numbers as JSON")
    p.add_argument("--cache", default=None, metavar="DIR",
                   help="accuracy section: keep the labels of our fits in DIR and reuse them on "
                   "the next run (per data set, strategy and seed)")
    p.add_argument("--_memory-child", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.seeds is None:
        args.seeds = 1 if args.quick else 3
    if args.peer_timeout is None:
        args.peer_timeout = 60.0 if args.quick else 600.0
    if args.ours_timeout is None:
        args.ours_timeout = 20.0 if args.quick else 120.0
    if args.crowd_peer_timeout is None:
        args.crowd_peer_timeout = 30.0 if args.quick else 60.0
    return args


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items() if k != "labels"}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args._memory_child:
        _memory_child(args._memory_child)
        return 0
    names = strategy_names(args.strategies)
    peers = None if args.no_peers else PeerCache(args.peer_timeout, args.memory_gb)
    data_root = Path(args.data) if args.data else None
    if data_root is not None and not data_root.is_dir():
        log(f"data folder {data_root} not found: real-data sections skipped")
        data_root = None
    started = time.perf_counter()
    report: dict[str, Any] = {
        "strategies": names, "quick": args.quick, "seeds": args.seeds,
        "peer_timeout": args.peer_timeout, "crowd_peer_timeout": args.crowd_peer_timeout,
    }
    print(f"crowdlearn aggregation benchmark: strategies {', '.join(names)}"
          f"{'' if peers else ' (crowd-kit not run)'}\n")
    if args.only in (None, "speed"):
        t0 = time.perf_counter()
        report["speed"] = bench_speed(args, names, peers, data_root)
        report["speed_seconds"] = time.perf_counter() - t0
        print(f"(speed section: {report['speed_seconds']:.0f} s)\n")
    if args.only in (None, "em-speed"):
        report["em_speed"] = bench_em_speed(args, peers, data_root)
    if args.only in (None, "accuracy"):
        if data_root is None:
            print("Accuracy: skipped (set CROWDLEARN_DATA or --data to the data root)\n")
        else:
            t0 = time.perf_counter()
            report["accuracy"] = bench_accuracy(args, names, peers, data_root)
            report["accuracy_seconds"] = time.perf_counter() - t0
            print(f"(accuracy section: {report['accuracy_seconds']:.0f} s)\n")
    if args.only in (None, "simulated"):
        t0 = time.perf_counter()
        report["simulated"] = bench_default_simulated(names)
        report["simulated_seconds"] = time.perf_counter() - t0
        print(f"(simulated section: {report['simulated_seconds']:.0f} s)\n")
    report["total_seconds"] = time.perf_counter() - started
    print(f"total time {report['total_seconds']:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(_jsonable(report), indent=1))
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
