# Big-endian numbers: every key of the store and of the build's sorters is one (DESIGN 4), and a
# few values are. The one copy of the two loops, which the compiler turns into a byte swap when
# `size` is a constant. Header-only.
from libc.stdint cimport uint8_t, uint64_t


cdef inline uint64_t be_load(const uint8_t* p, int size) noexcept nogil:
    """The `size` bytes at p as a number."""
    cdef uint64_t v = 0
    cdef int i
    for i in range(size):
        v = v << 8 | p[i]
    return v


cdef inline void be_store(uint64_t v, uint8_t* out, int size) noexcept nogil:
    """Write v's low `size` bytes to out, the most significant first."""
    cdef int i
    for i in range(size - 1, -1, -1):
        out[i] = <uint8_t>(v & 0xFF)
        v >>= 8
