# distutils: sources = core/vendor/lmdb/mdb.c core/vendor/lmdb/midl.c
# distutils: include_dirs = core/vendor/lmdb
"""Write a new snapshot's LMDB environment from key-sorted items: the compiled twin of
lookup/reference/writer.py, writing the same store byte for byte.

The build hands each sorter's merged items straight to `SnapshotWriter.append`, which appends
them with mdb_cursor_put(MDB_APPEND) from C: no Python call per entry, every page full.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport uint8_t, uint32_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcmp, memcpy

from core.lmdb cimport (
    MDB_NOLOCK, MDB_SUCCESS, MDB_cursor, MDB_dbi, MDB_env, MDB_txn, MDB_val, mdb_cursor_close,
    mdb_cursor_open, mdb_dbi_open, mdb_env_close, mdb_env_create, mdb_env_open,
    mdb_env_set_mapsize, mdb_env_set_maxdbs, mdb_strerror, mdb_txn_abort, mdb_txn_begin,
)
from core.rules cimport RecordView, read_record
from core.lmdb_write cimport (
    MDB_APPEND, MDB_CREATE, MDB_KEYEXIST, MDB_NOMETASYNC, MDB_NOSYNC, mdb_cursor_put,
    mdb_env_sync, mdb_put, mdb_txn_commit,
)

import os

from lookup.schema import ADDRESS_UNITS

__all__ = ("SnapshotWriter", "compact_records", "equal_key_groups")

cdef Py_ssize_t COMMIT_EVERY = 1_000_000   # entries per transaction, as the reference
cdef Py_ssize_t KEY_SIZE = 8               # a CCCD key, the prefix of every index value


cdef int check(int rc, str what) except -1:
    if rc != MDB_SUCCESS:
        # LMDB's own codes are negative; a positive one is the errno (ENOSPC, EIO...).
        message = f"lmdb: {what}: {mdb_strerror(rc).decode()}"
        raise OSError(rc, message) if rc > 0 else OSError(message)
    return 0


cdef class SnapshotWriter


@cython.final
cdef class _Appender:
    """One database being appended to, in transactions of COMMIT_EVERY entries."""

    cdef MDB_env* env
    cdef MDB_txn* txn
    cdef MDB_cursor* cursor
    cdef MDB_dbi dbi
    cdef bytes name
    cdef Py_ssize_t value_size, in_txn
    cdef readonly Py_ssize_t written

    def __cinit__(self, SnapshotWriter writer, bytes name, Py_ssize_t value_size):
        self.env, self.name, self.value_size = writer.env, name, value_size
        self.begin()
        check(mdb_dbi_open(self.txn, name, MDB_CREATE, &self.dbi), f"open db {name!r}")
        check(mdb_cursor_open(self.txn, self.dbi, &self.cursor), "cursor")

    def __dealloc__(self):
        self.abort()

    cdef int begin(self) except -1:
        check(mdb_txn_begin(self.env, NULL, 0, &self.txn), "begin")
        return 0

    cdef int put(self, key, value, skip, bint skipping, bint skip_by_value) except -1:
        cdef MDB_val k, v
        cdef int rc
        if skipping:
            if skip_by_value:
                if (<bytes?>value)[:KEY_SIZE] in skip:
                    return 0
            elif key in skip:
                return 0
        k.mv_data = PyBytes_AS_STRING(<bytes?>key)
        k.mv_size = PyBytes_GET_SIZE(key)
        v.mv_data = PyBytes_AS_STRING(<bytes?>value)
        v.mv_size = PyBytes_GET_SIZE(value)
        if 0 <= self.value_size < <Py_ssize_t>v.mv_size:
            v.mv_size = self.value_size
        rc = mdb_cursor_put(self.cursor, &k, &v, MDB_APPEND)
        if rc == MDB_KEYEXIST:
            raise ValueError(f"{self.name.decode()}: keys must be appended in increasing order")
        check(rc, "append")
        self.written += 1
        self.in_txn += 1
        if self.in_txn == COMMIT_EVERY:  # bounds LMDB's dirty-page list
            self.commit()
            self.begin()
            check(mdb_cursor_open(self.txn, self.dbi, &self.cursor), "cursor")
            self.in_txn = 0
        return 0

    cdef int commit(self) except -1:
        cdef int rc
        mdb_cursor_close(self.cursor)
        self.cursor = NULL
        rc = mdb_txn_commit(self.txn)
        self.txn = NULL
        check(rc, "commit")
        return 0

    cdef void abort(self) noexcept:
        """Let go of what commit() did not (after a failure)."""
        if self.cursor != NULL:
            mdb_cursor_close(self.cursor)
            self.cursor = NULL
        if self.txn != NULL:
            mdb_txn_abort(self.txn)
            self.txn = NULL


@cython.final
cdef class SnapshotWriter:
    """Append sorted items to the databases of a new, unpublished snapshot."""

    cdef MDB_env* env

    def __init__(self, str path not None, size_t map_size):
        cdef bytes name = os.fsencode(path)
        os.makedirs(path, exist_ok=True)  # as py-lmdb does
        check(mdb_env_create(&self.env), "create")
        check(mdb_env_set_maxdbs(self.env, 4), "set_maxdbs")
        check(mdb_env_set_mapsize(self.env, map_size), "set_mapsize")
        # One writer and no reader until publish: no lock file (DESIGN 4); close() syncs once.
        check(mdb_env_open(self.env, name, MDB_NOLOCK | MDB_NOSYNC | MDB_NOMETASYNC, 0o644),
              f"open {path}")

    def __dealloc__(self):
        if self.env != NULL:
            mdb_env_close(self.env)

    cdef int require_open(self) except -1:
        if self.env == NULL:
            raise ValueError("SnapshotWriter is closed")
        return 0

    def append(self, bytes name not None, items, *, Py_ssize_t value_size=-1, skip=frozenset(),
               bint skip_by_value=False, shared=None):
        """Append items in strictly increasing key order; return how many were written.

        An item is dropped when its key (or, with skip_by_value, the CCCD key its value starts
        with) is in `skip`; with value_size >= 0 only the value's first value_size bytes are kept.
        With `shared`, items may come in runs of equal keys: such a run is not written, its
        values go to shared(values) (the build's duplicate check, done as it writes).
        """
        self.require_open()
        cdef _Appender out = _Appender(self, name, value_size)
        cdef bint skipping = len(skip) > 0
        cdef object key, value, last_key = None, last_value = None
        cdef list run = None
        try:
            for key, value in items:
                if shared is not None:
                    if last_key is not None and key == last_key:
                        if run is None:
                            run = [last_value]
                        run.append(value)
                        continue
                    if run is not None:
                        shared(run)
                        run = None
                    elif last_key is not None:
                        out.put(last_key, last_value, skip, skipping, skip_by_value)
                    last_key, last_value = key, value
                else:
                    out.put(key, value, skip, skipping, skip_by_value)
            if run is not None:
                shared(run)
            elif last_key is not None:
                out.put(last_key, last_value, skip, skipping, skip_by_value)
            out.commit()
        finally:
            out.abort()
        return out.written

    def put(self, bytes name not None, bytes key not None, bytes value not None):
        """Store one entry (the snapshot's identity in `meta`)."""
        self.require_open()
        cdef MDB_txn* txn = NULL
        cdef MDB_dbi dbi
        cdef MDB_val k, v
        k.mv_data, k.mv_size = PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key)
        v.mv_data, v.mv_size = PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value)
        check(mdb_txn_begin(self.env, NULL, 0, &txn), "begin")
        try:
            check(mdb_dbi_open(txn, name, MDB_CREATE, &dbi), f"open db {name!r}")
            check(mdb_put(txn, dbi, &k, &v, 0), "put")
        except BaseException:
            mdb_txn_abort(txn)
            raise
        check(mdb_txn_commit(txn), "commit")

    def close(self):
        """Flush everything to disk and close."""
        cdef int rc
        if self.env != NULL:
            rc = mdb_env_sync(self.env, 1)
            mdb_env_close(self.env)
            self.env = NULL
            check(rc, "sync")

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def equal_key_groups(items):
    """Yield the values of each run of two or more equal keys in key-sorted items."""
    cdef object key, value
    cdef bytes previous = None
    cdef list group = []
    for key, value in items:
        if previous is not None and PyBytes_GET_SIZE(<bytes?>key) == PyBytes_GET_SIZE(previous) \
                and memcmp(PyBytes_AS_STRING(key), PyBytes_AS_STRING(previous),
                           PyBytes_GET_SIZE(previous)) == 0:
            group.append(value)
            continue
        if len(group) > 1:
            yield group
        previous = key
        group = [value]
    if len(group) > 1:
        yield group


# --- records as a snapshot stores them (version 2, DESIGN 4; lookup/reference/record.py) ------
cdef struct LastText:
    # The text interned last for a field: people in key order share their province, so the
    # next one's issuer or commune is often the same, and needs no dictionary lookup.
    const char* text
    Py_ssize_t size
    uint32_t number


cdef uint32_t _intern(const char* text, Py_ssize_t size, dict ids, list texts,
                      LastText* last) except? 0xFFFFFFFF:
    """The text's number in the string table (adding it when new); 0 for no text."""
    cdef bytes key
    cdef uint32_t number
    if text == NULL:
        return 0
    if last.text != NULL and last.size == size and memcmp(last.text, text, size) == 0:
        return last.number
    key = PyBytes_FromStringAndSize(text, size)
    found = ids.get(key)
    if found is None:
        texts.append(key)
        ids[key] = number = len(texts)
    else:
        number = found
    # Point at the table's own copy, which lives as long as the table.
    last.text, last.size, last.number = PyBytes_AS_STRING(texts[number - 1]), size, number
    return number


cdef inline uint8_t* _varint(uint8_t* out, uint32_t n) noexcept:
    while n >= 0x80:
        out[0] = (n & 0x7F) | 0x80
        out += 1
        n >>= 7
    out[0] = n
    return out + 1


cdef inline uint8_t* _date24(uint8_t* out, uint32_t packed) noexcept:
    cdef uint32_t v = (packed // 10000) << 9 | (packed // 100 % 100) << 5 | packed % 100
    out[0], out[1], out[2] = v & 0xFF, v >> 8 & 0xFF, v >> 16
    return out + 3


cdef inline uint8_t* _card(uint8_t* out, const char* code, bint with_number) noexcept:
    """The card code's first 5 characters, then (with_number) its 10 digits packed two a byte."""
    cdef int i
    memcpy(out, code, 5)
    if not with_number:
        return out + 5
    for i in range(5):
        out[5 + i] = (code[5 + 2 * i] - c'0') << 4 | (code[6 + 2 * i] - c'0')
    return out + 10


# lookup.schema.ADDRESS_UNITS as UTF-8: what an address's administrative parts start with.
cdef tuple _UNITS = tuple(unit.encode() for unit in ADDRESS_UNITS)


cdef bint _is_unit(const char* part, Py_ssize_t n):
    cdef bytes unit
    for unit in _UNITS:
        if len(unit) <= n and memcmp(part, PyBytes_AS_STRING(unit), len(unit)) == 0:
            return True
    return False


cdef Py_ssize_t _split_address(const char* a, Py_ssize_t n):
    """Where the address's locality starts (the separator before it), or -1 when it has one
    part: its last part and the administrative units just before it, at most 3 parts
    (lookup/reference/record.py split_address)."""
    cdef Py_ssize_t i = 0, count = 0, tail = 1, start
    cdef Py_ssize_t seps[4]  # the last four separators, most recent last
    while i + 1 < n:
        if a[i] == c',' and a[i + 1] == c' ':
            seps[count % 4] = i
            count += 1
            i += 2
        else:
            i += 1
    if count == 0:
        return -1
    while tail < 3 and tail < count:
        start = seps[(count - tail - 1) % 4] + 2  # the part before the tail
        if not _is_unit(a + start, seps[(count - tail) % 4] - start):
            break
        tail += 1
    return seps[(count - tail) % 4]


cdef bytes _compact(bytes value, dict ids, list texts, LastText* last):
    """A version-1 record (what the validator makes) as version 2."""
    cdef RecordView r
    cdef const uint8_t* p = <const uint8_t*>PyBytes_AS_STRING(value)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(value), cut
    cdef uint8_t stack[512]
    cdef uint8_t* buf = stack
    cdef uint8_t* out
    cdef bint renumbered
    cdef uint32_t locality, facility, issuer
    if not read_record(p, n, NULL, &r) or p[0] != 1:
        raise ValueError("compact_records: not a sound version-1 record")
    cut = _split_address(r.address, r.address_len)
    locality = _intern(r.address + cut + 2 if cut >= 0 else NULL,
                       r.address_len - cut - 2 if cut >= 0 else 0, ids, texts, &last[0])
    facility = _intern(r.facility, 5, ids, texts, &last[1])
    issuer = _intern(r.issuer if r.issuer_len else NULL, r.issuer_len, ids, texts, &last[2])
    if n > 512:
        buf = <uint8_t*>malloc(n)
        if buf == NULL:
            raise MemoryError()
    try:
        renumbered = r.prev_card_no != NULL and memcmp(r.prev_card_no + 5, r.card_no + 5, 10) != 0
        buf[0] = 2
        buf[1] = (r.gender | r.managed_by << 2 | r.region << 4 | (r.prev_card_no != NULL) << 6
                  | renumbered << 7)
        buf[2] = r.status | (r.five_year != 0) << 3 | (r.prev_valid_to != 0) << 4
        out = _date24(_date24(_date24(buf + 3, r.dob), r.valid_from), r.valid_to)
        if r.five_year:
            out = _date24(out, r.five_year)
        if r.prev_valid_to:
            out = _date24(out, r.prev_valid_to)
        out = _card(out, r.card_no, True)
        if r.prev_card_no != NULL:
            out = _card(out, r.prev_card_no, renumbered)
        out = _varint(out, r.name_len)
        memcpy(out, r.full_name, r.name_len)
        out += r.name_len
        out = _varint(out, cut if cut >= 0 else r.address_len)
        memcpy(out, r.address, cut if cut >= 0 else r.address_len)
        out += cut if cut >= 0 else r.address_len
        out = _varint(_varint(_varint(out, locality), facility), issuer)
        return PyBytes_FromStringAndSize(<const char*>buf, out - buf)
    finally:
        if buf != stack:
            free(buf)


def compact_records(items, strings):
    """Yield (key, record) for each (key, version-1 record) of items, the record as version 2,
    its repeated texts added to `strings` (lookup.store.strings.Strings)."""
    cdef dict ids = strings.ids
    cdef list texts = strings.texts
    cdef LastText last[3]
    cdef int i
    for i in range(3):
        last[i].text = NULL
    for key, value in items:
        yield key, _compact(<bytes?>value, ids, texts, last)
