"""The `lookup` command (SPEC.md 2): thin argparse front over the package.

Each command prints a one-line summary on success (`--json`: a machine-readable one) and exits
0 on success, 1 on a runtime failure, 2 on a usage error, with a message that says what to do.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import orjson

from lookup.errors import IdError, LookupServiceError
from lookup.store import DataDir, default_data_dir

Handler = Callable[[argparse.Namespace], tuple[Any, str]]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        result, line = args.handler(args)
    except _UsageError as exc:
        parser.error(str(exc))  # exits 2
    except LookupServiceError as exc:
        print(f"lookup {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"lookup {args.command}: interrupted; nothing was published", file=sys.stderr)
        return 1
    if result is not None and getattr(args, "json", False):
        sys.stdout.buffer.write(orjson.dumps(result) + b"\n")
    elif line:
        print(line)
    return 0


class _UsageError(Exception):
    pass


# -- commands -------------------------------------------------------------------------------
def cmd_synth(args: argparse.Namespace) -> tuple[Any, str]:
    from lookup.synth import synthesize

    if args.delta and not args.changes:
        raise _UsageError("--delta needs --changes N")
    summary = synthesize(
        args.out, args.rows, seed=args.seed, as_of=args.as_of, population=args.population,
        mismatch_rate=args.mismatch_rate, delta=args.delta, changes=args.changes or 0,
        invalid_rate=args.invalid_rate,
    )  # fmt: skip
    extra = "".join(
        f", {what} {summary[key]}" for key, what in (("population", "population"), ("delta", "delta"))
        if summary.get(key)
    )  # fmt: skip
    return summary, f"wrote {args.rows:,} rows to {args.out} in {summary['seconds']:.1f}s{extra}"


def cmd_build(args: argparse.Namespace) -> tuple[Any, str]:
    from lookup.build import build
    from lookup.progress import Progress

    summary = build(
        _data(args), args.extract, rejects_path=args.rejects,
        max_reject_ratio=args.max_reject_ratio, progress=Progress(),
    )  # fmt: skip
    rejected = f", {summary['rejected']:,} rejected (see {summary['rejects_file']})" if summary[
        "rejected"] else ""  # fmt: skip
    return summary, (
        f"published snapshot {summary['snapshot']}: {summary['published']:,} people"
        f"{rejected}, {summary['seconds']:.1f}s"
    )


def cmd_apply(args: argparse.Namespace) -> tuple[Any, str]:
    from lookup.delta import apply_delta

    s = apply_delta(_data(args), args.delta)
    return s, (
        f"published snapshot {s['snapshot']} (from {s['parent']}): {s['added']:,} added, "
        f"{s['changed']:,} changed, {s['deleted']:,} deleted"
    )


def cmd_get(args: argparse.Namespace) -> tuple[Any, str]:
    from lookup.entitlements import Entitlements, parse_date

    try:
        day = parse_date(args.date) if args.date else None
        with Entitlements.open_current(_data(args)) as entitlements:
            body = entitlements.answer(args.id, day, args.facility)
    except IdError as exc:  # --date or --facility; a malformed ID is an answer (205)
        raise _UsageError(str(exc)) from None
    sys.stdout.buffer.write(body + b"\n")
    return None, ""


def cmd_snapshots(args: argparse.Namespace) -> tuple[Any, str]:
    snapshots = _data(args).list()
    if args.json:
        return [dict(s.manifest, current=s.current) for s in snapshots], ""
    for s in snapshots:
        m = s.manifest
        print(
            f"{'*' if s.current else ' '} {s.id}  {m.get('kind', '?'):5}  "
            f"{m.get('published', 0):>12,} people  {m.get('created_at', '')}"
        )
    return None, f"{len(snapshots)} snapshot(s); * marks the current one"


def cmd_rollback(args: argparse.Namespace) -> tuple[Any, str]:
    data = _data(args)
    with data.writer():
        target = data.rollback(args.snapshot)
    return {"current": target.id}, f"current snapshot is now {target.id}"


def cmd_prune(args: argparse.Namespace) -> tuple[Any, str]:
    data = _data(args)
    with data.writer():
        deleted = data.prune(args.keep)
    return {"deleted": deleted}, f"deleted {len(deleted)} snapshot(s)"


def _data(args: argparse.Namespace) -> DataDir:
    return DataDir(args.data)


# -- parser ---------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data", default=default_data_dir(), metavar="DIR",
        help="data directory (default: $LOOKUP_DATA or ./data)",
    )  # fmt: skip
    common.add_argument("--json", action="store_true", help="print a machine-readable summary")

    parser = argparse.ArgumentParser(
        prog="lookup", description="Vietnam health insurance entitlement lookup"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, handler: Handler, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help, description=help)
        p.set_defaults(handler=handler)
        return p

    p = command("synth", cmd_synth, "write a realistic synthetic extract")
    p.add_argument("--rows", type=_positive_int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, metavar="FILE", help="extract CSV (.csv.gz: gzip)")
    p.add_argument("--as-of", type=_date, default=None, metavar="YYYY-MM-DD",
                   help="date the card windows are laid around (default: today in Vietnam)")
    p.add_argument("--population", metavar="FILE", help="also write a population extract")
    p.add_argument("--mismatch-rate", type=_ratio, default=0.02, metavar="R")
    p.add_argument("--delta", metavar="FILE", help="also write a delta against the extract")
    p.add_argument("--changes", type=_positive_int, metavar="N")
    p.add_argument("--invalid-rate", type=_ratio, default=0.0, metavar="R",
                   help="share of rows that deliberately break a rule")

    p = command("build", cmd_build, "build a snapshot from an extract and publish it")
    p.add_argument("extract", metavar="FILE")
    p.add_argument("--rejects", metavar="FILE", help="where to write rejected rows")
    p.add_argument("--max-reject-ratio", type=_ratio, default=0.001, metavar="R")

    p = command("apply", cmd_apply, "apply a delta to the current snapshot")
    p.add_argument("delta", metavar="DELTA")

    p = command("get", cmd_get, "print the entitlement JSON for one id")
    p.add_argument("id", metavar="ID", help="CCCD (12 digits), social insurance number (10) or card code (15)")
    p.add_argument("--date", metavar="YYYY-MM-DD", help="visit date (default: today in Vietnam)")
    p.add_argument("--facility", metavar="CODE", help="requesting facility, for in_route")

    command("snapshots", cmd_snapshots, "list snapshots")
    p = command("rollback", cmd_rollback, "make an older snapshot current")
    p.add_argument("snapshot", nargs="?", metavar="SNAPSHOT", help="default: the one before")
    p = command("prune", cmd_prune, "delete old snapshots")
    p.add_argument("--keep", type=_positive_int, required=True, metavar="N")
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def _ratio(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1: {text!r}")
    return value


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from None
