"""The people leaf index (core/leafindex.pxd): a descent that starts at the leaf the index names
finds exactly what LMDB's own mdb_get finds, whatever the spread of the keys."""

from __future__ import annotations

import tempfile

import lmdb
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lookup.reference import record

DAY = 20260615

RECORD = record.encode(
    record.Record(
        gender="female",
        status="active",
        managed_by="vss",
        region_code=None,
        dob=19850412,
        valid_from=20260101,
        valid_to=20261231,
        five_year_date=None,
        prev_valid_to=None,
        card_no="DN4010100000001",
        facility_code="01832",
        prev_card_no=None,
        full_name="Trần Thị Bình",
        address="Số 7, phố Huế, Hà Nội",
        issuer=None,
    )
)

# Clumps of consecutive CCCDs (as people are: a province, a century and sex, a birth year)
# spread over the whole 12-digit range, with gaps between them of every size.
_CLUMPS = st.lists(
    st.tuples(st.integers(0, 999_999_000_000), st.integers(1, 700), st.integers(1, 40)),
    min_size=1,
    max_size=8,
)


def _write(directory: str, cccds: list[int]) -> int:
    env = lmdb.open(directory, map_size=1 << 26, max_dbs=4, lock=False)
    with env.begin(write=True) as txn:
        people = env.open_db(b"people", txn=txn)
        for cccd in cccds:
            txn.put(record.cccd_key(f"{cccd:012d}"), RECORD, db=people)
        env.open_db(b"bhxh", txn=txn)
        env.open_db(b"cards", txn=txn)
        txn.put(b"manifest", b'{"id": "spread"}', db=env.open_db(b"meta", txn=txn))
        depth = txn.stat(people)["depth"]
    env.close()
    return depth


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clumps=_CLUMPS, data=st.data())
def test_indexed_descents_find_what_mdb_get_finds(compiled, clumps, data):
    cccds = sorted({start + i * step for start, count, step in clumps for i in range(count)})
    present = data.draw(st.lists(st.sampled_from(cccds), max_size=200))
    near = [c + d for c in present[:50] for d in (-1, 1)]
    edges = [0, 1, cccds[0] - 1, cccds[-1] + 1, 999_999_999_999]
    asked = [f"{c:012d}" for c in present + near + edges if 0 <= c <= 999_999_999_999]
    with tempfile.TemporaryDirectory() as directory:
        depth = _write(directory, cccds)
        with (
            compiled.reader.SnapshotReader(directory) as indexed,
            compiled.reader.SnapshotReader(directory) as api,
        ):
            # A tree with branch pages has its leaves indexed; a lone leaf needs no index.
            assert (indexed._people_leaf_index > 1) == (depth > 1)
            api._use_lmdb_api()
            body, codes, counts = indexed.answer_batch(asked, DAY)
            assert (body, codes, counts) == api.answer_batch(asked, DAY)
            for one in asked[:20]:
                assert indexed.answer(one, DAY) == api.answer(one, DAY)
    # Not vacuous: the people there are found (000), the others not (050).
    found = {f"{c:012d}" for c in cccds}
    expected = ["000" if one in found else "050" for one in asked]
    assert orjson.loads(codes) == expected
    assert counts == {code: expected.count(code) for code in set(expected)}
