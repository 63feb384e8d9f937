# distutils: sources = core/vendor/lmdb/mdb.c core/vendor/lmdb/midl.c
# distutils: include_dirs = core/vendor/lmdb
"""Write a new snapshot's LMDB environment from key-sorted items: the compiled twin of
lookup/reference/writer.py, writing the same store byte for byte.

The build hands each sorter's merged items straight to `SnapshotWriter.append`, which appends
them with mdb_cursor_put(MDB_APPEND) from C: no Python call per entry, every page full.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.string cimport memcmp

from core.lmdb cimport (
    MDB_NOLOCK, MDB_SUCCESS, MDB_cursor, MDB_dbi, MDB_env, MDB_txn, MDB_val, mdb_cursor_close,
    mdb_cursor_open, mdb_dbi_open, mdb_env_close, mdb_env_create, mdb_env_open,
    mdb_env_set_mapsize, mdb_env_set_maxdbs, mdb_strerror, mdb_txn_abort, mdb_txn_begin,
)
from core.lmdb_write cimport (
    MDB_APPEND, MDB_CREATE, MDB_KEYEXIST, MDB_NOMETASYNC, MDB_NOSYNC, mdb_cursor_put,
    mdb_env_sync, mdb_put, mdb_txn_commit,
)

import os

__all__ = ("SnapshotWriter", "equal_key_groups")

cdef Py_ssize_t COMMIT_EVERY = 1_000_000   # entries per transaction, as the reference
cdef Py_ssize_t KEY_SIZE = 8               # a CCCD key, the prefix of every index value


cdef int check(int rc, str what) except -1:
    if rc != MDB_SUCCESS:
        raise OSError(f"lmdb: {what}: {mdb_strerror(rc).decode()}")
    return 0


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
               bint skip_by_value=False):
        """Append items in strictly increasing key order; return how many were written.

        An item is dropped when its key (or, with skip_by_value, the CCCD key its value starts
        with) is in `skip`; with value_size >= 0 only the value's first value_size bytes are kept.
        """
        self.require_open()
        cdef MDB_txn* txn = NULL
        cdef MDB_cursor* cursor = NULL
        cdef MDB_dbi dbi
        cdef MDB_val k, v
        cdef Py_ssize_t written = 0, in_txn = 0
        cdef bint skipping = len(skip) > 0
        cdef object key, value
        cdef int rc
        try:
            check(mdb_txn_begin(self.env, NULL, 0, &txn), "begin")
            check(mdb_dbi_open(txn, name, MDB_CREATE, &dbi), f"open db {name!r}")
            check(mdb_cursor_open(txn, dbi, &cursor), "cursor")
            for key, value in items:
                if skipping:
                    if skip_by_value:
                        if (<bytes?>value)[:KEY_SIZE] in skip:
                            continue
                    elif key in skip:
                        continue
                k.mv_data = PyBytes_AS_STRING(<bytes?>key)
                k.mv_size = PyBytes_GET_SIZE(key)
                v.mv_data = PyBytes_AS_STRING(<bytes?>value)
                v.mv_size = PyBytes_GET_SIZE(value)
                if 0 <= value_size < <Py_ssize_t>v.mv_size:
                    v.mv_size = value_size
                rc = mdb_cursor_put(cursor, &k, &v, MDB_APPEND)
                if rc == MDB_KEYEXIST:
                    raise ValueError(f"{name.decode()}: keys must be appended in increasing order")
                check(rc, "append")
                written += 1
                in_txn += 1
                if in_txn == COMMIT_EVERY:  # bounds LMDB's dirty-page list
                    mdb_cursor_close(cursor)
                    cursor = NULL
                    rc = mdb_txn_commit(txn)
                    txn = NULL
                    check(rc, "commit")
                    check(mdb_txn_begin(self.env, NULL, 0, &txn), "begin")
                    check(mdb_cursor_open(txn, dbi, &cursor), "cursor")
                    in_txn = 0
            mdb_cursor_close(cursor)
            cursor = NULL
            rc = mdb_txn_commit(txn)
            txn = NULL
            check(rc, "commit")
        finally:
            if cursor != NULL:
                mdb_cursor_close(cursor)
            if txn != NULL:
                mdb_txn_abort(txn)
        return written

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
