# The parts of the vendored LMDB 0.9.36 (core/vendor/lmdb/lmdb.h) the reader uses, and the
# types and environment calls it shares with the writer (whose own calls are in
# core/lmdb_write.pxd). Declarations only: a unit that cimports this must compile and link the
# vendored sources (see the distutils header of core/reader.pyx). The page walker, which reads
# the same memory map without these calls, is core/pagewalk.pxd.

cdef extern from "lmdb.h" nogil:
    ctypedef struct MDB_env:
        pass
    ctypedef struct MDB_txn:
        pass
    ctypedef struct MDB_cursor:
        pass
    ctypedef unsigned int MDB_dbi
    ctypedef unsigned int mdb_mode_t

    ctypedef struct MDB_val:
        size_t mv_size
        void* mv_data

    ctypedef struct MDB_stat:
        unsigned int ms_psize
        size_t ms_entries

    ctypedef struct MDB_envinfo:
        size_t me_mapsize
        size_t me_last_pgno

    ctypedef enum MDB_cursor_op:
        MDB_FIRST
        MDB_LAST
        MDB_NEXT
        MDB_SET_KEY

    enum:
        MDB_RDONLY
        MDB_NOTLS
        MDB_NOLOCK
        MDB_SUCCESS
        MDB_NOTFOUND

    char* mdb_strerror(int err)
    int mdb_env_create(MDB_env** env)
    int mdb_env_set_maxdbs(MDB_env* env, MDB_dbi dbs)
    int mdb_env_set_mapsize(MDB_env* env, size_t size)
    int mdb_env_open(MDB_env* env, const char* path, unsigned int flags, mdb_mode_t mode)
    void mdb_env_close(MDB_env* env)
    int mdb_env_stat(MDB_env* env, MDB_stat* stat)
    int mdb_stat(MDB_txn* txn, MDB_dbi dbi, MDB_stat* stat)
    int mdb_env_info(MDB_env* env, MDB_envinfo* info)
    int mdb_txn_begin(MDB_env* env, MDB_txn* parent, unsigned int flags, MDB_txn** txn)
    void mdb_txn_abort(MDB_txn* txn)
    int mdb_dbi_open(MDB_txn* txn, const char* name, unsigned int flags, MDB_dbi* dbi)
    int mdb_get(MDB_txn* txn, MDB_dbi dbi, MDB_val* key, MDB_val* data)
    int mdb_cursor_open(MDB_txn* txn, MDB_dbi dbi, MDB_cursor** cursor)
    void mdb_cursor_close(MDB_cursor* cursor)
    int mdb_cursor_get(MDB_cursor* cursor, MDB_val* key, MDB_val* data, MDB_cursor_op op)
