"""`lookup demo` (SPEC.md 2): from an empty machine to a served API with curl lines to paste.

Every step is skipped when its result is already there, so a second `lookup demo` starts at once:
the synthetic extract (`DATA/demo-extract.csv.gz`), the snapshot, the facility registry whose
codes its cards name (`DATA/demo-facilities.csv`, imported: answers name the facility), and the
demo client, which is made anew each time (keys are shown only once) while the previous demo
client is revoked. The gateway example asks as one of the officers the registry names for the
demo login's facility, when it names any (else 054 would answer).
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import re
import shlex
import sys
from pathlib import Path
from typing import TextIO

from lookup.clock import today_in_vietnam
from lookup.service.clients import ClientStore, md5_hex
from lookup.store import DataDir
from lookup.store.manifest import read_manifest

__all__ = ("curl_lines", "demo")

EXTRACT = "demo-extract.csv.gz"
REGISTRY = "demo-facilities.csv"
ROWS = 200_000
SEED = 2024
SCOPES = ("his", "vneid", "batch", "admin")
GATEWAY_USER = "01832_BV"  # DOMAIN.md 5: a facility code (here Bạch Mai) + "_BV"
GATEWAY_PASSWORD = "demo"
DEMO_NAME = re.compile(r"demo-[0-9]+")
# The officer doing a gateway check (DOMAIN.md 5, required since 2024-08-01); made up.
OFFICER_NAME = "Trần Thị Demo"
OFFICER_CCCD = "001190000001"


def demo(
    data_dir: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int | None = None,
    rows: int = ROWS,
    out: TextIO | None = None,
) -> None:
    """Synthesise, build, make a demo key, serve and print ready-to-paste curl lines."""
    from lookup.facilities.importer import import_registry
    from lookup.facilities.storage import RegistryStore
    from lookup.ingest.build import build
    from lookup.progress import Progress
    from lookup.service.supervisor import serve
    from lookup.synth import synthesize, write_registry

    out = out or sys.stdout
    data = DataDir(data_dir)
    data.root.mkdir(parents=True, exist_ok=True)
    extract = data.root / EXTRACT
    if not extract.exists():
        say(out, f"synthesising {rows:,} people into {extract}")
        # Written under another name first: an interrupted demo never leaves half an extract
        # that the next run would take for a whole one.
        partial = extract.with_name("demo-extract.partial.csv.gz")
        synthesize(str(partial), rows, seed=SEED)
        os.replace(partial, extract)
    registry = data.root / REGISTRY
    if not registry.exists():
        partial = registry.with_name("demo-facilities.partial.csv")
        write_registry(str(partial), SEED)  # the seed's: the extract's cards name its codes
        os.replace(partial, registry)
    if RegistryStore(data.root).current_version() is None:
        say(out, f"importing the facility registry {registry}")
        import_registry(data.root, str(registry))
    if data.current_id() is None:
        say(out, f"building a snapshot from {extract}")
        build(data, str(extract), progress=Progress())
    else:
        source = str((read_manifest(data.current_path()) or {}).get("source", ""))
        if not source.endswith(EXTRACT):
            say(
                out,
                f"note: serving the existing snapshot {data.current_id()}, not built from "
                f"{EXTRACT}; the example ids below may answer 050",
            )
    key = _demo_client(data.root)
    examples = pick_examples(extract)
    examples["officer"] = pick_officer(registry, GATEWAY_USER[:5])

    def ready(host: str, port: int) -> None:
        out.write("\n" + "\n".join(curl_lines(_base_url(host, port), key, examples)) + "\n\n")
        out.flush()
        say(out, "Ctrl-C stops the demo")

    serve(str(data.root), host=host, port=port, workers=workers, on_ready=ready, out=out)


def say(out: TextIO, line: str) -> None:
    print(line, file=out, flush=True)


def _demo_client(root: Path) -> str:
    """Revoke the previous demo client and make a new one; return its key."""
    clients = ClientStore(root)
    taken = [c["name"] for c in clients.list()]
    for c in clients.list():
        if DEMO_NAME.fullmatch(c["name"]) and not c["revoked_at"]:
            clients.revoke(c["name"])
    n = 1 + max((int(name[5:]) for name in taken if DEMO_NAME.fullmatch(name)), default=0)
    return clients.add(
        f"demo-{n}", SCOPES, username=GATEWAY_USER, password=GATEWAY_PASSWORD, rate_per_s=0
    )


def pick_examples(extract: Path, scan: int = 5000) -> dict[str, dict[str, str]]:
    """Return two real rows of the extract: `valid` (a plain card valid today) and `other`."""
    today = today_in_vietnam().isoformat()
    found: dict[str, dict[str, str]] = {}
    opener = gzip.open if extract.name.endswith(".gz") else open
    with opener(extract, "rt", encoding="utf-8", newline="") as f:
        for n, row in enumerate(csv.DictReader(f)):
            plain = (
                row.get("status", "active") in ("", "active")
                and row.get("managed_by", "vss") in ("", "vss")
                and not row["card_no"].startswith("TE")  # no child-age rule (SPEC 3.1 step 6)
                and row["valid_from"] <= today <= row["valid_to"]
            )
            if plain and "valid" not in found:
                found["valid"] = row
            elif "other" not in found:
                found["other"] = row
            if len(found) == 2 or n >= scan:
                break
    if "valid" not in found:
        raise ValueError(f"{extract}: no row with a card valid today in its first {scan} rows")
    found.setdefault("other", found["valid"])
    return found


def pick_officer(registry: Path, facility: str) -> dict[str, str]:
    """Return an officer the registry names for `facility` (the gateway checks them: 054/055),
    or a made-up one when it names none."""
    with open(registry, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            if row["facility_code"] == facility and row.get("officer_cccd"):
                return {"cccd": row["officer_cccd"], "name": row["officer_name"]}
    return {"cccd": OFFICER_CCCD, "name": OFFICER_NAME}


def _base_url(host: str, port: int) -> str:
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def curl_lines(base: str, key: str, examples: dict[str, dict[str, str]]) -> list[str]:
    """Return commented, ready-to-paste curl commands for every endpoint (SPEC.md 3)."""
    valid, other = examples["valid"], examples["other"]
    officer = examples.get("officer", {"cccd": OFFICER_CCCD, "name": OFFICER_NAME})
    auth = f"-H 'Authorization: Bearer {key}'"
    md5 = md5_hex(GATEWAY_PASSWORD)
    ids = [valid["cccd"], other["card_no"], valid["bhxh_code"], "000000000000", "12-34"]
    batch = shlex.quote(json.dumps({"ids": ids}))
    token = f"curl -s -X POST {base}/api/token/take -d username={GATEWAY_USER} -d password={md5}"
    field = 'python3 -c \'import json,sys; print(json.load(sys.stdin)["APIKey"]["%s"])\''
    check = " ".join(
        [
            f'curl -s -X POST "{base}/api/egw/KQNhanLichSuKCB2024?token=$TOKEN&id_token=$ID_TOKEN'
            f'&username={GATEWAY_USER}&password={md5}"',
            *(
                f"--data-urlencode {shlex.quote(f'{name}={value}')}"
                for name, value in (
                    ("maThe", valid["card_no"]),
                    ("hoTen", valid["full_name"]),
                    ("ngaySinh", _gateway_date(valid["dob"])),
                    ("hoTenCb", officer["name"]),
                    ("cccdCb", officer["cccd"]),
                )
            ),
        ]
    )
    return [
        f"# demo client key (scopes {', '.join(SCOPES)}; shown once, used below): {key}",
        "# one entitlement by CCCD, then by card code (with the visit date and facility):",
        f"curl -s {auth} {base}/v1/entitlements/{valid['cccd']}",
        f"curl -s {auth} '{base}/v1/entitlements/{other['card_no']}"
        f"?date={today_in_vietnam().isoformat()}&facility={valid['facility_code']}'",
        "# a batch (one unknown and one malformed id among them):",
        f"curl -s {auth} -H 'Content-Type: application/json' -d {batch} "
        f"{base}/v1/entitlements/batch",
        "# the card as the VNeID app shows it:",
        f"curl -s {auth} {base}/v1/vneid/cards/{valid['cccd']}",
        f"# the VSS gateway's card check (DOMAIN.md 5): login {GATEWAY_USER} / "
        f"{GATEWAY_PASSWORD}, MD5 as HIS software sends it:",
        f"{token}",
        f"TOKEN_JSON=$({token})",
        f'TOKEN=$(echo "$TOKEN_JSON" | {field % "access_token"})',
        f'ID_TOKEN=$(echo "$TOKEN_JSON" | {field % "id_token"})',
        check,
        "# liveness, readiness, metrics, API description:",
        f"curl -s {base}/healthz",
        f"curl -s {base}/readyz",
        f"curl -s {auth} {base}/metrics",
        f"curl -s {base}/openapi.json",
        f"# and open {base}/docs in a browser",
    ]


def _gateway_date(dob: str) -> str:
    """Return a stored birth date the way the gateway is asked (dd/MM/yyyy, MM/yyyy or yyyy)."""
    parts = dob.split("-")
    return "/".join(reversed(parts))
