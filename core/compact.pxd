# The C side of core/compact.pyx (version-2 records), for the build's read loop
# (core/csvrows.pyx) and the writer (core/writer.pyx).
cimport cython
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.string cimport memcpy

from core.sorter cimport Entry, _Items


cdef struct LastText:
    # The text interned last for a field: rows near each other often share their issuer or
    # commune, which then needs no lookup.
    const char* text
    Py_ssize_t size
    uint32_t number


cdef inline bint same_bytes(const char* a, const char* b, size_t n) noexcept:
    """memcmp(a, b, n) == 0 without a call: the texts and keys compared are short."""
    cdef uint64_t x, y
    while n >= 8:
        memcpy(&x, a, 8)
        memcpy(&y, b, 8)
        if x != y:
            return False
        a += 8
        b += 8
        n -= 8
    while n:
        if a[0] != b[0]:
            return False
        a += 1
        b += 1
        n -= 1
    return True


cdef struct Place:
    # A place of the Interner's table: what a lookup compares, side by side.
    uint32_t number              # the text's number; 0: an empty place
    uint32_t hash                # the text's hash, low 32 bits
    const char* text             # the bytes in `texts`, which keeps them alive
    Py_ssize_t size


@cython.final
cdef class Interner:
    cdef dict ids
    cdef list texts
    cdef LastText last[3]        # per field: locality, facility, issuer
    cdef Place* table            # NULL: use the dict
    cdef size_t mask             # places, less one
    cdef Py_ssize_t tabled       # texts in the table: texts[:tabled]

    cdef int use_table(self) except -1
    cdef uint32_t number(self, const char* text, Py_ssize_t size, int field) except? 0xFFFFFFFF
    cdef uint32_t find(self, const char* text, Py_ssize_t size) except? 0xFFFFFFFF
    cdef int take_new_texts(self) except -1
    cdef int grow(self, size_t places) except -1
    cdef void place(self, uint32_t number) noexcept


# Write the version-1 record p[:n] as version 2 into buf (n bytes at least); return its size.
cdef Py_ssize_t compact_record(const uint8_t* p, Py_ssize_t n, uint8_t* buf,
                               Interner strings, bint made_here=*) except -1


@cython.final
cdef class _Renumbered:
    cdef object items
    cdef _Items merged           # items, when a sorter's merge: read in place
    cdef Py_ssize_t origins
    cdef uint32_t** numbers      # per origin: NULL (as it is) or its map
    cdef size_t* counts
    cdef uint8_t* buf            # the record last renumbered
    cdef size_t cap

    cdef bint next_entry(self, Entry* e) except -1
    cdef int renumber(self, Entry* e) except -1
