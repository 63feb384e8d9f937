# A Bloom filter over the keys of a delta's overlay (docs/DESIGN.md 4), for core/reader.pyx:
# every lookup asks the overlay first, and nearly all of them are of keys it does not hold. A
# probe of the overlay's B-tree costs ~0.5 us; two bits of this table, ~20 ns. 16 bits per key
# and two probes: about 1.4% of absent keys still go to the tree. Header-only.
from libc.stdint cimport uint8_t, uint64_t
from libc.stdlib cimport calloc, free

from core.lmdb cimport (
    MDB_FIRST, MDB_NEXT, MDB_NOTFOUND, MDB_SUCCESS, MDB_cursor, MDB_dbi, MDB_stat, MDB_txn,
    MDB_val, mdb_cursor_close, mdb_cursor_get, mdb_cursor_open, mdb_stat,
)


cdef struct KeyFilter:
    uint64_t* bits
    uint64_t mask          # of bit positions: a power of two, less one


cdef inline uint64_t _key_hash(const uint8_t* key, size_t size) noexcept nogil:
    """FNV-1a over the key, then a final mix (splitmix64) so both halves are usable."""
    cdef uint64_t h = 14695981039346656037ULL
    cdef size_t i
    for i in range(size):
        h = (h ^ key[i]) * 1099511628211ULL
    h ^= h >> 30
    h *= 0xBF58476D1CE4E5B9ULL
    h ^= h >> 27
    h *= 0x94D049BB133111EBULL
    return h ^ (h >> 31)


cdef inline void _filter_add(KeyFilter* f, const uint8_t* key, size_t size) noexcept nogil:
    cdef uint64_t h = _key_hash(key, size), a = h & f.mask, b = (h >> 32) & f.mask
    f.bits[a >> 6] |= 1ULL << (a & 63)
    f.bits[b >> 6] |= 1ULL << (b & 63)


cdef inline bint filter_may_hold(const KeyFilter* f, const uint8_t* key, size_t size) noexcept:
    """False when the key is surely not among those added; True: ask the tree."""
    cdef uint64_t h, a, b
    if f.bits == NULL:
        return True
    h = _key_hash(key, size)
    a, b = h & f.mask, (h >> 32) & f.mask
    return (f.bits[a >> 6] >> (a & 63)) & (f.bits[b >> 6] >> (b & 63)) & 1


cdef inline int filter_keys(KeyFilter* f, MDB_txn* txn, const MDB_dbi* dbs,
                            int n) noexcept nogil:
    """Add every key of the n databases; 0, -2 out of memory, else the LMDB code."""
    cdef MDB_stat st
    cdef MDB_cursor* cursor
    cdef MDB_val k, v
    cdef uint64_t entries = 0, bits = 1 << 16
    cdef int i, rc
    for i in range(n):
        rc = mdb_stat(txn, dbs[i], &st)
        if rc:
            return rc
        entries += st.ms_entries
    while bits < 16 * entries:
        bits <<= 1
    f.bits = <uint64_t*>calloc(bits // 64, sizeof(uint64_t))
    if f.bits == NULL:
        return -2
    f.mask = bits - 1
    for i in range(n):
        rc = mdb_cursor_open(txn, dbs[i], &cursor)
        if rc:
            return rc
        rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST)
        while rc == MDB_SUCCESS:
            _filter_add(f, <const uint8_t*>k.mv_data, k.mv_size)
            rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)
        mdb_cursor_close(cursor)
        if rc != MDB_NOTFOUND:
            return rc
    return 0


cdef inline void filter_free(KeyFilter* f) noexcept nogil:
    free(f.bits)
    f.bits = NULL
