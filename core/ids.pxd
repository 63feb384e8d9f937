# C API of core/ids.pyx for the reader (docs/DESIGN.md 2): classify a pasted id without creating
# Python objects; only a malformed id pays for building its message.
from libc.stdint cimport uint64_t

cdef enum IdKind:
    ID_MALFORMED = 0
    ID_CCCD = 1      # 12 digits
    ID_BHXH = 2      # 10 digits, social insurance number
    ID_CARD = 3      # 15 characters, card code

cdef enum:
    ID_MAX_LEN = 15  # the longest valid id (a card code)

cdef struct ParsedId:
    IdKind kind
    int length                   # characters in text
    uint64_t number              # a CCCD or social insurance number as an integer (DESIGN 4)
    char text[ID_MAX_LEN + 1]    # the normalised id, NUL-terminated; unset when ID_MALFORMED

# Fill `out` and return its kind; ID_MALFORMED means id_error_message() holds the reason.
# `text` must not be None.
cdef int classify_id(str text, ParsedId* out) except -1

# The DESIGN 2 message for a malformed id, or None when the id is valid.
cdef str id_error_message(str text)

# "cccd", "bhxh_code" or "card_no" for a valid kind.
cdef str kind_name(IdKind kind)
