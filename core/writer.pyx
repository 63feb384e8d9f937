# distutils: sources = core/vendor/lmdb/mdb.c core/vendor/lmdb/midl.c
# distutils: include_dirs = core/vendor/lmdb
"""Write a new snapshot's LMDB environment from key-sorted items: the compiled twin of
lookup/reference/writer.py, writing the same store byte for byte.

The build hands each sorter's merged items straight to `SnapshotWriter.append`, which appends
them with mdb_cursor_put(MDB_APPEND) from C, every page full. Given a sorter's merge (or
`compact_records` over one) it reads the entries where the merge holds them: no Python object
per entry, as `equal_key_groups` for the duplicate checks; other iterables go the Python way.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, realloc
from libc.string cimport memcmp, memcpy

from core.lmdb cimport (
    MDB_NOLOCK, MDB_SUCCESS, MDB_cursor, MDB_dbi, MDB_env, MDB_txn, MDB_val, mdb_cursor_close,
    mdb_cursor_open, mdb_dbi_open, mdb_env_close, mdb_env_create, mdb_env_open,
    mdb_env_set_mapsize, mdb_env_set_maxdbs, mdb_strerror, mdb_txn_abort, mdb_txn_begin,
)
from core.keyfilter cimport _key_hash
from core.keyset cimport KeySet, keyset_add, keyset_free, keyset_has, keyset_init
from core.rules cimport RecordView, read_record
from core.sorter cimport Entry, _Items
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
        return self.put_raw(&k, &v)

    cdef int put_entry(self, const uint8_t* key, size_t key_size, const uint8_t* value,
                       size_t value_size, const KeySet* skip, bint skip_by_value) except -1:
        """put() of C bytes, `skip` holding 8-byte keys."""
        cdef MDB_val k, v
        if skip.count:
            if skip_by_value:
                if value_size >= KEY_SIZE and keyset_has(skip, value):
                    return 0
            elif key_size == KEY_SIZE and keyset_has(skip, key):
                return 0
        k.mv_data, k.mv_size = <void*>key, key_size
        v.mv_data, v.mv_size = <void*>value, value_size
        return self.put_raw(&k, &v)

    cdef int put_raw(self, MDB_val* k, MDB_val* v) except -1:
        cdef int rc
        if 0 <= self.value_size < <Py_ssize_t>v.mv_size:
            v.mv_size = self.value_size
        rc = mdb_cursor_put(self.cursor, k, v, MDB_APPEND)
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
            if _pulls_entries(items) and all(type(k) is bytes and len(k) == KEY_SIZE
                                             for k in skip):
                _append_entries(out, items, skip, skip_by_value, shared)
                out.commit()
                return out.written
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
    """Return an iterator over the values of each run of two or more equal keys in key-sorted
    items."""
    if type(items) is _Items:
        return _Groups(items)
    return _groups(items)


def _groups(items):
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


# --- entries pulled from a sorter's merge in C (no Python object per entry) --------------------
cdef bint _pulls_entries(items):
    return type(items) is _Items or (
        type(items) is _Compacted and (<_Compacted>items).merged is not None
    )


cdef inline bint _pull(items, Entry* e) except -1:
    if type(items) is _Items:
        return (<_Items>items).next_entry(e)
    return (<_Compacted>items).next_entry(e)


@cython.final
cdef class _Held:
    """A copy of one entry, kept while the merge moves on (its bytes may move then)."""

    cdef uint8_t* data
    cdef size_t cap, key_size, value_size
    cdef bint full

    def __dealloc__(self):
        free(self.data)

    cdef int hold(self, const Entry* e) except -1:
        cdef size_t need = e.key_size + e.value_size
        cdef void* p
        if need > self.cap:
            p = realloc(self.data, need)
            if p == NULL:
                raise MemoryError()
            self.data, self.cap = <uint8_t*>p, need
        memcpy(self.data, e.key, e.key_size)
        memcpy(self.data + e.key_size, e.value, e.value_size)
        self.key_size, self.value_size, self.full = e.key_size, e.value_size, True
        return 0

    cdef bint same_key(self, const Entry* e) noexcept:
        return self.full and self.key_size == e.key_size and \
            memcmp(self.data, e.key, e.key_size) == 0

    cdef bytes value(self):
        return PyBytes_FromStringAndSize(<const char*>self.data + self.key_size, self.value_size)


cdef int _append_entries(_Appender out, items, skip, bint skip_by_value, shared) except -1:
    """SnapshotWriter.append's loop over a merge's entries, read in place."""
    cdef KeySet keys
    cdef Entry e
    cdef _Held last = _Held()
    cdef list run = None
    if keyset_init(&keys, len(skip)) != 0:
        raise MemoryError()
    try:
        for key in skip:
            keyset_add(&keys, <const uint8_t*>PyBytes_AS_STRING(key))
        while _pull(items, &e):
            if shared is None:
                out.put_entry(e.key, e.key_size, e.value, e.value_size, &keys, skip_by_value)
            elif last.same_key(&e):
                if run is None:
                    run = [last.value()]
                run.append(PyBytes_FromStringAndSize(<const char*>e.value, e.value_size))
            else:
                if run is not None:
                    shared(run)
                    run = None
                elif last.full:
                    out.put_entry(last.data, last.key_size, last.data + last.key_size,
                                  last.value_size, &keys, skip_by_value)
                last.hold(&e)
        if run is not None:
            shared(run)
        elif last.full:
            out.put_entry(last.data, last.key_size, last.data + last.key_size, last.value_size,
                          &keys, skip_by_value)
    finally:
        keyset_free(&keys)
    return 0


@cython.final
cdef class _Groups:
    """equal_key_groups over a sorter's merge, read in place."""

    cdef _Items items
    cdef _Held last

    def __cinit__(self, _Items items):
        self.items = items
        self.last = _Held()

    def __iter__(self):
        return self

    def __next__(self):
        cdef Entry e
        cdef list group = None
        while self.items.next_entry(&e):
            if self.last.same_key(&e):
                if group is None:
                    group = [self.last.value()]
                group.append(PyBytes_FromStringAndSize(<const char*>e.value, e.value_size))
                continue
            self.last.hold(&e)
            if group is not None:
                return group
        self.last.full = False
        if group is not None:
            return group
        raise StopIteration


# --- records as a snapshot stores them (version 2, DESIGN 4; lookup/reference/record.py) ------
cdef struct LastText:
    # The text interned last for a field: people in key order share their province, so the
    # next one's issuer or commune is often the same, and needs no lookup.
    const char* text
    Py_ssize_t size
    uint32_t number


@cython.final
cdef class _Interner:
    """Numbers texts as lookup.store.strings.Strings.id does, adding the new ones to it.

    By the Strings' dict; or, once use_table() was called (the build's millions of records),
    by a table of its own that asks a text's bytes where they lie, with no bytes object made.
    """

    cdef dict ids
    cdef list texts
    cdef LastText last[3]        # per field: locality, facility, issuer
    cdef uint32_t* table         # text numbers (0: empty place); NULL: use the dict
    cdef uint32_t* hashes        # each place's text hash, low 32 bits
    cdef size_t mask             # places, less one
    cdef Py_ssize_t tabled       # texts in the table: texts[:tabled]

    def __cinit__(self, strings):
        cdef int i
        self.ids = strings.ids
        self.texts = strings.texts
        for i in range(3):
            self.last[i].text = NULL

    def __dealloc__(self):
        free(self.table)
        free(self.hashes)

    cdef int use_table(self) except -1:
        if self.table == NULL:
            self.grow(64)
        return 0

    cdef uint32_t number(self, const char* text, Py_ssize_t size, int field) except? 0xFFFFFFFF:
        """The text's number in the string table (adding it when new); 0 for no text."""
        cdef LastText* last = &self.last[field]
        cdef uint32_t number
        cdef bytes key
        if text == NULL:
            return 0
        if last.text != NULL and last.size == size and memcmp(last.text, text, size) == 0:
            return last.number
        if self.table != NULL:
            number = self.find(text, size)
        else:
            key = PyBytes_FromStringAndSize(text, size)
            found = self.ids.get(key)
            number = 0 if found is None else found
        if number == 0:
            key = PyBytes_FromStringAndSize(text, size)
            self.texts.append(key)
            self.ids[key] = number = len(self.texts)
        # Point at the table's own copy, which lives as long as the table.
        last.text = PyBytes_AS_STRING(<bytes>PyList_GET_ITEM(self.texts, number - 1))
        last.size, last.number = size, number
        return number

    cdef uint32_t find(self, const char* text, Py_ssize_t size) except? 0xFFFFFFFF:
        """The text's number by the table, 0 when it has none (texts added to the Strings
        since the last call are taken in first)."""
        cdef uint64_t h = _key_hash(<const uint8_t*>text, size)
        cdef size_t place = h & self.mask
        cdef uint32_t number
        cdef object stored
        if self.tabled < PyList_GET_SIZE(self.texts):
            self.take_new_texts()
            place = h & self.mask
        while self.table[place] != 0:
            number = self.table[place]
            if self.hashes[place] == <uint32_t>h:
                stored = <object>PyList_GET_ITEM(self.texts, number - 1)
                if PyBytes_GET_SIZE(stored) == size and \
                        memcmp(PyBytes_AS_STRING(stored), text, size) == 0:
                    return number
            place = (place + 1) & self.mask
        return 0

    cdef int take_new_texts(self) except -1:
        cdef Py_ssize_t n = PyList_GET_SIZE(self.texts)
        cdef size_t places = self.mask + 1
        while 2 * <size_t>n >= places:
            places *= 2
        if places != self.mask + 1:
            self.grow(places)  # places every text again
        else:
            while self.tabled < n:
                self.place(self.tabled + 1)
                self.tabled += 1
        return 0

    cdef int grow(self, size_t places) except -1:
        cdef Py_ssize_t n = PyList_GET_SIZE(self.texts)
        while 2 * <size_t>n >= places:
            places *= 2
        free(self.table)
        free(self.hashes)
        self.table = <uint32_t*>calloc(places, sizeof(uint32_t))
        self.hashes = <uint32_t*>calloc(places, sizeof(uint32_t))
        if self.table == NULL or self.hashes == NULL:
            raise MemoryError()
        self.mask = places - 1
        self.tabled = 0
        while self.tabled < n:
            self.place(self.tabled + 1)
            self.tabled += 1
        return 0

    cdef void place(self, uint32_t number) noexcept:
        cdef object text = <object>PyList_GET_ITEM(self.texts, number - 1)
        cdef uint64_t h = _key_hash(<const uint8_t*>PyBytes_AS_STRING(text),
                                    PyBytes_GET_SIZE(text))
        cdef size_t place = h & self.mask
        while self.table[place] != 0:
            place = (place + 1) & self.mask
        self.table[place] = number
        self.hashes[place] = <uint32_t>h


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


cdef Py_ssize_t _compact(const uint8_t* p, Py_ssize_t n, uint8_t* buf,
                         _Interner strings) except -1:
    """Write the version-1 record p[:n] (what the validator makes) as version 2 into buf, which
    holds n bytes (version 2 is never longer); return its size."""
    cdef RecordView r
    cdef Py_ssize_t cut
    cdef uint8_t* out
    cdef bint renumbered
    cdef uint32_t locality, facility, issuer
    if not read_record(p, n, NULL, &r) or p[0] != 1:
        raise ValueError("compact_records: not a sound version-1 record")
    cut = _split_address(r.address, r.address_len)
    locality = strings.number(r.address + cut + 2 if cut >= 0 else NULL,
                              r.address_len - cut - 2 if cut >= 0 else 0, 0)
    facility = strings.number(r.facility, 5, 1)
    issuer = strings.number(r.issuer if r.issuer_len else NULL, r.issuer_len, 2)
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
    return out - buf


def compact_records(items, strings):
    """Return an iterator of (key, record) for each (key, version-1 record) of items, the
    record as version 2, its repeated texts added to `strings` (lookup.store.strings.Strings).
    """
    return _Compacted(items, strings)


@cython.final
cdef class _Compacted:
    """compact_records' iterator; SnapshotWriter.append pulls it entry by entry in C when it
    compacts a sorter's merge."""

    cdef object items
    cdef _Items merged           # items, when a sorter's merge: read in place
    cdef _Interner strings
    cdef uint8_t* buf            # the record last compacted by next_entry
    cdef size_t cap

    def __cinit__(self, items, strings):
        self.merged = items if type(items) is _Items else None
        self.items = iter(items)
        self.strings = _Interner(strings)

    def __dealloc__(self):
        free(self.buf)

    def __iter__(self):
        return self

    def __next__(self):
        cdef uint8_t* buf
        key, value = next(self.items)
        cdef Py_ssize_t n = PyBytes_GET_SIZE(<bytes?>value)
        buf = <uint8_t*>self.reserve(n)
        n = _compact(<const uint8_t*>PyBytes_AS_STRING(value), n, buf, self.strings)
        return key, PyBytes_FromStringAndSize(<const char*>buf, n)

    cdef bint next_entry(self, Entry* e) except -1:
        """Point e at the next entry, its record compacted (valid until the next call)."""
        if not self.merged.next_entry(e):
            return False
        self.strings.use_table()
        e.value_size = _compact(e.value, e.value_size, self.reserve(e.value_size), self.strings)
        e.value = self.buf
        return True

    cdef uint8_t* reserve(self, size_t size) except NULL:
        cdef void* p
        if size > self.cap or self.buf == NULL:
            p = realloc(self.buf, max(size, <size_t>512))
            if p == NULL:
                raise MemoryError()
            self.buf, self.cap = <uint8_t*>p, max(size, <size_t>512)
        return self.buf
