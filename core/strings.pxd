# A snapshot's string table (docs/DESIGN.md 4; lookup/store/strings.py): the texts version-2
# records hold by number (issuers, facility codes, the end of addresses). Read once when a
# snapshot opens, from `meta` `b"strings"` in the memory map: the texts stay where they are,
# the table only points at them. Header-only.
from libc.stdint cimport uint8_t, uint32_t
from libc.stdlib cimport free, malloc


cdef struct StringTable:
    const uint8_t** text    # text[i] is string number i + 1
    uint32_t* size
    Py_ssize_t n


cdef inline bint read_varint(const uint8_t* p, size_t n, size_t* at, uint32_t* out) noexcept:
    """Read a LEB128 number of at most 4 bytes at p[at]; False when it runs past n."""
    cdef uint32_t v = 0
    cdef int shift = 0
    cdef uint8_t b
    while True:
        if at[0] >= n or shift > 21:
            return False
        b = p[at[0]]
        at[0] += 1
        v |= <uint32_t>(b & 0x7F) << shift
        if b < 0x80:
            out[0] = v
            return True
        shift += 7


cdef inline int strings_load(StringTable* t, const uint8_t* blob, size_t n) noexcept:
    """Index a stored table: 0, -1 when a text runs past its end, -2 out of memory. The
    caller checks the texts' UTF-8 (the table is read once; records trust it)."""
    cdef size_t at = 0, count = 0
    cdef uint32_t size
    t.n = 0
    t.text = NULL
    t.size = NULL
    while at < n:  # count first: one allocation
        if not read_varint(blob, n, &at, &size) or size > n - at:
            return -1
        at += size
        count += 1
    t.text = <const uint8_t**>malloc((count + 1) * sizeof(uint8_t*))
    t.size = <uint32_t*>malloc((count + 1) * sizeof(uint32_t))
    if t.text == NULL or t.size == NULL:
        strings_free(t)
        return -2
    at = 0
    while at < n:
        read_varint(blob, n, &at, &t.size[t.n])
        t.text[t.n] = blob + at
        at += t.size[t.n]
        t.n += 1
    return 0


cdef inline void strings_free(StringTable* t) noexcept:
    free(t.text)
    free(<void*>t.size)
    t.text = NULL
    t.size = NULL
    t.n = 0


cdef inline bint string_at(const StringTable* t, uint32_t number, const char** text,
                           Py_ssize_t* size) noexcept:
    """Point at string `number` (0: none, an empty text); False past the table's end."""
    if number == 0:
        text[0], size[0] = NULL, 0
        return True
    if t == NULL or number > <uint32_t>t.n:
        return False
    text[0], size[0] = <const char*>t.text[number - 1], t.size[number - 1]
    return True
