"""Small pieces shared by the reader tests (test_reader.py, test_reader_agreement.py).

`person()` is a valid row with its own ids, `plain_record()` a record with nothing optional,
`pasted()` an id as a hospital pastes it, `ask()` one answer decoded, and `write_raw()` an LMDB
store written key by key, bypassing the build.
"""

from __future__ import annotations

import lmdb
import orjson

from lookup.reference import record

from helpers import rows as factory

DAY = 20260615  # inside the default 2026 card window


def person(n: int, group: str = "DN", level: str = "4", **overrides: str | None) -> dict:
    """A valid row for person number n: its own CCCD, social insurance number and card code."""
    bhxh = f"01{n:08d}"
    ids = {"cccd": f"001085{n:06d}", "bhxh_code": bhxh, "card_no": f"{group}{level}01{bhxh}"}
    return factory.make_row(**{**ids, **overrides})


def plain_record(card_no: str) -> bytes:
    """Encode the record of a man with a valid 2026 card, a one-word name and nothing optional."""
    return record.encode(
        record.Record(
            gender="male",
            status="active",
            managed_by="vss",
            region_code=None,
            dob=19850412,
            valid_from=20260101,
            valid_to=20261231,
            five_year_date=None,
            prev_valid_to=None,
            card_no=card_no,
            facility_code="01832",
            prev_card_no=None,
            full_name="An",
            address=None,
            issuer=None,
        )
    )


def pasted(code: str) -> str:
    """The id as a hospital pastes it: spaced out, lower case (DOMAIN 1)."""
    return " " + " ".join(code[i : i + 4] for i in range(0, len(code), 4)).lower() + "\t"


def ask(reader, id: str, date: int = DAY, facility: str | None = None) -> dict:
    return orjson.loads(reader.answer(id, date, facility))


def write_raw(
    directory, people=(), bhxh=(), cards=(), manifest=b'{"id": "raw"}', dbs=None, strings=None
):
    env = lmdb.open(str(directory), map_size=1 << 24, max_dbs=4, lock=False, lib_version=0)
    with env.begin(write=True) as txn:
        if strings is not None:
            txn.put(b"strings", strings, db=env.open_db(b"meta", txn=txn))
        for name, items in (("people", people), ("bhxh", bhxh), ("cards", cards)):
            if dbs is None or name in dbs:
                db = env.open_db(name.encode(), txn=txn)
                for key, value in items:
                    txn.put(key, value, db=db)
        if manifest is not None:
            txn.put(b"manifest", manifest, db=env.open_db(b"meta", txn=txn))
    env.close()
    return str(directory)
