"""Outputs that must not change by accident: the bytes `lookup synth` writes for a seed, and the
snapshot and rejects file `lookup build` makes of them.

The digests were recorded from the code before the package was reorganised into subpackages
(61b9002) and held across it. A change that means to change these outputs (a new record format,
a new synthetic rule) updates them in the same commit and says why. Updated since: when synth
began spoiling insured records (at `--mismatch-rate`, 2% by default) and writing the register
as the truth, with a `death_date` column (lookup.synth.register); and when data format 2 stopped
indexing the card codes bhxh finds by their last 10 digits, and began storing version-2
records with a string table (DESIGN 4); and when the build's data-quality summary began checking
card codes (group, level, province, ministry: the manifest's `data_quality`); and when synth's
cards began naming the facilities of its registry (`--facilities`, SPEC 1.4), cards issued since
2025-07-01 the 2025 map (new province codes, addresses without district), and its children
came about 112 boys to 100 girls; and when the string table began taking only an address's
administrative parts (a lane before the commune stays the person's own); and when the build
began numbering the string table's texts in the order of the lines that first hold them (it
compacts records as it reads them), not in CCCD order: the same texts, other numbers.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import lmdb
import orjson

SYNTH = ["--rows", "3000", "--seed", "7", "--as-of", "2026-06-01"]
DIGESTS = {
    "extract": "24c4f39c2daf2f498f8fbe221b480e47c22834899c763dd55eda7442dc599e87",
    "population": "bc95b9e1dc8baded51868eeaf5bb82e1316bdc306cd0370d30a4cb381993579e",
    "delta": "5ab08e733aebacdd190884a14ca2b2e7bc7b440cc3e9560c051b596dd9a66fd3",
    "snapshot": "20ca7901f9ac1ca643e13b424cbd219e1b2fe5dddde2f51fe30ffa05f1667ab9",
    "rejects": "e80fd23f40888bc9a3bdb011a59595fe197163ac40be4260b4f00ec26c7d177f",
}
# What a manifest says that does not depend on when or where the snapshot was built.
STABLE_MANIFEST = ("format", "kind", "rows", "rejected", "published", "data_quality", "entries")


def lookup(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "lookup", *args], check=True, capture_output=True)


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot_digest(path: Path) -> str:
    """Hash every key and value of the snapshot's people and indexes, and its manifest's stable
    part (the `meta` db holds only the snapshot's identity: its id, time and source)."""
    digest = hashlib.sha256()
    with lmdb.open(str(path), readonly=True, lock=False, max_dbs=8) as env:
        for name in (b"people", b"bhxh", b"cards"):
            db = env.open_db(name, create=False)
            with env.begin(db=db) as txn:
                for key, value in txn.cursor():
                    digest.update(len(key).to_bytes(2, "big") + key)
                    digest.update(len(value).to_bytes(4, "big") + value)
    manifest = orjson.loads((path / "manifest.json").read_bytes())
    stable = {name: manifest[name] for name in STABLE_MANIFEST}
    digest.update(orjson.dumps(stable, option=orjson.OPT_SORT_KEYS))
    return digest.hexdigest()


def outputs(folder: Path) -> dict[str, str]:
    """Synthesise, build, and return the digests of everything made."""
    extract, population, delta = folder / "x.csv", folder / "p.csv", folder / "d.csv"
    lookup("synth", *SYNTH, "--out", str(extract), "--invalid-rate", "0.002")
    lookup(
        "synth",
        *SYNTH,
        "--out",
        str(folder / "x2.csv"),
        "--population",
        str(population),
        "--mismatch-rate",
        "0.02",
        "--delta",
        str(delta),
        "--changes",
        "50",
    )
    data = folder / "data"
    lookup("build", str(extract), "--data", str(data), "--jobs", "1", "--max-reject-ratio", "0.01")
    (snapshot,) = (data / "snapshots").iterdir()
    (rejects,) = (data / "rejects").iterdir()
    return {
        "extract": file_digest(extract),
        "population": file_digest(population),
        "delta": file_digest(delta),
        "snapshot": snapshot_digest(snapshot),
        "rejects": file_digest(rejects),
    }


def test_synth_and_build_give_the_recorded_outputs(tmp_path):
    assert outputs(tmp_path) == DIGESTS


if __name__ == "__main__":  # print the digests of this checkout (to record them on purpose)
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        print(orjson.dumps(outputs(Path(folder)), option=orjson.OPT_INDENT_2).decode())
