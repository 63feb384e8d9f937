# The write side of the vendored LMDB 0.9.36 (core/vendor/lmdb/lmdb.h), for core/writer.pyx:
# the build's LMDB append. The read side and the shared types are in core/lmdb.pxd.
from core.lmdb cimport MDB_cursor, MDB_dbi, MDB_env, MDB_txn, MDB_val


cdef extern from "lmdb.h" nogil:
    enum:
        MDB_CREATE
        MDB_APPEND
        MDB_NOSYNC
        MDB_NOMETASYNC
        MDB_KEYEXIST
    int mdb_txn_commit(MDB_txn* txn)
    int mdb_cursor_put(MDB_cursor* cursor, MDB_val* key, MDB_val* data, unsigned int flags)
    int mdb_put(MDB_txn* txn, MDB_dbi dbi, MDB_val* key, MDB_val* data, unsigned int flags)
    int mdb_del(MDB_txn* txn, MDB_dbi dbi, MDB_val* key, MDB_val* data)
    int mdb_env_sync(MDB_env* env, int force)
