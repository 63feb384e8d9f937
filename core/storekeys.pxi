# Included by core/reader.pyx.
# --- an id's key in the store (DESIGN 4) ---
#
# A CCCD or social insurance number is an 8-byte big-endian key, a card code its 15 bytes in
# `cards`, or, when `cards` does not hold it, the number it ends in, in bhxh. Apart from the
# reader's class, which asks these of each Lookup (core/answer.pxi) as it walks the indexes.

cdef inline bint _by_code(Lookup* item) noexcept:
    """Whether the id's index is `cards`: a card code, before it is sought by its suffix."""
    return item.id.kind == ID_CARD and not item.by_suffix


cdef inline const uint8_t* _key_of(Lookup* item) noexcept:
    """The index key of a parsed id (DESIGN 4): 8-byte big-endian numbers, 15-byte codes."""
    if _by_code(item):
        return <const uint8_t*>item.id.text
    be_store(item.id.number, item.key, KEY_LEN)
    return item.key


cdef inline size_t _key_size(Lookup* item) noexcept:
    return CARD_LEN if _by_code(item) else KEY_LEN


cdef inline bint _seek_suffix(Lookup* item) noexcept:
    """For a card code `cards` does not hold, look next in bhxh for its last 10 digits (the
    holder's social insurance number, DESIGN 4); False for any other id."""
    cdef int i
    if not _by_code(item):
        return False
    item.by_suffix = True
    item.id.number = 0
    for i in range(5, CARD_LEN):
        item.id.number = item.id.number * 10 + <uint64_t>(item.id.text[i] - c'0')
    return True


cdef inline bint _index_value(Lookup* item, const MDB_val* value) noexcept:
    """Take the people key from an index value: 8 bytes, else the store is not what a build
    writes (100)."""
    if value.mv_size != KEY_LEN:
        item.found = FOUND_BAD
        return False
    item.cccd = be_load(<const uint8_t*>value.mv_data, KEY_LEN)
    return True


cdef inline void _people_missing(Lookup* item) noexcept:
    # A CCCD nobody holds is 050; an index entry to nobody is a data error (rule 1).
    item.found = FOUND_NONE if item.id.kind == ID_CCCD else FOUND_BAD
