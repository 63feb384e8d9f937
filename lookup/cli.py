"""The `lookup` command (SPEC.md 2): thin argparse front over the package.

Each command prints a one-line summary on success (`--json`: a machine-readable one) and exits
0 on success, 1 on a runtime failure, 2 on a usage error, with a message that says what to do.
A runtime failure is one line on stderr, and with `--json` also `{"error": {"code", "message",
...}}` on stdout; a full disk or another refusal of the OS says which disk and how much room
(lookup.failures).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from lookup.errors import IdError, LookupServiceError
from lookup.failures import Failure, build_space, explain
from lookup.ingest.parallel import MAX_JOBS, MIN_SPLIT
from lookup.store import DataDir, default_data_dir

if TYPE_CHECKING:
    from lookup.service.clients import ClientStore

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
        # `details`: what a script needs beside the message (a rejected file's bad rows).
        return _failed(args, Failure("failed", str(exc), getattr(exc, "details", {})))
    except Exception as exc:
        # A full disk, a read-only file system, an I/O error, from the OS or from LMDB: one
        # line that says which disk and how much room, not a traceback (SPEC 2).
        where, data_dir = _written_under(args)
        failure = explain(exc, where, _space_needed(args), data_dir=data_dir)
        if failure is None:
            raise
        if args.command in ("build", "apply", "pull"):  # publishing is the last, atomic step
            failure = replace(failure, message=f"{failure.message}; nothing was published")
        return _failed(args, failure)
    except KeyboardInterrupt:
        print(f"lookup {args.command}: interrupted; nothing was published", file=sys.stderr)
        return 1
    if result is not None and getattr(args, "json", False):
        sys.stdout.buffer.write(orjson.dumps(result) + b"\n")
    elif line:
        print(line)
    return 0


def _failed(args: argparse.Namespace, failure: Failure) -> int:
    """Say why the command failed on stderr (and as a JSON error on stdout with --json)."""
    print(f"lookup {args.command}: {failure.message}", file=sys.stderr)
    if getattr(args, "json", False):
        sys.stdout.buffer.write(orjson.dumps(failure.json()) + b"\n")
    return 1


def _written_under(args: argparse.Namespace) -> tuple[Path, bool]:
    """Return the directory whose disk a command fills, and whether it is the data directory.

    synth writes its files where --out says; every other command writes in the data directory.
    """
    if args.command == "synth":
        return Path(args.out).absolute().parent, False
    return Path(args.data), True


def _space_needed(args: argparse.Namespace) -> int | None:
    return build_space(args.extract) if args.command == "build" else None


class _UsageError(Exception):
    pass


class _Failed(LookupServiceError):
    pass


# -- commands -------------------------------------------------------------------------------
def cmd_synth(args: argparse.Namespace) -> tuple[Any, str]:
    from lookup.synth import synthesize

    if args.delta and not args.changes:
        raise _UsageError("--delta needs --changes N")
    summary = synthesize(
        args.out,
        args.rows,
        seed=args.seed,
        as_of=args.as_of,
        population=args.population,
        mismatch_rate=args.mismatch_rate,
        delta=args.delta,
        changes=args.changes or 0,
        invalid_rate=args.invalid_rate,
        facilities=args.facilities,
    )
    extra = "".join(
        f", {k} {summary[k]}" for k in ("population", "delta", "facilities") if summary.get(k)
    )
    return summary, f"wrote {args.rows:,} rows to {args.out} in {summary['seconds']:.1f}s{extra}"


def cmd_build(args: argparse.Namespace) -> tuple[Any, str]:
    from lookup.ingest.build import build
    from lookup.progress import Progress

    summary = build(
        _data(args),
        args.extract,
        rejects_path=args.rejects,
        max_reject_ratio=args.max_reject_ratio,
        jobs=args.jobs,
        progress=Progress(),
    )
    rejected = (
        f", {summary['rejected']:,} rejected (see {summary['rejects_file']})"
        if summary["rejected"]
        else ""
    )
    return summary, (
        f"published snapshot {summary['snapshot']}: {summary['published']:,} people"
        f"{rejected}, {summary['seconds']:.1f}s"
    )


def cmd_apply(args: argparse.Namespace) -> tuple[Any, str]:
    from lookup.ingest.delta import apply_delta

    s = apply_delta(_data(args), args.delta)
    return s, (
        f"published snapshot {s['snapshot']} (from {s['parent']}): {s['added']:,} added, "
        f"{s['changed']:,} changed, {s['deleted']:,} deleted"
    )


def cmd_reconcile(args: argparse.Namespace) -> tuple[Any, str]:
    from lookup.progress import Progress
    from lookup.sync.reconcile import reconcile

    summary = reconcile(
        _data(args),
        args.population,
        report=args.out,
        corrections=args.corrections,
        jobs=args.jobs,
        progress=Progress(),
    )
    shares = ", ".join(
        f"{status} {each['count']:,} ({each['pct']:g}%)"
        for status, each in summary["statuses"].items()
        if each["count"]
    )
    fixes = f"; corrections in {summary['corrections']}" if summary["corrections"] else ""
    return summary, (
        f"reconciled {summary['population_rows']:,} register rows with snapshot "
        f"{summary['snapshot']}: {shares or 'nothing'}; report in {summary['report']}{fixes}"
    )


def cmd_get(args: argparse.Namespace) -> tuple[Any, str]:
    from lookup.clock import parse_date
    from lookup.query import Entitlements

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


def cmd_push(args: argparse.Namespace) -> tuple[Any, str]:
    from lookup.store.remote import push

    s = push(_data(args), args.url)
    return s, (
        f"pushed snapshot {s['snapshot']} to {s['url']}: {s['files']} file(s), "
        f"{s['uploaded_bytes']:,} of {s['bytes']:,} bytes uploaded"
    )


def cmd_pull(args: argparse.Namespace) -> tuple[Any, str]:
    from lookup.store.remote import describe_pull, pull, pull_every

    if args.every is not None:  # a sidecar: runs until stopped
        pull_every(_data(args), args.url, args.every, keep=args.keep, as_json=args.json)
    s = pull(_data(args), args.url, keep=args.keep)
    return s, describe_pull(s)


def cmd_keys_add(args: argparse.Namespace) -> tuple[Any, str]:
    from lookup.service.clients import InvalidClient

    if (args.username is None) != (args.password is None):
        raise _UsageError("--username and --password go together (the client's gateway login)")
    try:
        key = _clients(args).add(
            args.name,
            args.scopes.split(","),
            username=args.username,
            password=args.password,
            rate_per_s=args.rate,
            burst=args.burst,
        )
    except InvalidClient as exc:
        raise _UsageError(str(exc)) from None
    client = next(c for c in _clients(args).list() if c["name"] == args.name)
    # The key goes to stdout alone (a script captures it with $(...)); it is never shown again.
    return dict(client, key=key), key


def cmd_keys_list(args: argparse.Namespace) -> tuple[Any, str]:
    clients = _clients(args).list()
    if args.json:
        return clients, ""
    for c in clients:
        rate = "unlimited" if not c["rate_per_s"] else f"{c['rate_per_s']:g}/s burst {c['burst']}"
        login = f"  gateway {c['gateway_username']}" if c["gateway_username"] else ""
        state = f"revoked {c['revoked_at']}" if c["revoked_at"] else "active"
        print(
            f"{c['name']:20} {c['key_prefix']}…  {','.join(c['scopes']):24} {rate:20} "
            f"{state}{login}"
        )
    active = sum(1 for c in clients if not c["revoked_at"])
    return None, f"{len(clients)} client(s), {active} active"


def cmd_keys_revoke(args: argparse.Namespace) -> tuple[Any, str]:
    _clients(args).revoke(args.name)
    return {"revoked": args.name}, f"revoked {args.name}; running workers refuse its key within 1 s"


def cmd_facilities_import(args: argparse.Namespace) -> tuple[Any, str]:
    from lookup.facilities.importer import import_registry

    s = import_registry(args.data, args.file)
    levels = ", ".join(f"{n:,} {level}" for level, n in s["levels"].items() if n)
    return s, (
        f"imported facility registry {s['version']}: {s['facilities']:,} facilities ({levels}),"
        f" {s['officers']:,} officers at {s['facilities_with_officers']:,} of them; serving"
        " workers switch within 1 s"
    )


def cmd_facilities_list(args: argparse.Namespace) -> tuple[Any, str]:
    from lookup.facilities import Registry

    registry = Registry.load(args.data)
    if registry is None:
        if args.json:
            return {"version": None, "facilities": []}, ""
        return None, f"no facility registry in {args.data}; `lookup facilities import FILE`"
    entries = registry.entries()
    if args.json:  # officers are counted, never shown: their CCCDs are not even stored
        return {"version": registry.version, "facilities": [e._asdict() for e in entries]}, ""
    for e in entries:
        officers = "officer " if e.officers == 1 else "officers"
        print(f"{e.code}  {e.province}  {e.level:10}  {e.officers:>4} {officers}  {e.name}")
    with_officers = sum(1 for e in entries if e.officers)
    return None, (
        f"{len(entries):,} facilities, {with_officers:,} with registered officers "
        f"(registry {registry.version})"
    )


def cmd_serve(args: argparse.Namespace) -> tuple[Any, str]:
    from lookup.service.limits import ConnectionLimits
    from lookup.service.supervisor import serve

    status = serve(
        args.data,
        host=args.host,
        port=args.port,
        workers=args.workers,
        audit_fsync=args.audit_fsync,
        metrics=args.metrics,
        limits=ConnectionLimits(
            keepalive_timeout=args.keepalive_timeout,
            header_timeout=args.header_timeout,
            body_timeout=args.body_timeout,
            max_connections=args.max_connections,
        ),
    )
    if status:
        raise _Failed("workers had to be killed: they did not stop within the drain timeout")
    return {"stopped": True}, "stopped: every worker drained and exited"


def cmd_demo(args: argparse.Namespace) -> tuple[Any, str]:
    from lookup.demo import demo

    demo(args.data, host=args.host, port=args.port, workers=args.workers, rows=args.rows)
    return {"stopped": True}, "demo stopped"


def _clients(args: argparse.Namespace) -> ClientStore:  # imported lazily like the others
    from lookup.service.clients import ClientStore

    return ClientStore(args.data)


def _data(args: argparse.Namespace) -> DataDir:
    return DataDir(args.data)


# -- parser ---------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data",
        default=default_data_dir(),
        metavar="DIR",
        help="data directory (default: $LOOKUP_DATA or ./data)",
    )
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
    p.add_argument(
        "--as-of",
        type=_date,
        default=None,
        metavar="YYYY-MM-DD",
        help="date the card windows are laid around (default: today in Vietnam)",
    )
    p.add_argument("--population", metavar="FILE", help="also write a population extract")
    p.add_argument("--mismatch-rate", type=_ratio, default=0.02, metavar="R")
    p.add_argument("--delta", metavar="FILE", help="also write a delta against the extract")
    p.add_argument("--changes", type=_positive_int, metavar="N")
    p.add_argument(
        "--invalid-rate",
        type=_ratio,
        default=0.0,
        metavar="R",
        help="share of rows that deliberately break a rule",
    )
    p.add_argument(
        "--facilities",
        metavar="FILE",
        help="also write the facility registry (SPEC 1.4) whose codes the cards carry",
    )

    p = command("build", cmd_build, "build a snapshot from an extract and publish it")
    p.add_argument("extract", metavar="FILE")
    p.add_argument("--rejects", metavar="FILE", help="where to write rejected rows")
    p.add_argument("--max-reject-ratio", type=_ratio, default=0.001, metavar="R")
    p.add_argument(
        "--jobs",
        type=_positive_int,
        metavar="N",
        help="processes reading the extract (default: the CPUs available, at most "
        f"{MAX_JOBS}); a gzip extract, or one under {MIN_SPLIT // 2**20} MiB, is read by one",
    )

    p = command("apply", cmd_apply, "apply a delta to the current snapshot")
    p.add_argument("delta", metavar="DELTA")

    p = command(
        "reconcile",
        cmd_reconcile,
        "compare the population register's extract with the store (SPEC.md 4)",
    )
    p.add_argument("population", metavar="POPULATION", help="population extract CSV (.gz too)")
    p.add_argument(
        "--out",
        metavar="REPORT",
        help="report CSV (default: DATA/reports/reconcile-<snapshot>.csv)",
    )
    p.add_argument(
        "--corrections",
        metavar="DELTA",
        help="also write the delta that makes the store agree with the register",
    )
    p.add_argument(
        "--jobs",
        type=_positive_int,
        metavar="N",
        help="processes reading the population file (default: the CPUs available, at most "
        f"{MAX_JOBS}); a gzip file, or one under {MIN_SPLIT // 2**20} MiB, is read by one",
    )

    p = command("get", cmd_get, "print the entitlement JSON for one id")
    p.add_argument(
        "id", metavar="ID", help="CCCD (12 digits), social insurance number (10) or card code (15)"
    )
    p.add_argument("--date", metavar="YYYY-MM-DD", help="visit date (default: today in Vietnam)")
    p.add_argument("--facility", metavar="CODE", help="requesting facility, for in_route")

    command("snapshots", cmd_snapshots, "list snapshots")
    p = command("rollback", cmd_rollback, "make an older snapshot current")
    p.add_argument("snapshot", nargs="?", metavar="SNAPSHOT", help="default: the one before")
    p = command("prune", cmd_prune, "delete old snapshots")
    p.add_argument("--keep", type=_positive_int, required=True, metavar="N")
    p = command("push", cmd_push, "push the current snapshot to object storage (s3://, dir)")
    p.add_argument("url", metavar="URL")
    p = command("pull", cmd_pull, "fetch, check and publish the newest pushed snapshot")
    p.add_argument("url", metavar="URL", help="where `lookup push` wrote (s3://, http(s)://, dir)")
    p.add_argument("--every", type=_positive_float, metavar="S", help="pull again every S s")
    p.add_argument("--keep", type=_positive_int, metavar="N", help="then prune to N snapshots")

    keys = sub.add_parser("keys", help="manage API clients", description="manage API clients")
    keys_sub = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)

    def keys_command(name: str, handler: Handler, help: str) -> argparse.ArgumentParser:
        p = keys_sub.add_parser(name, parents=[common], help=help, description=help)
        p.set_defaults(handler=handler)
        return p

    from lookup.service.clients import DEFAULT_BURST, DEFAULT_RATE

    p = keys_command("add", cmd_keys_add, "add a client; prints its key, once")
    p.add_argument("name", metavar="NAME", help="who the client is, e.g. bv-bach-mai-his")
    p.add_argument("--scopes", required=True, metavar="S[,S...]", help="his, vneid, batch, admin")
    p.add_argument("--username", metavar="U", help="gateway login (DOMAIN 5), e.g. 01832_BV")
    p.add_argument("--password", metavar="P", help="gateway password (stored as a salted hash)")
    p.add_argument(
        "--rate",
        type=_non_negative_float,
        default=DEFAULT_RATE,
        metavar="R",
        help=f"requests per second, 0 = unlimited (default {DEFAULT_RATE:g})",
    )
    p.add_argument(
        "--burst",
        type=_positive_int,
        default=DEFAULT_BURST,
        metavar="B",
        help=f"requests allowed at once above the rate (default {DEFAULT_BURST})",
    )
    keys_command("list", cmd_keys_list, "list clients (never their keys)")
    p = keys_command("revoke", cmd_keys_revoke, "revoke a client's key")
    p.add_argument("name", metavar="NAME")

    _facilities_commands(sub, common)

    p = command("serve", cmd_serve, "serve the HTTP API")
    _serve_options(p)
    p.add_argument(
        "--audit-fsync",
        choices=("never", "interval", "always"),
        default="interval",
        help="when audit records reach the disk: never (page cache only), interval "
        "(within 1 s, default) or always (before each answer)",
    )
    p.add_argument(
        "--no-metrics",
        dest="metrics",
        action="store_false",
        help="serve without /metrics counters (to measure what they cost)",
    )
    _limit_options(p)
    p = command("demo", cmd_demo, "synthesise data, build, create a demo key and serve")
    _serve_options(p)
    p.add_argument("--rows", type=_positive_int, default=200_000, help=argparse.SUPPRESS)
    return parser


def _facilities_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    what = "the facility registry (SPEC.md 1.4): names, levels, officers for the gateway check"
    facilities = sub.add_parser("facilities", help=what, description=what)
    actions = facilities.add_subparsers(dest="facilities_command", metavar="ACTION", required=True)
    p = actions.add_parser(
        "import",
        parents=[common],
        help="check a registry CSV whole and make it the registry (all or nothing)",
    )
    p.add_argument(
        "file",
        metavar="FILE",
        help="facility_code,name,province,level[,officer_cccd,officer_name] (.gz too)",
    )
    p.set_defaults(handler=cmd_facilities_import)
    p = actions.add_parser(
        "list", parents=[common], help="list the registered facilities (never their officers)"
    )
    p.set_defaults(handler=cmd_facilities_list)


def _serve_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", metavar="H", help="default 127.0.0.1")
    p.add_argument("--port", type=_port, default=8080, metavar="P", help="default 8080")
    p.add_argument(
        "--workers",
        type=_positive_int,
        default=None,
        metavar="N",
        help="worker processes (default: one per core)",
    )


def _limit_options(p: argparse.ArgumentParser) -> None:
    from lookup.service.limits import ConnectionLimits

    d = ConnectionLimits()
    p.add_argument(
        "--max-connections",
        type=_positive_int,
        default=d.max_connections,
        metavar="N",
        help="connections per worker; at N the longest idle are closed to make room (default "
        f"{d.max_connections}, lowered to fit the open-file limit)",
    )
    for name, default, what in (
        ("keepalive-timeout", d.keepalive_timeout, "an idle keep-alive connection stays open"),
        ("header-timeout", d.header_timeout, "a request's headers may take to arrive"),
        ("body-timeout", d.body_timeout, "a request body may take to arrive (then 408)"),
    ):
        p.add_argument(
            f"--{name}",
            type=_positive_float,
            default=default,
            metavar="S",
            help=f"seconds {what} (default {default:g})",
        )


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be 0-65535: {text!r}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0.0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 or more: {text!r}")
    return value


def _positive_float(text: str) -> float:
    value = _non_negative_float(text)
    if value == 0.0:
        raise argparse.ArgumentTypeError(f"must be more than 0: {text!r}")
    return value


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
