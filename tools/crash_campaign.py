"""Kill `lookup build`, `apply`, `rollback` and `prune` with SIGKILL at random moments and check,
after every kill, that the data directory is as DESIGN promises (docs/ROBUSTNESS.md).

    python -m tools.crash_campaign [--kills 100] [--people 60000] [--seed S] [--workdir DIR]

After each kill: CURRENT names a published snapshot that opens and answers; every directory
under snapshots/ is a whole snapshot (a manifest, no partial one visible); and every published
snapshot answers, for every id of every person the campaign ever wrote (CCCD, social insurance
number, card code, previous card code: present, changed or deleted), exactly what a fresh build
of the rows it should hold answers. Then the killed command is run again, uninterrupted, and
must succeed. tests/test_crash_campaign.py runs a short campaign; the full run's figures are in
docs/ROBUSTNESS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from lookup.ingest.build import build
from lookup.query import Entitlements
from lookup.store import DataDir
from lookup.store.manifest import read_manifest
from tools.sample_rows import COLUMNS, DELTA_COLUMNS, person, write_rows

__all__ = ("Campaign", "CampaignBroken", "main")

BIN = Path(sys.executable).parent
COMMANDS = ("build", "apply", "rollback", "prune")
DAY = date(2026, 6, 1)  # the date every answer is asked for: answers depend on nothing else
Content = dict[int, int]  # person number -> version of their row (tools.sample_rows.person)


class CampaignBroken(AssertionError):
    """A check failed: the data directory is not as a crash should leave it."""


@dataclass
class Figures:
    kills: Counter[str] = field(default_factory=Counter)  # per command
    outcomes: Counter[str] = field(default_factory=Counter)  # "build: published" ...
    finished_first: Counter[str] = field(default_factory=Counter)  # ended before the kill
    snapshots_verified: int = 0
    answers_compared: int = 0
    references_built: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        """Return the figures as the lines docs/ROBUSTNESS.md quotes."""
        lines = [
            f"kills: {sum(self.kills.values())} "
            + ", ".join(f"{c} {self.kills[c]}" for c in COMMANDS),
            "outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items())),
            "finished before the kill (not counted): "
            + ", ".join(f"{c} {self.finished_first[c]}" for c in COMMANDS),
            f"snapshot verifications: {self.snapshots_verified}, answers compared: "
            f"{self.answers_compared:,}, reference builds: {self.references_built}",
            f"seconds: {self.seconds:.0f}",
        ]
        return "\n".join(lines)


class Campaign:
    """One data directory, the rows each of its snapshots should hold, and the kills."""

    def __init__(self, workdir: Path, people: int, seed: int) -> None:
        self.work = workdir
        self.data = DataDir(workdir / "data")
        self.rng = random.Random(seed)
        self.people = people
        # New persons come from a reserved range, so every id the campaign can ever ask about
        # is known at the start and the reference answers can be cached by content.
        self.universe = range(people + people // 5)
        self.ids = [i for n in self.universe for i in _ids(person(n))]
        self.extracts: dict[str, Content] = {}
        self.deltas: dict[str, tuple[dict[int, int], set[int]]] = {}  # upserts, deletes
        self.contents: dict[str, Content] = {}  # snapshot id -> what it should hold
        self.reference: dict[str, str] = {}  # content digest -> digest of its answers
        self.figures = Figures()
        self.durations: dict[str, list[float]] = {c: [] for c in COMMANDS}
        self.startup = 0.0
        self._write_extracts()

    # -- the data ------------------------------------------------------------------------
    def _write_extracts(self) -> None:
        first = dict.fromkeys(range(self.people), 0)
        second = {n: 2 for n in range(self.people) if n % 11}  # a month later: some left
        for name, content in (("first.csv", first), ("second.csv", second)):
            path = self.work / name
            write_rows(path, (person(n, v) for n, v in sorted(content.items())), COLUMNS)
            self.extracts[str(path)] = content

    def _new_delta(self) -> str:
        """Write a delta against the current snapshot's rows: changes, deletions, new persons."""
        current = self.contents[self._current()]
        present = sorted(current)
        touched = self.rng.sample(present, min(len(present), max(20, self.people // 50)))
        cut = len(touched) * 4 // 5
        absent = [n for n in self.universe if n not in current]
        upserts = {n: current[n] + 1 for n in touched[:cut]}
        upserts |= {n: 0 for n in self.rng.sample(absent, min(len(absent), len(touched) // 4))}
        deletes = set(touched[cut:])
        rows = [{"op": "upsert", **person(n, v)} for n, v in upserts.items()]
        rows += [{"op": "delete", "cccd": person(n)["cccd"]} for n in deletes]
        self.rng.shuffle(rows)
        path = self.work / f"delta-{len(self.deltas)}.csv"
        write_rows(path, rows, DELTA_COLUMNS)
        self.deltas[str(path)] = (upserts, deletes)
        return str(path)

    # -- commands --------------------------------------------------------------------------
    def _current(self) -> str:
        current = self.data.current_id()
        if current is None:
            raise CampaignBroken("CURRENT is missing after the first build")
        return current

    def _args(self, command: str) -> list[str] | None:
        """Return the arguments of a run of `command` here, None when it has nothing to do."""
        snapshots = [s.id for s in self.data.list()]
        if command == "build":
            args = ["build", self.rng.choice(sorted(self.extracts))]
            return args + (["--jobs", "2"] if self.rng.random() < 0.5 else [])
        if command == "apply":
            return ["apply", self._new_delta()]
        if command == "rollback":
            others = [s for s in snapshots if s != self._current()]
            return ["rollback", self.rng.choice(others)] if others else None
        return ["prune", "--keep", str(self.rng.choice((2, 3)))]

    def _start(self, args: list[str]) -> subprocess.Popen[bytes]:
        env = {**os.environ, "LOOKUP_BUILD_MIN_SPLIT": "1"}  # --jobs 2 splits even this file
        return subprocess.Popen(
            [str(BIN / "lookup"), *args, "--data", str(self.data.root)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )

    def run(self, args: list[str]) -> None:
        """Run a command to its end; it must succeed."""
        started = time.monotonic()
        proc = self._start(args)
        _, stderr = proc.communicate()
        if proc.returncode != 0:
            raise CampaignBroken(f"lookup {' '.join(args)} failed: {stderr.decode()}")
        self.durations[args[0]].append(time.monotonic() - started)

    def kill_one(self, command: str) -> bool:
        """Start `command`, SIGKILL it at a random moment, check; return whether it was killed."""
        args = self._args(command)
        if args is None:
            return False
        before_current, before = self._current(), {s.id for s in self.data.list()}
        # A moment from the end of the interpreter's start-up to the end of a typical run:
        # kills before the command does anything teach nothing.
        typical = sorted(self.durations[command])[len(self.durations[command]) // 2]
        delay = self.rng.uniform(0.8 * self.startup, 1.05 * max(typical, self.startup))
        proc = self._start(args)
        time.sleep(delay)
        if proc.poll() is not None:
            proc.communicate()
            self.figures.finished_first[command] += 1
            killed = False
        else:
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
            killed = True
            self.figures.kills[command] += 1
            self._outcome(command, before_current, before)
        self.verify(everything=True)
        self.run(self._args(command) or ["snapshots"])  # the next command succeeds
        self.verify(everything=False)
        return killed

    def _outcome(self, command: str, before_current: str, before: set[str]) -> None:
        after = {s.id for s in self.data.list()}
        if command in ("build", "apply"):
            what = "published" if after - before else "nothing published"
        elif command == "rollback":
            what = "switched" if self._current() != before_current else "not switched"
        else:
            what = "deleted some" if before - after else "deleted none"
        self.figures.outcomes[f"{command}: {what}"] += 1

    # -- checks ----------------------------------------------------------------------------
    def verify(self, *, everything: bool) -> None:
        """Check CURRENT and every published snapshot (or only those not checked yet)."""
        current = self._current()
        if not (self.data.snapshots / current / "manifest.json").exists():
            raise CampaignBroken(f"CURRENT names {current}, which is not published")
        with Entitlements(str(self.data.snapshots / current)) as answers:
            if b'"result":{"code":"100"' in answers.answer(person(1)["cccd"], DAY):
                raise CampaignBroken(f"the current snapshot {current} does not answer")
        for name in sorted(os.listdir(self.data.snapshots)):
            manifest = read_manifest(self.data.snapshots / name)
            if manifest is None:
                raise CampaignBroken(f"snapshots/{name} is visible without its manifest")
            if name not in self.contents:
                self.contents[name] = self._expected(manifest)
            elif not everything:
                continue
            self._compare(name)
        published = set(os.listdir(self.data.snapshots))  # forget what prune deleted
        self.contents = {k: v for k, v in self.contents.items() if k in published}

    def _expected(self, manifest: dict[str, object]) -> Content:
        """Return the rows a newly seen snapshot should hold, from its source and parent."""
        source = str(manifest["source"])
        if manifest["kind"] == "build":
            return self.extracts[source]
        parent = self.contents[str(manifest["parent"])]  # seen when it was current
        upserts, deletes = self.deltas[source]
        return {n: v for n, v in parent.items() if n not in deletes} | upserts

    def _compare(self, name: str) -> None:
        content = self.contents[name]
        key = hashlib.sha256(repr(sorted(content.items())).encode()).hexdigest()
        if key not in self.reference:
            self.reference[key] = self._reference_digest(content)
        got = _answers_digest(self.data.snapshots / name, self.ids)
        self.figures.snapshots_verified += 1
        self.figures.answers_compared += len(self.ids)
        if got != self.reference[key]:
            raise CampaignBroken(f"snapshot {name} does not answer as a fresh build of its rows")

    def _reference_digest(self, content: Content) -> str:
        folder = self.work / "reference"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        extract = folder / "rows.csv"
        write_rows(extract, (person(n, v) for n, v in sorted(content.items())), COLUMNS)
        reference = DataDir(folder / "data")
        build(reference, str(extract))
        self.figures.references_built += 1
        return _answers_digest(reference.current_path(), self.ids)

    # -- the campaign --------------------------------------------------------------------
    def calibrate(self) -> None:
        """Run every command once to its end, timing it (and the interpreter's start-up)."""
        started = time.monotonic()
        subprocess.run([str(BIN / "lookup"), "--help"], capture_output=True, check=True)
        self.startup = time.monotonic() - started
        self.run(["build", sorted(self.extracts)[0]])
        self.verify(everything=True)
        for command in COMMANDS:
            self.run(self._args(command) or ["snapshots"])
            self.verify(everything=False)

    def campaign(self, kills: int, each: int = 0) -> Figures:
        """Kill commands in turn until `kills` of them were killed while running, each command
        at least `each` times (a quick one often finishes before its kill: it gets more turns)."""
        started = time.monotonic()
        self.calibrate()
        turn = 0
        while True:
            short = [c for c in COMMANDS if self.figures.kills.get(c, 0) < each]
            done = sum(self.figures.kills.values())
            if done >= kills and not short:
                break
            if turn > 50 * max(kills, len(COMMANDS) * each):
                raise CampaignBroken(f"{', '.join(short)}: always finished before its kill")
            self.kill_one(
                COMMANDS[turn % len(COMMANDS)] if done < kills else short[turn % len(short)]
            )
            turn += 1
        self.figures.seconds = time.monotonic() - started
        return self.figures


def _ids(row: dict[str, str]) -> list[str]:
    return [row["cccd"], row["bhxh_code"], row["card_no"], "DN479" + row["bhxh_code"]]


def _answers_digest(snapshot: Path, ids: list[str]) -> str:
    """Return a digest of a snapshot's answers to `ids`, its own id taken out of them."""
    with Entitlements(str(snapshot)) as answers:
        body = answers.answer_many(ids, DAY)
        own = f'"snapshot":"{answers.snapshot_id}"'.encode()
    return hashlib.sha256(body.replace(own, b'"snapshot":""')).hexdigest()


def main(argv: list[str] | None = None) -> int:
    """Run a crash campaign from the command line; exit 1 when a check fails."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--people", type=int, default=60000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, help="keep the data directory here")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="lookup-crash-"))
    workdir.mkdir(parents=True, exist_ok=True)
    campaign = Campaign(workdir, args.people, args.seed)
    try:
        figures = campaign.campaign(args.kills)
    except CampaignBroken as exc:
        print(f"crash campaign: BROKEN: {exc}\n{campaign.figures.summary()}", file=sys.stderr)
        return 1
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(figures.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
