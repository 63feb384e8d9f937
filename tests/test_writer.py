"""SnapshotWriter and check_cards: compiled and reference write the same contents and find the
same card codes held twice."""

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
        runs: list[tuple[bytes, list[bytes]]] = []
        with impl.writer.SnapshotWriter(str(path), 1 << 24) as writer:
            written = writer.append(
                b"people",
                iter(items),
                skip=skip,
                shared=lambda k, vs, runs=runs: runs.append((k, vs)),
            )
        results.append((written, runs, dump(path).get(b"people", [])))
    assert results[0] == results[1]
    written, runs, stored = results[0]
    by_key: dict[bytes, list[bytes]] = {}
    for k, v in items:
        by_key.setdefault(k, []).append(v)
    assert runs == [(k, vs) for k, vs in by_key.items() if len(vs) > 1]
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
    """append() given a sorter's items() reads its entries in C; the same entries as a list
    through the reference give the same store and runs."""
    items = sorted(((key(k), v) for k, v in pairs), key=lambda kv: kv[0])  # stable: as merged
    skip = {key(k) for k in skipped}
    results = []
    for impl in (compiled, reference):
        path = tmp_path_factory.mktemp(impl.kind)
        runs: list[tuple[bytes, list[bytes]]] = []
        with merged(compiled, path, items, memory) as sorter:
            source = sorter.items() if impl is compiled else iter(items)
            with impl.writer.SnapshotWriter(str(path / "db"), 1 << 24) as writer:
                try:
                    written = writer.append(
                        b"people",
                        source,
                        skip=skip,
                        skip_by_value=by_value,
                        shared=(lambda k, vs, runs=runs: runs.append((k, vs)))
                        if with_shared
                        else None,
                    )
                except ValueError as exc:  # equal keys without shared
                    written = str(exc)
        results.append((written, runs, dump(path / "db").get(b"people", [])))
    assert results[0] == results[1]


def test_a_merge_with_equal_keys_and_no_shared_is_refused(compiled, tmp_path):
    with merged(compiled, tmp_path, [(key(1), b"a" * 8), (key(1), b"b" * 8)], 64) as sorter:
        with compiled.writer.SnapshotWriter(str(tmp_path / "db"), 1 << 24) as writer:
            with pytest.raises(ValueError, match="increasing order"):
                writer.append(b"people", sorter.items())


def test_delete_removes_what_is_there_and_counts_it(compiled, reference, tmp_path):
    items = [(key(n), b"v" * 20) for n in range(2000)]
    doomed = [key(n) for n in (0, 5, 1999, 2500)]  # 2500 was never written
    for impl in (compiled, reference):
        with impl.writer.SnapshotWriter(str(tmp_path / impl.kind), 1 << 24) as writer:
            writer.append(b"people", items)
            assert writer.delete(b"people", doomed) == 3
            assert writer.delete(b"people", doomed) == 0
    stored = dump(tmp_path / "compiled")
    assert stored == dump(tmp_path / "python")
    assert [k for k, _ in stored[b"people"]] == [k for k, _ in items if k not in doomed]


# --- check_cards: card codes held twice, found as bhxh goes by ---------------------------------
HEAD_BITS = 19


def card(number: int, head: int) -> bytes:
    return (number << HEAD_BITS | head).to_bytes(8, "big")


def tag(line: int) -> bytes:
    return line.to_bytes(4, "little") + b"\x00"


# A row: its CCCD, the number its card ends in and the card's head, and maybe a previous code
# (its number and head). Few numbers and heads, so that codes are often held twice.
ROWS = st.lists(
    st.tuples(
        st.integers(0, 5),
        st.integers(0, 4),
        st.integers(0, 2),
        st.none() | st.tuples(st.integers(0, 5), st.integers(0, 2)),
    ),
    max_size=25,
)


@settings(max_examples=200, deadline=None)
@given(ROWS, st.sets(st.integers(0, 5)), MEMORY_LIMITS)
def test_check_cards_finds_every_code_held_twice(
    compiled, reference, tmp_path_factory, rows, rejected, memory
):
    """Both twins pass bhxh through unchanged and find the same groups: every code (current:
    a bhxh entry's number and head; previous: a cards entry) held by more than one row, with
    the rows' tags, which code and their own numbers; and the entries of rejected CCCDs."""
    bhxh, cards = [], []
    for line, (cccd, number, head, previous) in enumerate(rows, start=2):
        bhxh.append((key(number), key(cccd) + tag(line) + head.to_bytes(3, "big")))
        if previous is not None:
            cards.append((card(*previous), key(cccd) + tag(line) + key(number)))
    bhxh.sort(key=lambda kv: kv[0])
    cards.sort(key=lambda kv: kv[0])
    rejected_keys = {key(n) for n in rejected}
    results = []
    for impl in (compiled, reference):
        path = tmp_path_factory.mktemp(impl.kind)
        with merged(compiled, path, bhxh, memory) as b, merged(compiled, path, cards, memory) as c:
            if impl is compiled:
                check = impl.writer.check_cards(b.items(), c.items(), rejected_keys)
            else:
                check = impl.writer.check_cards(iter(bhxh), iter(cards), rejected_keys)
            passed = list(check)
        results.append((passed, check.groups, check.rejected_entries))
    assert results[0] == results[1]
    passed, groups, rejected_entries = results[0]
    assert passed == bhxh
    assert rejected_entries == [v for _, v in bhxh if v[:8] in rejected_keys]
    codes: dict[bytes, list[bytes]] = {}
    for k, v in bhxh:
        codes.setdefault(card(int.from_bytes(k, "big"), int.from_bytes(v[13:], "big")), [])
        codes[card(int.from_bytes(k, "big"), int.from_bytes(v[13:], "big"))].append(
            v[:13] + b"\x00" + k
        )
    for k, v in cards:
        codes.setdefault(k, []).append(v[:13] + b"\x01" + v[13:])
    assert groups == [
        (reference.csvrows.card_code(k), ms) for k, ms in sorted(codes.items()) if len(ms) > 1
    ]


def test_check_cards_through_append_writes_every_entry(compiled, tmp_path):
    """The writer pulls a compiled check in C, and the check sees every entry it wrote."""
    bhxh = [(key(n), key(n) + tag(n) + b"\x00\x00\x01") for n in range(3)]
    cards = [(card(1, 1), key(7) + tag(9) + key(4))]  # row 7's previous code is row 1's card
    with (
        merged(compiled, tmp_path, bhxh, 64) as b,
        merged(compiled, tmp_path, cards, 64) as c,
        compiled.writer.SnapshotWriter(str(tmp_path / "db"), 1 << 24) as writer,
    ):
        check = compiled.writer.check_cards(b.items(), c.items())
        assert writer.append(b"people", check, value_size=8) == 3
    assert check.groups == [
        (
            b"AA1010000000001",
            [key(1) + tag(1) + b"\x00" + key(1), key(7) + tag(9) + b"\x01" + key(4)],
        )
    ]
