# Sets of 8-byte keys for the build's writes (core/writer.pyx): the CCCD keys of rejected rows,
# asked of every entry written. A Python set would need a bytes object per entry asked; this
# asks the entry's own bytes. Open addressing, at most half full. Header-only.
from libc.stdint cimport uint8_t, uint64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy


cdef struct KeySet:
    uint64_t* keys      # 0 marks an empty place; the key 0 itself is has_zero
    uint64_t mask       # places, less one (a power of two)
    bint has_zero
    size_t count


cdef inline uint64_t _mix(uint64_t k) noexcept nogil:
    """splitmix64's finaliser: CCCD keys differ mostly in their low bytes."""
    k ^= k >> 30
    k *= 0xBF58476D1CE4E5B9ULL
    k ^= k >> 27
    k *= 0x94D049BB133111EBULL
    return k ^ (k >> 31)


cdef inline uint64_t _load(const uint8_t* key) noexcept nogil:
    cdef uint64_t k
    memcpy(&k, key, 8)
    return k


cdef inline int keyset_init(KeySet* s, size_t capacity) noexcept nogil:
    """An empty set for up to `capacity` keys; -1 out of memory."""
    cdef uint64_t places = 16
    while places < 2 * capacity:
        places <<= 1
    s.keys = <uint64_t*>calloc(places, sizeof(uint64_t))
    s.mask = places - 1
    s.has_zero = False
    s.count = 0
    return -1 if s.keys == NULL else 0


cdef inline void keyset_add(KeySet* s, const uint8_t* key) noexcept nogil:
    """Add an 8-byte key (the set holds at most the capacity it was made for)."""
    cdef uint64_t k = _load(key), i
    if k == 0:
        s.count += not s.has_zero
        s.has_zero = True
        return
    i = _mix(k) & s.mask
    while s.keys[i] != 0:
        if s.keys[i] == k:
            return
        i = (i + 1) & s.mask
    s.keys[i] = k
    s.count += 1


cdef inline bint keyset_has(const KeySet* s, const uint8_t* key) noexcept nogil:
    cdef uint64_t k = _load(key), i
    if k == 0:
        return s.has_zero
    i = _mix(k) & s.mask
    while s.keys[i] != 0:
        if s.keys[i] == k:
            return True
        i = (i + 1) & s.mask
    return False


cdef inline void keyset_free(KeySet* s) noexcept nogil:
    free(s.keys)
    s.keys = NULL
