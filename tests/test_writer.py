"""SnapshotWriter and equal_key_groups: compiled and reference write the same contents."""

from __future__ import annotations

import lmdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st


def dump(path) -> dict[bytes, list[tuple[bytes, bytes]]]:
    with lmdb.open(str(path), readonly=True, lock=False, max_dbs=4) as env:
        out = {}
        for name in (b"people", b"meta"):
            try:
                db = env.open_db(name, create=False)
            except lmdb.NotFoundError:
                continue
            with env.begin(db=db) as txn:
                out[name] = list(txn.cursor())
        return out


def key(n: int) -> bytes:
    return n.to_bytes(8, "big")


def test_append_truncates_skips_and_counts(impl, tmp_path):
    items = [(key(n), key(100 + n) + b"tag") for n in range(10)]
    with impl.writer.SnapshotWriter(str(tmp_path), 1 << 24) as writer:
        written = writer.append(
            b"people", iter(items), value_size=8, skip={key(103), key(1)}, skip_by_value=True
        )
        writer.put(b"meta", b"manifest", b"{}")
    assert written == 9  # key(1) is no value's prefix: only person 3 is skipped
    stored = dump(tmp_path)
    assert stored[b"people"] == [(k, v[:8]) for k, v in items if v[:8] != key(103)]
    assert stored[b"meta"] == [(b"manifest", b"{}")]


def test_skip_by_key(impl, tmp_path):
    with impl.writer.SnapshotWriter(str(tmp_path), 1 << 24) as writer:
        assert writer.append(b"people", [(key(1), b"a"), (key(2), b"b")], skip={key(2)}) == 1
    assert dump(tmp_path)[b"people"] == [(key(1), b"a")]


@pytest.mark.parametrize("items", [[(key(2), b"a"), (key(1), b"b")], [(key(1), b"a")] * 2])
def test_keys_out_of_order_are_refused(impl, tmp_path, items):
    with impl.writer.SnapshotWriter(str(tmp_path), 1 << 24) as writer:
        with pytest.raises(ValueError, match="increasing order"):
            writer.append(b"people", items)


def test_many_transactions_make_one_store(compiled, reference, tmp_path):
    items = [(key(n), n.to_bytes(4, "little") * 5) for n in range(1_100_000)]  # past COMMIT_EVERY
    for impl in (compiled, reference):
        with impl.writer.SnapshotWriter(str(tmp_path / impl.kind), 1 << 28) as writer:
            assert writer.append(b"people", items) == len(items)
    assert dump(tmp_path / "compiled") == dump(tmp_path / "python")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.binary(max_size=3)), max_size=30))
def test_equal_key_groups_agree(compiled, reference, pairs):
    items = sorted(((key(k), v) for k, v in pairs), key=lambda kv: kv[0])
    expected = list(reference.writer.equal_key_groups(items))
    assert list(compiled.writer.equal_key_groups(iter(items))) == expected
    by_key: dict[bytes, list[bytes]] = {}
    for k, v in items:
        by_key.setdefault(k, []).append(v)
    assert expected == [vs for vs in by_key.values() if len(vs) > 1]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 6), st.binary(min_size=8, max_size=10)), max_size=30),
    st.sets(st.integers(0, 6)),
)
def test_append_with_shared_keys_writes_the_unique_and_reports_the_rest(
    compiled, reference, tmp_path_factory, pairs, skipped
):
    """append(shared=...) is the bhxh write and check in one pass: a run of equal keys is not
    written and its values are reported, whatever the skips."""
    items = sorted(((key(k), v) for k, v in pairs), key=lambda kv: kv[0])
    skip = {key(k) for k in skipped}
    results = []
    for impl in (compiled, reference):
        path = tmp_path_factory.mktemp(impl.kind)
        runs: list[list[bytes]] = []
        with impl.writer.SnapshotWriter(str(path), 1 << 24) as writer:
            written = writer.append(b"people", iter(items), skip=skip, shared=runs.append)
        results.append((written, runs, dump(path).get(b"people", [])))
    assert results[0] == results[1]
    written, runs, stored = results[0]
    by_key: dict[bytes, list[bytes]] = {}
    for k, v in items:
        by_key.setdefault(k, []).append(v)
    assert runs == [vs for vs in by_key.values() if len(vs) > 1]
    assert stored == [(k, vs[0]) for k, vs in by_key.items() if len(vs) == 1 and k not in skip]
    assert written == len(stored)


def merged(compiled, directory, items, memory_limit):
    """A compiled sorter's merge of items (spilled in runs when memory_limit is small): what
    the build hands the writer, which then reads its entries in place."""
    sorter = compiled.sorter.ExternalSorter(8, str(directory), memory_limit)
    for k, v in items:
        sorter.add(k, v)
    return sorter


MEMORY_LIMITS = st.sampled_from([64, 300, 1 << 20])  # a run per entry or two, or none


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 6), st.binary(min_size=8, max_size=10)), max_size=30),
    st.sets(st.integers(0, 6)),
    st.booleans(),
    st.booleans(),
    MEMORY_LIMITS,
)
def test_a_merge_read_in_place_writes_what_the_reference_writes(
    compiled, reference, tmp_path_factory, pairs, skipped, by_value, with_shared, memory
):
    """append() and equal_key_groups() given a sorter's items() read its entries in C; the
    same entries as a list through the reference give the same store, runs and groups."""
    items = sorted(((key(k), v) for k, v in pairs), key=lambda kv: kv[0])  # stable: as merged
    skip = {key(k) for k in skipped}
    results = []
    for impl in (compiled, reference):
        path = tmp_path_factory.mktemp(impl.kind)
        runs: list[list[bytes]] = []
        with merged(compiled, path, items, memory) as sorter:
            source = sorter.items() if impl is compiled else iter(items)
            groups = list(impl.writer.equal_key_groups(source))
            source = sorter.items() if impl is compiled else iter(items)
            with impl.writer.SnapshotWriter(str(path / "db"), 1 << 24) as writer:
                try:
                    written = writer.append(
                        b"people",
                        source,
                        skip=skip,
                        skip_by_value=by_value,
                        shared=runs.append if with_shared else None,
                    )
                except ValueError as exc:  # equal keys without shared
                    written = str(exc)
        results.append((groups, written, runs, dump(path / "db").get(b"people", [])))
    assert results[0] == results[1]


def test_a_merge_with_equal_keys_and_no_shared_is_refused(compiled, tmp_path):
    with merged(compiled, tmp_path, [(key(1), b"a" * 8), (key(1), b"b" * 8)], 64) as sorter:
        with compiled.writer.SnapshotWriter(str(tmp_path / "db"), 1 << 24) as writer:
            with pytest.raises(ValueError, match="increasing order"):
                writer.append(b"people", sorter.items())
