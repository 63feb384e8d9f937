"""Person identifiers and facility codes (docs/DESIGN.md 2, DOMAIN.md 1): the compiled twin of
lookup/reference/ids.py, giving the same results and the same IdError messages."""

from cpython.unicode cimport PyUnicode_DATA, PyUnicode_GET_LENGTH, PyUnicode_KIND, PyUnicode_READ
from libc.stdint cimport uint64_t
from libc.string cimport memcpy

from lookup.errors import IdError

__all__ = ("parse_facility", "parse_id")

cdef extern from "Python.h":
    # Python 3.11 may still hold a str in its legacy form; 3.12+ makes this a no-op.
    int PyUnicode_READY(object text) except -1
    int PyUnicode_1BYTE_KIND

cdef object _IdError = IdError
cdef str _CCCD = "cccd"
cdef str _BHXH = "bhxh_code"
cdef str _CARD = "card_no"
cdef str _FACILITY_MESSAGE = (
    "facility: must be 5 characters, 2 digits then 3 digits or capital letters"
)


cdef inline bint _is_dropped(Py_UCS4 c) noexcept:
    # DESIGN 2 step 1: whitespace a paste may carry.
    return c == u' ' or c == u'\t' or c == u'\r' or c == u'\n'


cdef inline bint _is_digit(Py_UCS4 c) noexcept:
    return u'0' <= c <= u'9'


cdef inline bint _is_upper(Py_UCS4 c) noexcept:
    return u'A' <= c <= u'Z'


cdef inline Py_UCS4 _upper(Py_UCS4 c) noexcept:
    # ASCII letters only: DESIGN 2 step 1 leaves every other character as it is.
    return <Py_UCS4>(<unsigned int>c - 32) if u'a' <= c <= u'z' else c


cdef int classify_id(str text, ParsedId* out) except -1:
    """Normalise and classify in one pass; give up at the first character that needs a message."""
    cdef Py_ssize_t i
    cdef Py_UCS4 c
    cdef int n = 0
    cdef int digits = 0
    cdef int kind
    cdef const void* data
    out.kind = ID_MALFORMED
    PyUnicode_READY(text)
    kind = PyUnicode_KIND(text)
    data = PyUnicode_DATA(text)
    if (kind == PyUnicode_1BYTE_KIND and PyUnicode_GET_LENGTH(text) == 12
            and _twelve_digits(<const char*>data)):
        return _cccd(<const char*>data, out)
    for i in range(PyUnicode_GET_LENGTH(text)):
        c = PyUnicode_READ(kind, data, i)
        if _is_dropped(c):
            continue
        c = _upper(c)
        if n == ID_MAX_LEN or not (_is_digit(c) or _is_upper(c)):
            return ID_MALFORMED
        out.text[n] = <char>c
        n += 1
        digits += _is_digit(c)
    out.text[n] = 0
    out.length = n
    if digits == n and (n == 12 or n == 10):
        out.number = _number(out.text, n)
        out.kind = ID_CCCD if n == 12 else ID_BHXH
    elif n == 15 and _is_card_code(out.text):
        out.kind = ID_CARD
    return out.kind


cdef inline bint _all_digits(uint64_t bytes, uint64_t mask) noexcept:
    # A byte is a digit when its high nibble is 3 and stays 3 with 6 added (0x3A-0x3F carry into
    # 4); no byte carries into the next, as 0x3F + 6 < 0x100. `mask` picks the bytes to check.
    return ((bytes & 0xF0F0F0F0F0F0F0F0ULL & mask) == (0x3030303030303030ULL & mask)
            and ((bytes + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL & mask)
            == (0x3030303030303030ULL & mask))


cdef inline bint _twelve_digits(const char* s) noexcept:
    """Whether 12 one-byte characters are all digits: the common id, a CCCD typed plainly,
    checked 8 and 4 bytes at a time instead of one character at a time."""
    cdef uint64_t head, tail = 0
    memcpy(&head, s, 8)
    memcpy(&tail, s + 8, 4)
    return _all_digits(head, 0xFFFFFFFFFFFFFFFFULL) and _all_digits(tail, 0xFFFFFFFFULL)


cdef inline int _cccd(const char* digits, ParsedId* out) noexcept:
    memcpy(out.text, digits, 12)
    out.text[12] = 0
    out.length = 12
    out.number = _number(digits, 12)
    out.kind = ID_CCCD
    return ID_CCCD


cdef inline uint64_t _number(const char* digits, int n) noexcept:
    cdef uint64_t value = 0
    cdef int i
    for i in range(n):
        value = value * 10 + <uint64_t>(digits[i] - 48)
    return value


cdef inline bint _is_card_code(const char* s) noexcept:
    """DOMAIN 1: 2 letters, a benefit level 1-5, 12 digits (s holds only 0-9A-Z)."""
    cdef int i
    if not (c'A' <= s[0] <= c'Z' and c'A' <= s[1] <= c'Z' and c'1' <= s[2] <= c'5'):
        return False
    for i in range(3, 15):
        if not (c'0' <= s[i] <= c'9'):
            return False
    return True


cdef str _code_point(Py_UCS4 c):
    return f"U+{<unsigned long>c:04X}"


cdef str id_error_message(str text):
    """Walk DESIGN 2 steps 1-7 in order; the first failure names the problem."""
    cdef Py_UCS4 c
    cdef Py_ssize_t position = 0
    cdef list kept = []          # (1-based position in text, normalised character)
    for c in text:
        position += 1
        if not _is_dropped(c):
            kept.append((position, _upper(c)))
    if not kept:
        return "id: empty"
    for position, c in kept:
        if c > 0x7F:
            return f"id: non-ASCII character {_code_point(c)} at position {position}"
    for position, c in kept:
        if not (_is_digit(c) or _is_upper(c)):
            shown = f"'{c}'" if 0x21 <= c <= 0x7E else _code_point(c)
            return f"id: unexpected character {shown} at position {position}"
    cdef str normalised = "".join([ch for _, ch in kept])
    cdef Py_ssize_t n = len(normalised)
    if normalised.isdigit():
        if n == 12 or n == 10:
            return None
        return f"id: {n} digits; a CCCD has 12, a social insurance number 10"
    if n == 15:
        if not (_is_upper(normalised[0]) and _is_upper(normalised[1])):
            return "id: card code must start with 2 letters (beneficiary group)"
        if not (u'1' <= normalised[2] <= u'5'):
            return "id: card code character 3 (benefit level) must be 1-5"
        if not normalised[3:].isdigit():
            return "id: card code characters 4-15 must be digits"
        return None
    return (
        f"id: {n} characters; expected a 12-digit CCCD, a 10-digit social insurance number "
        "or a 15-character card code"
    )


cdef str kind_name(IdKind kind):
    if kind == ID_CCCD:
        return _CCCD
    if kind == ID_BHXH:
        return _BHXH
    return _CARD


def parse_id(str text not None):
    """Classify a pasted person identifier as (kind, normalised id) or raise IdError."""
    cdef ParsedId parsed
    if classify_id(text, &parsed) == ID_MALFORMED:
        raise _IdError(id_error_message(text))
    return kind_name(parsed.kind), parsed.text[:parsed.length].decode("ascii")


def parse_facility(str text not None):
    """Normalise a facility code (2 digits, then 3 digits or capital letters) or raise IdError."""
    cdef Py_UCS4 c
    cdef char code[5]
    cdef int n = 0
    for c in text:
        if _is_dropped(c):
            continue
        c = _upper(c)
        # DESIGN 2: ^[0-9]{2}[0-9A-Z]{3}$ after normalisation.
        if n == 5 or not (_is_digit(c) or (n >= 2 and _is_upper(c))):
            raise _IdError(_FACILITY_MESSAGE)
        code[n] = <char>c
        n += 1
    if n != 5:
        raise _IdError(_FACILITY_MESSAGE)
    return code[:5].decode("ascii")
