"""Keyed id hashes for the audit log (core/idhash.pyx, lookup/reference/idhash.py): both
implementations give exactly what lookup/service/audit.py's hashlib formula gives, for any str (lone
surrogates, whitespace, lower case, ids spanning several 128-byte blocks, the empty id) and any
key of 1-64 bytes, and hash_ids_json gives orjson.dumps of the list byte for byte, whether the
compiled batch hashes four ids at once (AVX2) or one at a time."""

from __future__ import annotations

import hashlib
import itertools

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
KEY = bytes(range(32))

# lookup/service/audit.py's formula, written out independently of both implementations.
_FOLD = str.maketrans(
    {" ": None, "\t": None, "\r": None, "\n": None}
    | {chr(c): chr(c - 32) for c in range(ord("a"), ord("z") + 1)}
)


def oracle(key: bytes, id: str) -> str:
    folded = id.translate(_FOLD).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(folded, key=key, digest_size=16).hexdigest()


# Every code point, lone surrogates included (st.characters() leaves them out by default).
any_char = st.characters(exclude_categories=())
# Characters of each UTF-8 length, whitespace to delete and letters to fold, over-represented.
edge_char = st.sampled_from(
    " \t\r\n\x0b\x0c\xa0azAZ09`{@[-\x00\x7f\x80\xe9\xff\u0100\u07ff\u0800\u20ac"
    "\ud800\udbff\udc00\udfff\ufffd\uffff\U00010000\U0001f600\U0010ffff"
)
ids = st.one_of(
    st.text(any_char),
    st.text(edge_char),
    st.text(st.one_of(any_char, edge_char), min_size=40, max_size=400),  # several blocks
    st.text(st.sampled_from("0123456789 \t"), min_size=100, max_size=600),
)
keys = st.binary(min_size=1, max_size=64)


@pytest.fixture(scope="module")
def units(compiled, reference):
    return compiled.idhash, reference.idhash


@pytest.fixture(scope="module", params=["x4", "x1"])
def both(request, compiled, reference):
    """Both implementations, the compiled batch with four lanes (if the CPU has AVX2) or one."""
    before = compiled.idhash._x4()
    if compiled.idhash._x4(request.param == "x4") != (request.param == "x4"):
        pytest.skip("this CPU has no AVX2")
    yield compiled.idhash, reference.idhash
    compiled.idhash._x4(before)


@SETTINGS
@given(key=keys, id=ids)
@example(key=KEY, id="")
@example(key=KEY, id=" \t\r\n")
@example(key=b"k", id="001085012345")
@example(key=b"k" * 64, id="dn4 01 0112345678")
@example(key=KEY, id="\ud83d\ude00")  # a surrogate pair in a str stays two lone surrogates
def test_agree_with_hashlib(units, key, id):
    expected = oracle(key, id)
    for unit in units:
        assert unit.IdHasher(key).hash_id(id) == expected


@settings(SETTINGS, max_examples=100)
@given(key=keys, batch=st.lists(ids, max_size=8))
def test_json_agrees_with_orjson(both, key, batch):
    expected = orjson.dumps([oracle(key, id) for id in batch])
    for unit in both:
        hasher = unit.IdHasher(key)
        assert hasher.hash_ids_json(batch) == expected
        assert hasher.hash_ids_json(tuple(batch)) == expected
        assert hasher.hash_ids_json(iter(batch)) == expected


@pytest.mark.parametrize(
    "char",
    ["7", "a", " ", "\xe9", "\u20ac", "\udc80", "\U0001f600"],
    ids=["ascii", "folded", "dropped", "2-byte", "3-byte", "surrogate", "4-byte"],
)
def test_every_length_across_block_boundaries(impl, char):
    """Folded ids of 0 to 400 bytes: every place the message can end relative to 128-byte
    blocks, and multi-byte characters straddling a block's end at every offset."""
    hasher = impl.idhash.IdHasher(KEY)
    batch = []
    for n in range(0, 200):
        for id in (char * n, "1" + char * n, "12" + char * n, "123" + char * n):
            assert hasher.hash_id(id) == oracle(KEY, id), (char, len(id))
            batch.append(id)
    assert hasher.hash_ids_json(batch) == orjson.dumps([oracle(KEY, id) for id in batch])


def test_folding(impl):
    hasher = impl.idhash.IdHasher(KEY)
    assert hasher.hash_id(" 0010 8501\t2345\r\n") == hasher.hash_id("001085012345")
    assert hasher.hash_id("dn4010112345678") == hasher.hash_id("DN4010112345678")
    # Only ASCII a-z fold and only the four characters are dropped.
    assert hasher.hash_id("\xe9") != hasher.hash_id("\xc9")
    assert hasher.hash_id("1\xa02") != hasher.hash_id("12")
    assert hasher.hash_id("1\x0b2") != hasher.hash_id("12")
    assert hasher.hash_id("") == hasher.hash_id(" ") == oracle(KEY, "")


def test_output_shape(impl):
    digest = impl.idhash.IdHasher(KEY).hash_id("001085012345")
    assert type(digest) is str and len(digest) == 32
    assert set(digest) <= set("0123456789abcdef")
    assert impl.idhash.IdHasher(KEY).hash_ids_json([]) == b"[]"


def test_key_states_are_independent(impl):
    one, other = impl.idhash.IdHasher(b"one"), impl.idhash.IdHasher(b"other")
    assert one.hash_id("1") == oracle(b"one", "1")
    assert other.hash_id("1") == oracle(b"other", "1")
    assert one.hash_id("1") == oracle(b"one", "1")  # hashing does not advance the key state


def test_str_subclass_hashes_as_its_text(impl):
    class Id(str):
        def translate(self, table):  # never consulted
            return "nope"

        def encode(self, *args):
            return b"nope"

    hasher = impl.idhash.IdHasher(KEY)
    assert hasher.hash_id(Id(" ab1 ")) == oracle(KEY, "AB1")
    assert hasher.hash_ids_json([Id("ab1")]) == orjson.dumps([oracle(KEY, "AB1")])


@pytest.mark.parametrize("size", [0, 65, 128])
def test_bad_key_length(impl, size):
    with pytest.raises(ValueError, match=f"key must be 1 to 64 bytes, not {size}"):
        impl.idhash.IdHasher(b"k" * size)


@pytest.mark.parametrize("key", ["secret", bytearray(b"secret"), None, 5])
def test_key_must_be_bytes(impl, key):
    with pytest.raises(TypeError, match="key must be bytes, not"):
        impl.idhash.IdHasher(key)


@pytest.mark.parametrize("value", [None, 1, b"001085012345"])
def test_non_str_id(impl, value):
    with pytest.raises(TypeError, match=f"id must be str, not {type(value).__name__}"):
        impl.idhash.IdHasher(KEY).hash_id(value)


@pytest.mark.parametrize("container", [list, tuple, iter])
def test_non_str_item_names_its_index(impl, container):
    hasher = impl.idhash.IdHasher(KEY)
    with pytest.raises(TypeError, match=r"^ids\[2\] must be str, not int$"):
        hasher.hash_ids_json(container(["001085012345", "", 7, None]))
    with pytest.raises(TypeError, match=r"^ids\[0\] must be str, not bytes$"):
        hasher.hash_ids_json(container([b"001085012345"]))


def test_not_iterable(impl):
    with pytest.raises(TypeError):
        impl.idhash.IdHasher(KEY).hash_ids_json(5)


@pytest.mark.parametrize("size", [4999, 5000])
def test_large_batch(both, size):
    batch = [f"{n:012d}" for n in range(size)]
    expected = orjson.dumps([oracle(KEY, id) for id in batch])
    for unit in both:
        assert unit.IdHasher(KEY).hash_ids_json(batch) == expected


def test_batches_mixing_lengths(both):
    """Every mix of up to 5 ids of one block, none (folded empty) and several blocks, so the
    ids hashed alone fall between, before and after those hashed four at a time."""
    kinds = ["001085012345", " \t", "9" * 129, "\u20ac" * 43, "dn4010112345678"]
    hashes = {id: oracle(KEY, id) for id in kinds}
    hashers = [unit.IdHasher(KEY) for unit in both]
    for size in range(1, 6):
        for batch in itertools.product(kinds, repeat=size):
            expected = orjson.dumps([hashes[id] for id in batch])
            for hasher in hashers:
                assert hasher.hash_ids_json(list(batch)) == expected
