# distutils: sources = core/vendor/lmdb/mdb.c core/vendor/lmdb/midl.c
# distutils: include_dirs = core/vendor/lmdb
"""Write a new snapshot's LMDB environment from key-sorted items: the compiled twin of
lookup/reference/writer.py, writing the same store byte for byte.

The build hands each sorter's merged items straight to `SnapshotWriter.append`, which appends
them with mdb_cursor_put(MDB_APPEND) from C, every page full. Given a sorter's merge (or
core/compact.pyx `renumber_records` over one, or `check_cards` over two) it reads the entries
where the merge holds them: no Python object per entry; other iterables go the Python way.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport UINT64_MAX, uint8_t, uint64_t
from libc.stdlib cimport free, realloc
from libc.string cimport memcpy

from core.lmdb cimport (
    MDB_NOLOCK, MDB_NOTFOUND, MDB_SUCCESS, MDB_cursor, MDB_dbi, MDB_env, MDB_txn, MDB_val,
    mdb_cursor_close, mdb_cursor_open, mdb_dbi_open, mdb_env_close, mdb_env_create, mdb_env_open,
    mdb_env_set_mapsize, mdb_env_set_maxdbs, mdb_strerror, mdb_txn_abort, mdb_txn_begin,
)
from core.bigendian cimport be_load
from core.compact cimport _Renumbered, same_bytes
from core.keyset cimport KeySet, keyset_add, keyset_free, keyset_has, keyset_init
from core.record cimport CARD_LEN, HEAD_BITS, HEAD_LEN, KEY_LEN
from core.sorter cimport Entry, _Items, _Out
from core.lmdb_write cimport (
    MDB_APPEND, MDB_CREATE, MDB_KEYEXIST, MDB_NOMETASYNC, MDB_NOSYNC, mdb_cursor_put, mdb_del,
    mdb_env_sync, mdb_put, mdb_txn_commit,
)

import os


__all__ = ("SnapshotWriter", "check_cards", "write_run")

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
        With `shared`, items may come in runs of equal keys: such a run is not written, its key
        and values go to shared(key, values) (the build's duplicate checks, done as it writes).
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
                        shared(last_key, run)
                        run = None
                    elif last_key is not None:
                        out.put(last_key, last_value, skip, skipping, skip_by_value)
                    last_key, last_value = key, value
                else:
                    out.put(key, value, skip, skipping, skip_by_value)
            if run is not None:
                shared(last_key, run)
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

    def delete(self, bytes name not None, keys):
        """Delete the entries of `keys` that are there (a build's rows found rejected after
        they were written); return how many were."""
        self.require_open()
        cdef MDB_txn* txn = NULL
        cdef MDB_dbi dbi
        cdef MDB_val k
        cdef int rc
        cdef Py_ssize_t deleted = 0
        check(mdb_txn_begin(self.env, NULL, 0, &txn), "begin")
        try:
            check(mdb_dbi_open(txn, name, 0, &dbi), f"open db {name!r}")
            for key in keys:
                k.mv_data, k.mv_size = PyBytes_AS_STRING(<bytes?>key), PyBytes_GET_SIZE(key)
                rc = mdb_del(txn, dbi, &k, NULL)
                if rc != MDB_NOTFOUND:
                    check(rc, "delete")
                    deleted += 1
        except BaseException:
            mdb_txn_abort(txn)
            raise
        check(mdb_txn_commit(txn), "commit")
        return deleted

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


def write_run(items, str path not None):
    """Write key-sorted items to `path` as a sorter's run file, for a sorter elsewhere to
    adopt() (the build streams a merge to the process that writes it); return how many."""
    cdef _Out out = _Out(path)
    cdef Entry e
    cdef Py_ssize_t written = 0
    cdef object key, value
    if _pulls_entries(items):
        while _pull(items, &e):
            out.write_parts(e.key, e.key_size, e.value, e.value_size)
            written += 1
    else:
        for key, value in items:
            out.write_parts(<const uint8_t*>PyBytes_AS_STRING(<bytes?>key), PyBytes_GET_SIZE(key),
                            <const uint8_t*>PyBytes_AS_STRING(<bytes?>value),
                            PyBytes_GET_SIZE(value))
            written += 1
    out.close()
    return written


# --- entries pulled from a sorter's merge in C (no Python object per entry) --------------------
cdef bint _pulls_entries(items):
    return type(items) is _Items or type(items) is _CardCheck or (
        type(items) is _Renumbered and (<_Renumbered>items).merged is not None
    )


cdef inline bint _pull(items, Entry* e) except -1:
    if type(items) is _Items:
        return (<_Items>items).next_entry(e)
    if type(items) is _CardCheck:
        return (<_CardCheck>items).next_entry(e)
    return (<_Renumbered>items).next_entry(e)


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
            same_bytes(<const char*>self.data, <const char*>e.key, e.key_size)

    cdef bytes key(self):
        return PyBytes_FromStringAndSize(<const char*>self.data, self.key_size)

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
                    shared(last.key(), run)
                    run = None
                elif last.full:
                    out.put_entry(last.data, last.key_size, last.data + last.key_size,
                                  last.value_size, &keys, skip_by_value)
                last.hold(&e)
        if run is not None:
            shared(last.key(), run)
        elif last.full:
            out.put_entry(last.data, last.key_size, last.data + last.key_size, last.value_size,
                          &keys, skip_by_value)
    finally:
        keyset_free(&keys)
    return 0


# --- the card check, as the bhxh entries go by -------------------------------------------------
cdef enum:
    TAG_LEN = 5                                     # a row's line (4 bytes) and origin
    BHXH_VALUE = KEY_LEN + TAG_LEN + HEAD_LEN       # cccd, tag, the card's head
    CARDS_VALUE = KEY_LEN + TAG_LEN + KEY_LEN       # cccd, tag, the row's bhxh key
    MEMBER_LEN = KEY_LEN + TAG_LEN + 1 + KEY_LEN    # cccd, tag, 0 current/1 previous, bhxh key


cdef struct Code:
    uint64_t card
    uint8_t member[MEMBER_LEN]


cdef bytes card_code(uint64_t card):
    """The card code of a card key: see lookup/reference/csvrows.py."""
    cdef char code[CARD_LEN]
    cdef uint64_t number = card >> HEAD_BITS, rest = card & ((1 << HEAD_BITS) - 1)
    cdef int i
    for i in range(CARD_LEN - 1, 4, -1):
        code[i] = 48 + number % 10
        number //= 10
    code[4], code[3] = 48 + rest % 10, 48 + rest // 10 % 10
    rest //= 100
    code[2] = 49 + rest % 5
    rest //= 5
    code[1], code[0] = 65 + rest % 26, 65 + rest // 26
    return PyBytes_FromStringAndSize(code, CARD_LEN)


def check_cards(bhxh, cards, rejected=frozenset()):
    """Give the build's bhxh entries as they are, finding meanwhile the card codes held twice:
    see lookup/reference/writer.py. Here `bhxh` and `cards` are sorters' merges (items()), and
    SnapshotWriter.append pulls the entries in C."""
    return _CardCheck(bhxh, cards, rejected)


@cython.final
cdef class _CardCheck:
    """check_cards' iterator: `groups` and `rejected_entries` as the reference's CardCheck."""

    cdef _Items bhxh, cards
    cdef KeySet rejected
    cdef Code* codes            # those of one number, current ones first
    cdef Py_ssize_t count, cap
    cdef Code following         # the next previous code, read ahead
    cdef bint has_following, has_number, done
    cdef uint64_t number        # of the bhxh entries being given
    cdef readonly list groups, rejected_entries

    def __cinit__(self, _Items bhxh not None, _Items cards not None, rejected):
        self.bhxh, self.cards = bhxh, cards
        if keyset_init(&self.rejected, len(rejected)) != 0:
            raise MemoryError()
        for key in rejected:
            if PyBytes_GET_SIZE(<bytes?>key) != KEY_LEN:
                raise ValueError("check_cards: rejected CCCD keys are 8 bytes")
            keyset_add(&self.rejected, <const uint8_t*>PyBytes_AS_STRING(key))
        self.groups, self.rejected_entries = [], []
        self.read_following()

    def __dealloc__(self):
        free(self.codes)
        keyset_free(&self.rejected)

    def __iter__(self):
        return self

    def __next__(self):
        cdef Entry e
        if not self.next_entry(&e):
            raise StopIteration
        return (PyBytes_FromStringAndSize(<const char*>e.key, e.key_size),
                PyBytes_FromStringAndSize(<const char*>e.value, e.value_size))

    cdef bint next_entry(self, Entry* e) except -1:
        """Point e at the next bhxh entry (valid until the next call), noting its code."""
        cdef uint64_t number
        cdef Code code
        if self.done:
            return False
        if not self.bhxh.next_entry(e):
            self.end_number()
            self.previous_before(UINT64_MAX)
            self.done = True
            return False
        if e.key_size != KEY_LEN or e.value_size != BHXH_VALUE:
            raise ValueError("check_cards: a bhxh value is cccd, tag and card head")
        number = be_load(e.key, KEY_LEN)
        if not self.has_number or number != self.number:
            self.end_number()
            self.previous_before(number)
            self.number, self.has_number = number, True
        if self.rejected.count and keyset_has(&self.rejected, e.value):
            self.rejected_entries.append(
                PyBytes_FromStringAndSize(<const char*>e.value, e.value_size))
        code.card = number << HEAD_BITS | be_load(e.value + KEY_LEN + TAG_LEN, HEAD_LEN)
        memcpy(code.member, e.value, KEY_LEN + TAG_LEN)
        code.member[KEY_LEN + TAG_LEN] = 0
        memcpy(code.member + KEY_LEN + TAG_LEN + 1, e.key, KEY_LEN)
        self.add(&code)
        return True

    cdef int end_number(self) except -1:
        """Check the codes of the number given last, its previous codes added."""
        if self.has_number:
            self.take_previous(self.number)
            self.find()
        return 0

    cdef int read_following(self) except -1:
        cdef Entry e
        self.has_following = self.cards.next_entry(&e)
        if not self.has_following:
            return 0
        if e.key_size != KEY_LEN or e.value_size != CARDS_VALUE:
            raise ValueError("check_cards: a cards value is cccd, tag and bhxh key")
        self.following.card = be_load(e.key, KEY_LEN)
        memcpy(self.following.member, e.value, KEY_LEN + TAG_LEN)
        self.following.member[KEY_LEN + TAG_LEN] = 1
        memcpy(self.following.member + KEY_LEN + TAG_LEN + 1, e.value + KEY_LEN + TAG_LEN, KEY_LEN)
        return 0

    cdef int add(self, const Code* code) except -1:
        cdef void* p
        if self.count == self.cap:
            p = realloc(self.codes, (self.cap * 2 + 4) * sizeof(Code))
            if p == NULL:
                raise MemoryError()
            self.codes, self.cap = <Code*>p, self.cap * 2 + 4
        self.codes[self.count] = code[0]
        self.count += 1
        return 0

    cdef int take_previous(self, uint64_t number) except -1:
        """Add the previous codes that end in `number`."""
        while self.has_following and self.following.card >> HEAD_BITS == number:
            self.add(&self.following)
            self.read_following()
        return 0

    cdef int previous_before(self, uint64_t limit) except -1:
        """Check the previous codes that end in numbers below `limit` among themselves (no bhxh
        entry has those numbers)."""
        while self.has_following and self.following.card >> HEAD_BITS < limit:
            self.take_previous(self.following.card >> HEAD_BITS)
            self.find()
        return 0

    cdef int find(self) except -1:
        """Note the codes held twice among the codes (all of one number); empty them."""
        cdef Py_ssize_t i, j, k, n = self.count
        cdef Code c
        self.count = 0
        for i in range(1, n):  # a stable insertion sort: n is 1 or 2 but for a rare few
            c = self.codes[i]
            j = i
            while j > 0 and self.codes[j - 1].card > c.card:
                self.codes[j] = self.codes[j - 1]
                j -= 1
            self.codes[j] = c
        i = 0
        while i < n:
            j = i + 1
            while j < n and self.codes[j].card == self.codes[i].card:
                j += 1
            if j - i > 1:
                self.groups.append((
                    card_code(self.codes[i].card),
                    [PyBytes_FromStringAndSize(<const char*>self.codes[k].member, MEMBER_LEN)
                     for k in range(i, j)],
                ))
            i = j
        return 0
