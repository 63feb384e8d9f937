# The facility registry's names and levels (SPEC 1.4) as the answer writer reads them: an
# open-addressing table from a 5-character facility code to two JSON strings, made once per
# registry version by core/reader.pyx FacilityTable (whose Python objects own the memory).
from libc.stdint cimport uint8_t, uint32_t, uint64_t


cdef struct FacilityNames:
    const uint64_t* keys    # a slot's packed code (facility_key), 0 when empty
    const uint32_t* spans   # per slot: name offset, name length, level offset, level length
    const char* json        # the JSON strings the spans point into
    uint64_t mask           # slots - 1 (a power of two)


cdef inline uint64_t facility_key(const char* code) noexcept:
    """The code's 5 bytes as a number with a marker bit, so that no code packs to 0."""
    cdef uint64_t k = 1
    cdef int i
    for i in range(5):
        k = k << 8 | <uint8_t>code[i]
    return k


cdef inline uint64_t facility_home(uint64_t key, uint64_t mask) noexcept:
    """The slot a key's probe starts at (Fibonacci hashing); then the next ones, wrapping."""
    return (key * 0x9E3779B97F4A7C15) >> 40 & mask


cdef inline const uint32_t* facility_spans(const FacilityNames* t, const char* code) noexcept:
    """The code's 4 spans in t.json, NULL when the registry lacks it (or there is none)."""
    cdef uint64_t key, slot
    if t == NULL or t.mask == 0:
        return NULL
    key = facility_key(code)
    slot = facility_home(key, t.mask)
    while t.keys[slot] != 0:
        if t.keys[slot] == key:
            return t.spans + 4 * slot
        slot = (slot + 1) & t.mask
    return NULL
