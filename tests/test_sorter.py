"""The build's external merge sorter, on both implementations, and their agreement."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def entries_strategy(key_size: int):
    # Few distinct key bytes, so that ties (the stability cases) are common.
    key = st.binary(min_size=key_size, max_size=key_size).map(
        lambda b: bytes(x % 3 for x in b)
    ) | st.binary(min_size=key_size, max_size=key_size)
    return st.lists(st.tuples(key, st.binary(max_size=40)), max_size=300)


def sort_all(impl, tmp_path, key_size, entries, memory_limit):
    with impl.sorter.ExternalSorter(key_size, str(tmp_path), memory_limit) as sorter:
        for key, value in entries:
            sorter.add(key, value)
        assert len(sorter) == len(entries)
        first = list(sorter.items())
        assert list(sorter.items()) == first  # items() reads the runs again
    return first


@SETTINGS
@given(
    key_size=st.sampled_from([1, 3, 8, 9, 15, 16, 17, 24]),
    data=st.data(),
    memory_limit=st.sampled_from([0, 100, 2000, 2**20]),
)
def test_items_is_a_stable_sort(impl, tmp_path_factory, key_size, data, memory_limit):
    entries = data.draw(entries_strategy(key_size))
    tmp = tmp_path_factory.mktemp("sort")
    got = sort_all(impl, tmp, key_size, entries, memory_limit)
    # sorted() is stable: equal keys keep the order they were added in.
    assert got == sorted(entries, key=lambda e: e[0])
    assert os.listdir(tmp) == []


@SETTINGS
@given(data=st.data(), memory_limit=st.sampled_from([0, 300, 5000]))
def test_compiled_and_reference_agree(compiled, reference, tmp_path_factory, data, memory_limit):
    entries = data.draw(entries_strategy(8))
    tmp = tmp_path_factory.mktemp("sort")
    assert sort_all(compiled, tmp, 8, entries, memory_limit) == sort_all(
        reference, tmp, 8, entries, memory_limit
    )


def test_many_runs_and_equal_keys(impl, tmp_path):
    # 1000 entries, one run each at memory_limit 0: more runs than the compiled sorter keeps open.
    entries = [((i * 7919 % 13).to_bytes(8, "big"), str(i).encode()) for i in range(1000)]
    assert sort_all(impl, tmp_path, 8, entries, 0) == sorted(entries, key=lambda e: e[0])


def test_spills_to_run_files(impl, tmp_path):
    with impl.sorter.ExternalSorter(8, str(tmp_path), memory_limit=4096) as sorter:
        for i in range(200):
            sorter.add((199 - i).to_bytes(8, "big"), b"v" * 100)
        files = [f for _, _, names in os.walk(tmp_path) for f in names]
        assert files, "nothing was spilled"
        assert [k for k, _ in sorter.items()] == [i.to_bytes(8, "big") for i in range(200)]
    assert os.listdir(tmp_path) == []


def test_add_after_items_and_empty(impl, tmp_path):
    with impl.sorter.ExternalSorter(2, str(tmp_path), memory_limit=0) as sorter:
        assert list(sorter.items()) == []
        sorter.add(b"bb", b"1")
        assert list(sorter.items()) == [(b"bb", b"1")]
        sorter.add(b"aa", b"2")
        sorter.add(b"bb", b"3")
        assert list(sorter.items()) == [(b"aa", b"2"), (b"bb", b"1"), (b"bb", b"3")]


@pytest.mark.parametrize("key", [b"", b"1234567", b"123456789"])
def test_bad_key_size(impl, tmp_path, key):
    with impl.sorter.ExternalSorter(8, str(tmp_path)) as sorter:
        with pytest.raises(ValueError, match=rf"^key: {len(key)} bytes; this sorter sorts 8-byte"):
            sorter.add(key, b"value")
        assert len(sorter) == 0


def test_bad_types(impl, tmp_path):
    with impl.sorter.ExternalSorter(2, str(tmp_path)) as sorter:
        with pytest.raises(TypeError):
            sorter.add("ab", b"")
        with pytest.raises(TypeError):
            sorter.add(b"ab", None)


def test_bad_key_size_argument(impl, tmp_path):
    with pytest.raises(ValueError, match="key_size: 0; must be positive"):
        impl.sorter.ExternalSorter(0, str(tmp_path))


def test_close_removes_files(impl, tmp_path):
    sorter = impl.sorter.ExternalSorter(8, str(tmp_path), memory_limit=0)
    for i in range(10):
        sorter.add(i.to_bytes(8, "big"), b"x")
    assert os.listdir(tmp_path)
    sorter.close()
    assert os.listdir(tmp_path) == []
    sorter.close()  # twice is fine
    with pytest.raises(ValueError, match="^sorter: closed$"):
        sorter.add(b"12345678", b"")
    with pytest.raises(ValueError, match="^sorter: closed$"):
        sorter.items()


def test_changes_during_iteration(compiled, tmp_path):
    # The compiled iterator reads the sorter's buffer in place: it must refuse, not crash.
    with compiled.sorter.ExternalSorter(1, str(tmp_path)) as sorter:
        sorter.add(b"a", b"1")
        sorter.add(b"b", b"2")
        items = sorter.items()
        assert next(items) == (b"a", b"1")
        sorter.add(b"c", b"3")
        with pytest.raises(RuntimeError, match="changed during iteration"):
            next(items)
        items = sorter.items()
        sorter.close()
        with pytest.raises(RuntimeError, match="changed during iteration"):
            next(items)


def test_large_values(impl, tmp_path):
    big = os.urandom(3 << 20)  # larger than the compiled sorter's first arena and I/O buffers
    entries = [(b"b", big), (b"a", b""), (b"b", big[::-1])]
    assert sort_all(impl, tmp_path, 1, entries, 1 << 20) == [entries[1], entries[0], entries[2]]


def test_compiled_sorter_is_compiled(compiled):
    assert compiled.sorter.__file__.endswith((".so", ".pyd"))


@SETTINGS
@given(
    data=st.data(),
    memory_limit=st.sampled_from([0, 300, 2**20]),
    buffered=st.booleans(),
    flushed=st.booleans(),
)
def test_adopted_runs_merge_after_own_entries(
    impl, tmp_path_factory, data, memory_limit, buffered, flushed
):
    # A build worker's sorter hands its runs over to the parent's, which must give what one sorter
    # fed every entry in order gives: ties keep the adopter's entries first, whether the adopter
    # flushed its buffer before (as the build does while it waits) or adopt() writes it.
    first, second, third = (data.draw(entries_strategy(8)) for _ in range(3))
    tmp = tmp_path_factory.mktemp("sort")
    with (
        impl.sorter.ExternalSorter(8, str(tmp), memory_limit if buffered else 0) as adopter,
        impl.sorter.ExternalSorter(8, str(tmp), memory_limit) as worker,
    ):
        for key, value in first:
            adopter.add(key, value)
        for key, value in second:
            worker.add(key, value)
        entries, paths = worker.hand_over()
        assert entries == len(second)
        if flushed:
            adopter.flush()
            assert len(adopter) == len(first)
        adopter.adopt(entries, paths)
        for key, value in third:  # and it goes on adding (the build reads on after a bad cut)
            adopter.add(key, value)
        assert len(adopter) == len(first) + len(second) + len(third)
        assert list(adopter.items()) == sorted(first + second + third, key=lambda e: e[0])
    assert [names for _, _, names in os.walk(tmp) if names] == []  # the runs went with adopter


def test_hand_over_closes_and_leaves_the_runs(impl, tmp_path):
    sorter = impl.sorter.ExternalSorter(2, str(tmp_path), memory_limit=0)
    sorter.add(b"bb", b"1")
    sorter.add(b"aa", b"2")
    entries, paths = sorter.hand_over()
    assert entries == 2 and all(os.path.exists(path) for path in paths)
    sorter.close()  # closed already; the runs stay for an adopter
    assert all(os.path.exists(path) for path in paths)
    with pytest.raises(ValueError, match="^sorter: closed$"):
        sorter.add(b"cc", b"")
    with impl.sorter.ExternalSorter(2, str(tmp_path)) as adopter:
        adopter.adopt(entries, paths)
        assert list(adopter.items()) == [(b"aa", b"2"), (b"bb", b"1")]
        assert not any(os.path.exists(path) for path in paths)  # moved into its folder


def test_hand_over_of_an_empty_sorter(impl, tmp_path):
    with impl.sorter.ExternalSorter(8, str(tmp_path)) as adopter:
        adopter.add(b"12345678", b"x")
        adopter.adopt(*impl.sorter.ExternalSorter(8, str(tmp_path)).hand_over())
        assert list(adopter.items()) == [(b"12345678", b"x")] and len(adopter) == 1


@SETTINGS
@given(data=st.data(), memory_limit=st.sampled_from([0, 300, 2**20]))
def test_a_run_written_elsewhere_is_read_where_it_is(
    compiled, reference, tmp_path_factory, data, memory_limit
):
    """write_run (core/writer) writes a merge as a run; a sorter adopt()s it without moving it
    (move=False: the build streams merges through a pipe so), reads it, and leaves it."""
    entries = data.draw(entries_strategy(8))
    tmp = tmp_path_factory.mktemp("sort")
    runs = {}
    with compiled.sorter.ExternalSorter(8, str(tmp), memory_limit) as merged:
        for key, value in entries:
            merged.add(key, value)
        for impl in (compiled, reference):
            runs[impl.kind] = tmp / f"{impl.kind}.run"
            # The compiled write_run reads a sorter's merge in place; the reference iterates.
            assert impl.writer.write_run(merged.items(), str(runs[impl.kind])) == len(entries)
    assert runs["compiled"].read_bytes() == runs["python"].read_bytes()
    listed = tmp / "listed.run"  # the compiled write_run of plain pairs
    in_order = sorted(entries, key=lambda e: e[0])
    assert compiled.writer.write_run(iter(in_order), str(listed)) == len(entries)
    assert listed.read_bytes() == runs["compiled"].read_bytes()
    for impl in (compiled, reference):
        with impl.sorter.ExternalSorter(8, str(tmp), memory_limit) as sorter:
            sorter.adopt(len(entries), [str(runs[impl.kind])], move=False)
            assert len(sorter) == len(entries)
            assert list(sorter.items()) == in_order
        assert runs[impl.kind].exists()
