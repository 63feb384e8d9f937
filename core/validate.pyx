"""Extract and delta row validation and record encoding (docs/DESIGN.md 5), compiled.

The twin of lookup/reference/validate.py: the same checks in the same order, the same
RowError(field, message), byte-identical records. The build runs it on every row of a
national extract (~100 million), so the common row creates no Python object besides the
outputs: its values are checked as UTF-8 bytes where the extract's read buffer has them
(check_spans, fed by csvrows.Rows.next_spans), and the three texts are normalised into a stack
buffer when they are provably NFC already (see _FAST_TEXT_RANGES). validate() and check() take a
list of strs and check their UTF-8 the same way.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_SET_ITEM
from cpython.unicode cimport (
    PyUnicode_AsUTF8AndSize,
    PyUnicode_DATA,
    PyUnicode_DecodeUTF8,
    PyUnicode_GET_LENGTH,
    PyUnicode_KIND,
    PyUnicode_READ,
)
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcmp, memcpy, memset

from core.bigendian cimport be_store
from core.calendar cimport is_real_date, pack_date
from core.rules cimport _is_utf8
from core.record cimport (
    CARD_LEN,
    FACILITY_LEN,
    HEADER_SIZE,
    KEY_LEN,
    MB_VSS,
    OFF_ADDRESS_LEN,
    OFF_CARD_NO,
    OFF_DOB,
    OFF_FACILITY,
    OFF_FIVE_YEAR,
    OFF_GENDER,
    OFF_ISSUER_LEN,
    OFF_MANAGED_BY,
    OFF_NAME_LEN,
    OFF_PREV_CARD_NO,
    OFF_PREV_VALID_TO,
    OFF_REGION,
    OFF_RESERVED,
    OFF_STATUS,
    OFF_VALID_FROM,
    OFF_VALID_TO,
    OFF_VERSION,
    RECORD_VERSION,
    ST_ACTIVE,
)

import unicodedata
from collections import namedtuple

from lookup.errors import RowError
from lookup.schema import CARD_PROVINCES, GROUP_LEVELS, GROUP_MINISTRY

__all__ = ("RowValidator", "ValidRow")

cdef extern from "Python.h":
    object PyType_GenericAlloc(type t, Py_ssize_t nitems)
    enum:
        PyUnicode_1BYTE_KIND
        PyUnicode_2BYTE_KIND

# One code unit of each CPython string representation (PEP 393).
ctypedef fused code_unit:
    uint8_t
    uint16_t
    uint32_t


ValidRow = namedtuple(
    "ValidRow", ("op", "cccd_key", "bhxh_key", "card_no", "prev_card_no", "record", "quality")
)
ValidRow.__module__ = __name__
ValidRow.__doc__ = "One validated row: the record and the keys the build indexes it under."
cdef type ValidRowType = ValidRow


cdef object valid_row(tuple items):
    """Make a ValidRow of 7 items, as tuple.__new__(ValidRow, items) does, without its call."""
    cdef Py_ssize_t i
    row = PyType_GenericAlloc(ValidRowType, 7)  # a namedtuple's tp_alloc: tuple layout, zeroed
    for i in range(7):
        item = items[i]
        Py_INCREF(item)  # PyTuple_SET_ITEM steals a reference
        PyTuple_SET_ITEM(row, i, item)
    return row

# --- Fields -------------------------------------------------------------------------------------

# Indexed by Field (validate.pxd).
cdef tuple FIELD_NAMES = (
    "op", "cccd", "bhxh_code", "card_no", "full_name", "dob", "gender", "address",
    "facility_code", "valid_from", "valid_to", "five_year_date", "region_code", "status",
    "managed_by", "prev_card_no", "prev_valid_to", "issuer",
)

# DESIGN 4: enumerations are stored as their index in DESIGN order (regions from 1: 0 is none).
cdef tuple STATUSES = (
    b"active", b"revoked", b"reduced", b"reduced_out_province", b"reduced_in_province",
    b"reduced_rejoined", b"reduced_stopped",
)
cdef tuple MANAGERS = (b"vss", b"defence", b"police")
cdef tuple REGIONS = (b"K1", b"K2", b"K3")
cdef tuple OPS = (b"upsert", b"delete")
cdef enum:
    OP_UPSERT, OP_DELETE

cdef str STATUS_FORM = "must be one of " + ", ".join(name.decode() for name in STATUSES)
cdef str CARD_FORM = "must be 2 capital letters, a benefit level 1-5 and 12 digits"
cdef str DATE_FORM = "must be YYYY-MM-DD"
cdef str DOB_FORM = "must be YYYY-MM-DD, YYYY-MM or YYYY"
cdef str NOT_REAL = "not a real date"

cdef object _normalize = unicodedata.normalize

# --- Data quality (DESIGN 5, DOMAIN.md 1) --------------------------------------------------------

cdef enum:
    QUALITY_SEX_OR_CENTURY = 1
    QUALITY_BIRTH_YEAR = 2
    QUALITY_PROVINCE = 4
    QUALITY_CARD_GROUP = 8
    QUALITY_CARD_LEVEL = 16
    QUALITY_CARD_PROVINCE = 32
    QUALITY_CARD_MINISTRY = 64

# CCCD digits 1-3: province codes in force before the 2025 merger; numbers are never reissued.
cdef bint IS_PROVINCE[1000]
memset(IS_PROVINCE, 0, sizeof(IS_PROVINCE))
for _code in (
    "001 002 004 006 008 010 011 012 014 015 017 019 020 022 024 025 026 027 030 031 033 034 035"
    " 036 037 038 040 042 044 045 046 048 049 051 052 054 056 058 060 062 064 066 067 068 070 072"
    " 074 075 077 079 080 082 083 084 086 087 089 091 092 093 094 095 096"
).split():
    IS_PROVINCE[int(_code)] = True
del _code


# The card code's parts against DOMAIN 1-2 (lookup.schema), indexed by the group's two capital
# letters: the level digits its cards carry (bit per level; 0: unknown group) and the ministry
# that manages it (1 + its managed_by code; 0: none).
cdef uint8_t GROUP_LEVEL_BITS[26 * 26]
cdef uint8_t GROUP_MANAGER[26 * 26]
cdef bint IS_CARD_PROVINCE[100]
memset(GROUP_LEVEL_BITS, 0, sizeof(GROUP_LEVEL_BITS))
memset(GROUP_MANAGER, 0, sizeof(GROUP_MANAGER))
memset(IS_CARD_PROVINCE, 0, sizeof(IS_CARD_PROVINCE))
for _group, _levels in GROUP_LEVELS.items():
    for _level in _levels:
        GROUP_LEVEL_BITS[(ord(_group[0]) - 65) * 26 + ord(_group[1]) - 65] |= 1 << int(_level)
for _group, _manager in GROUP_MINISTRY.items():
    GROUP_MANAGER[(ord(_group[0]) - 65) * 26 + ord(_group[1]) - 65] = 1 + MANAGERS.index(
        _manager.encode())
for _code in CARD_PROVINCES:
    IS_CARD_PROVINCE[int(_code)] = True
del _group, _levels, _level, _manager, _code


cdef int card_quality(const uint8_t* card, int managed_by) noexcept:
    """The card code's data-quality flags (DESIGN 5): its group, level and province against
    DOMAIN 1-2, and the ministry its group names against managed_by (card already checked)."""
    cdef int group = (card[0] - 65) * 26 + card[1] - 65
    cdef int flags = 0
    if GROUP_LEVEL_BITS[group] == 0:
        flags |= QUALITY_CARD_GROUP
    elif not GROUP_LEVEL_BITS[group] & (1 << (card[2] - 48)):
        flags |= QUALITY_CARD_LEVEL
    if not IS_CARD_PROVINCE[(card[3] - 48) * 10 + card[4] - 48]:
        flags |= QUALITY_CARD_PROVINCE
    if GROUP_MANAGER[group] and GROUP_MANAGER[group] != 1 + managed_by:
        flags |= QUALITY_CARD_MINISTRY
    return flags


cdef inline int century_digit(int year) noexcept:
    """The even CCCD digit 4 of a man born in `year` (DOMAIN.md 1); a woman's is one more."""
    if year < 1900:
        return 8
    return (year // 100 - 19) * 2


cdef int quality(const uint8_t* cccd, uint32_t dob, int gender) noexcept:
    cdef int year = dob // 10000
    cdef int digit = cccd[3] - 48
    cdef int flags = 0
    # Gender 3 (unknown) never disagrees with the sex digit.
    if digit - digit % 2 != century_digit(year) or (gender != 3 and digit % 2 != gender - 1):
        flags |= QUALITY_SEX_OR_CENTURY
    if (cccd[4] - 48) * 10 + (cccd[5] - 48) != year % 100:
        flags |= QUALITY_BIRTH_YEAR
    if not IS_PROVINCE[(cccd[0] - 48) * 100 + (cccd[1] - 48) * 10 + (cccd[2] - 48)]:
        flags |= QUALITY_PROVINCE
    return flags

# --- ASCII fields, read in place ----------------------------------------------------------------


cdef bint fixed(Span s, Py_ssize_t n, uint8_t* out) noexcept:
    """Copy s into out when it is exactly n bytes; else return False.

    The callers then accept ASCII digits and letters only, so n bytes of other UTF-8 fail as n
    characters that are not all ASCII do in the reference.
    """
    if s.n != n:
        return False
    memcpy(out, s.p, n)
    return True


cdef inline bint is_digit(uint8_t c) noexcept:
    return 48 <= c <= 57


cdef inline bint is_upper(uint8_t c) noexcept:
    return 65 <= c <= 90


cdef bint all_digits(const uint8_t* p, Py_ssize_t n) noexcept:
    cdef Py_ssize_t i
    for i in range(n):
        if not is_digit(p[i]):
            return False
    return True


cdef inline bint is_ascii(const uint8_t* p, Py_ssize_t n) noexcept:
    cdef uint64_t word, seen = 0
    cdef Py_ssize_t i = 0
    while i + 8 <= n:
        memcpy(&word, p + i, 8)
        seen |= word
        i += 8
    while i < n:
        seen |= p[i]
        i += 1
    return (seen & 0x8080808080808080ULL) == 0


cdef inline bint differ(const uint8_t* a, const uint8_t* b, Py_ssize_t n) noexcept:
    """Whether the n bytes at a and b differ."""
    cdef Py_ssize_t i
    for i in range(n):
        if a[i] != b[i]:
            return True
    return False


cdef bint is_card(const uint8_t* p) noexcept:
    """DESIGN 5: ^[A-Z]{2}[1-5][0-9]{12}$ (15 bytes already read)."""
    return is_upper(p[0]) and is_upper(p[1]) and 49 <= p[2] <= 53 and all_digits(p + 3, 12)


cdef bint is_facility(const uint8_t* p) noexcept:
    """DESIGN 5: ^[0-9]{2}[0-9A-Z]{3}$ (5 bytes already read)."""
    cdef int i
    if not (is_digit(p[0]) and is_digit(p[1])):
        return False
    for i in range(2, 5):
        if not (is_digit(p[i]) or is_upper(p[i])):
            return False
    return True


cdef uint8_t gender_code(Span s) noexcept:
    """DESIGN 4 gender code of "1", "2" or "3"; 0 for anything else."""
    if s.n != 1:
        return 0
    return <uint8_t>(s.p[0] - 48) if 49 <= s.p[0] <= 51 else 0


cdef int code_of(Span s, tuple names) noexcept:
    """The index of s in `names` (bytes), -1 when it is none of them."""
    cdef Py_ssize_t i
    cdef bytes name
    for i in range(len(names)):
        name = <bytes>names[i]
        if PyBytes_GET_SIZE(name) == s.n and memcmp(PyBytes_AS_STRING(name), s.p, s.n) == 0:
            return <int>i
    return -1


cdef uint64_t decimal(const uint8_t* p, Py_ssize_t n) noexcept:
    cdef uint64_t v = 0
    cdef Py_ssize_t i
    for i in range(n):
        v = v * 10 + (p[i] - 48)
    return v


# --- Dates (DESIGN 3) ----------------------------------------------------------------------------

cdef enum DateResult:
    DATE_OK, DATE_FORM_ERROR, DATE_NOT_REAL


cdef DateResult parse_date(Span s, bint partial, uint32_t* out) noexcept:
    """Parse YYYY-MM-DD (and, when partial, YYYY-MM or YYYY) of ASCII digits into out."""
    cdef const uint8_t* p = s.p
    cdef Py_ssize_t n = s.n
    cdef int y, m = 1, d = 1  # what is not given is checked as 1 and packed as 0
    if not (n == 10 or (partial and (n == 4 or n == 7))):
        return DATE_FORM_ERROR
    if not all_digits(p, 4) or (n > 4 and (p[4] != 45 or not all_digits(p + 5, 2))):
        return DATE_FORM_ERROR
    if n > 7 and (p[7] != 45 or not all_digits(p + 8, 2)):
        return DATE_FORM_ERROR
    y = <int>decimal(p, 4)
    if n > 4:
        m = <int>decimal(p + 5, 2)
    if n > 7:
        d = <int>decimal(p + 8, 2)
    if not is_real_date(y, m, d):
        return DATE_NOT_REAL
    out[0] = pack_date(y, m if n > 4 else 0, d if n > 7 else 0)
    return DATE_OK

# --- Texts (DESIGN 5: NFC, whitespace collapsed, code points counted) ----------------------------

# Code points that may take the fast path besides ASCII. Each is NFC on its own, a starter
# (combining class 0), neither a control nor whitespace, and never the second half of a canonical
# composition, so a string of them and printable ASCII is NFC as it stands and normalisation
# reduces to collapsing ASCII whitespace. tests/test_validate.py checks every code point.
# They cover Vietnamese: Latin-1 letters, Latin Extended-A/B, Latin Extended Additional.
_FAST_TEXT_RANGES = ((0x00C0, 0x024F), (0x1E00, 0x1EFF))
cdef enum:
    FAST_A_FIRST = 0x00C0
    FAST_A_LAST = 0x024F
    FAST_B_FIRST = 0x1E00
    FAST_B_LAST = 0x1EFF
# NAME_LIMIT, TEXT_LIMIT, MAX_UTF8 and RECORD_MAX are in validate.pxd.

cdef enum TextResult:
    TEXT_OK, TEXT_EMPTY, TEXT_CONTROL, TEXT_TOO_LONG, TEXT_SLOW

# struct Text (what a normalised text took) is in validate.pxd.


cdef enum AsciiClass:
    ASCII_TEXT, ASCII_SPACE, ASCII_CONTROL

# str.split() whitespace below 128 is tab, LF, VT, FF, CR, FS, GS, RS, US and space; the other
# C0 controls and DEL are category Cc (both checked by tests/test_validate.py).
cdef uint8_t ASCII_CLASS[128]
for _c in range(128):
    ASCII_CLASS[_c] = (
        ASCII_SPACE if _c == 32 or 9 <= _c <= 13 or 28 <= _c <= 31
        else ASCII_CONTROL if _c < 32 or _c == 127
        else ASCII_TEXT
    )
del _c


# Bytes that keep a text off plain_text(): controls, whitespace but the space, and the lead bytes
# of code points outside the fast ranges (C2: U+0080-U+00BF; CA-DF, E0, E2-FF: past U+024F
# but U+1E00-U+1EFF, whose lead E1 is checked with the byte after it, as is C9's).
cdef bint NOT_PLAIN[256]
for _c in range(256):
    NOT_PLAIN[_c] = (
        (_c < 128 and ASCII_CLASS[_c] != ASCII_TEXT and _c != 32)
        or _c in (0xC0, 0xC1, 0xC2) or 0xCA <= _c <= 0xE0 or _c >= 0xE2
    )
del _c


cdef TextResult finish(Text* t, Py_ssize_t limit) noexcept:
    if t.nchars == 0:
        return TEXT_EMPTY
    if t.nchars > limit:
        return TEXT_TOO_LONG
    return TEXT_OK


cdef TextResult plain_text(Span s, Py_ssize_t limit, uint8_t* out, Text* t) noexcept:
    """Copy a text that normalises to itself, or TEXT_SLOW when it may not.

    Plain: fast-path code points and printable ASCII, single spaces between words. The common
    text is plain, and this one pass without a branch per character costs a third of fast_text's;
    s is valid UTF-8 (checked first), so a lead byte is never its last.
    """
    cdef const uint8_t* p = s.p
    cdef Py_ssize_t i, n = s.n, continuations = 0
    cdef uint8_t c, d
    cdef bint off = False
    if n == 0:
        return TEXT_SLOW  # fast_text says why
    for i in range(n - 1):
        c = p[i]
        d = p[i + 1]
        off |= NOT_PLAIN[c] | ((c == 32) & (d == 32))
        off |= ((c == 0xE1) & (<uint8_t>(d - 0xB8) > 3)) | ((c == 0xC9) & (d > 0x8F))
        continuations += (c & 0xC0) == 0x80
    c = p[n - 1]
    off |= NOT_PLAIN[c] | (c == 32) | (p[0] == 32)
    continuations += (c & 0xC0) == 0x80
    if off:
        return TEXT_SLOW
    t.nchars = n - continuations
    if t.nchars > limit:
        t.nbytes = 0
        return TEXT_TOO_LONG
    memcpy(out, p, n)
    t.nbytes = n
    return TEXT_OK


cdef TextResult fast_text(Span s, Py_ssize_t limit, uint8_t* out, Text* t) noexcept:
    """Collapse ASCII whitespace and copy, or TEXT_SLOW at a code point off the fast path.

    s is valid UTF-8 (checked first). Writes at most `limit` code points (3 bytes each at most)
    but counts them all, for the "101 characters" message.
    """
    cdef const uint8_t* p = s.p
    cdef Py_ssize_t i = 0, width, nbytes = 0, nchars = 0  # locals: `out` may not alias them
    cdef uint32_t c
    cdef uint8_t ascii
    cdef bint pending_space = False
    while i < s.n:
        c = p[i]
        if c < 0x80:
            ascii = ASCII_CLASS[c]
            if ascii == ASCII_SPACE:
                pending_space = nchars > 0  # leading whitespace is dropped
                i += 1
                continue
            if ascii == ASCII_CONTROL:
                return TEXT_SLOW  # the reference path reports it
            width = 1
        elif c < 0xE0:
            c = (c & 0x1F) << 6 | (p[i + 1] & 0x3F)
            width = 2
        elif c < 0xF0:
            c = (c & 0x0F) << 12 | (p[i + 1] & 0x3F) << 6 | (p[i + 2] & 0x3F)
            width = 3
        else:
            return TEXT_SLOW  # astral code points are never on the fast path
        if c >= 0x80 and not (FAST_A_FIRST <= c <= FAST_A_LAST or FAST_B_FIRST <= c <= FAST_B_LAST):
            return TEXT_SLOW
        if pending_space:
            pending_space = False
            if nchars < limit:
                out[nbytes] = 32
                nbytes += 1
            nchars += 1
        if nchars < limit:
            memcpy(out + nbytes, p + i, width)
            nbytes += width
        nchars += 1
        i += width
    t.nbytes = nbytes
    t.nchars = nchars
    return finish(t, limit)


cdef int slow_text(str s, Py_ssize_t limit, uint8_t* out, Text* t) except -1:
    """The reference expression, for texts off the fast path (rare: decomposed input, symbols)."""
    cdef str text = " ".join(_normalize("NFC", s).split())
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    cdef Py_ssize_t i, size
    cdef uint32_t c
    cdef const char* utf8
    t.nbytes = 0
    t.nchars = PyUnicode_GET_LENGTH(text)
    if t.nchars == 0:
        return TEXT_EMPTY
    for i in range(t.nchars):
        c = PyUnicode_READ(kind, data, i)
        if c < 0x20 or 0x7F <= c <= 0x9F:  # exactly Unicode category Cc (checked by a test)
            return TEXT_CONTROL
    if t.nchars > limit:
        return TEXT_TOO_LONG
    utf8 = PyUnicode_AsUTF8AndSize(text, &size)
    if size > limit * MAX_UTF8:
        raise AssertionError("normalised text longer than its UTF-8 bound")
    memcpy(out, utf8, size)
    t.nbytes = size
    return TEXT_OK

# --- Record header (DESIGN 4, little-endian) -----------------------------------------------------


cdef inline void put_u16(uint8_t* p, uint16_t v) noexcept:
    p[0] = v & 0xFF
    p[1] = v >> 8


cdef inline void put_u32(uint8_t* p, uint32_t v) noexcept:
    p[0] = v & 0xFF
    p[1] = (v >> 8) & 0xFF
    p[2] = (v >> 16) & 0xFF
    p[3] = v >> 24


cdef struct Header:
    uint8_t gender, status, managed_by, region
    uint16_t name_len, address_len, issuer_len
    uint32_t dob, valid_from, valid_to, five_year, prev_valid_to
    uint8_t card_no[CARD_LEN]
    uint8_t facility[FACILITY_LEN]
    uint8_t prev_card_no[CARD_LEN]  # all NUL when none


cdef void write_header(uint8_t* p, Header* h) noexcept:
    p[OFF_VERSION] = RECORD_VERSION
    p[OFF_GENDER] = h.gender
    p[OFF_STATUS] = h.status
    p[OFF_MANAGED_BY] = h.managed_by
    p[OFF_REGION] = h.region
    p[OFF_RESERVED] = 0
    put_u16(p + OFF_NAME_LEN, h.name_len)
    put_u16(p + OFF_ADDRESS_LEN, h.address_len)
    put_u16(p + OFF_ISSUER_LEN, h.issuer_len)
    put_u32(p + OFF_DOB, h.dob)
    put_u32(p + OFF_VALID_FROM, h.valid_from)
    put_u32(p + OFF_VALID_TO, h.valid_to)
    put_u32(p + OFF_FIVE_YEAR, h.five_year)
    put_u32(p + OFF_PREV_VALID_TO, h.prev_valid_to)
    memcpy(p + OFF_CARD_NO, h.card_no, CARD_LEN)
    memcpy(p + OFF_FACILITY, h.facility, FACILITY_LEN)
    memcpy(p + OFF_PREV_CARD_NO, h.prev_card_no, CARD_LEN)

# --- The validator -------------------------------------------------------------------------------


cdef bint has_surrogate(str s) noexcept:
    """Lone surrogates are the bytes surrogateescape could not decode as UTF-8."""
    cdef int kind = PyUnicode_KIND(s)
    if kind == PyUnicode_1BYTE_KIND:
        return False  # the common case: nothing to scan
    if kind == PyUnicode_2BYTE_KIND:
        return has_surrogate_of(<const uint16_t*>PyUnicode_DATA(s), PyUnicode_GET_LENGTH(s))
    return has_surrogate_of(<const uint32_t*>PyUnicode_DATA(s), PyUnicode_GET_LENGTH(s))


cdef bint has_surrogate_of(const code_unit* data, Py_ssize_t n) noexcept:
    cdef Py_ssize_t i
    cdef bint found = False
    for i in range(n):
        found |= <uint32_t>(data[i] - 0xD800) < 0x800  # no early exit: the loop vectorises
    return found


cdef inline bytes key_bytes(const uint8_t* key):
    return PyBytes_FromStringAndSize(<const char*>key, KEY_LEN)


cdef inline object fail(int field, str tail):
    name = FIELD_NAMES[field]
    raise RowError(name, f"{name}: {tail}")


@cython.final
@cython.auto_pickle(False)  # C state: nothing to pickle
cdef class RowValidator:
    """Validate rows of one extract (or delta) file whose header is `columns`."""

    def __cinit__(self):
        self.spans = NULL

    def __init__(self, columns, delta=False):
        """Remember where each column is; the caller has checked the names (SPEC 1.1)."""
        cdef int f
        self.columns = tuple(columns)
        self.delta = delta
        for f in range(<int>N_FIELDS):
            name = FIELD_NAMES[f]
            # The first column of that name, as in the reference (the caller rejects repeats).
            self.index[f] = self.columns.index(name) if name in self.columns else -1
        free(self.spans)
        self.spans = <Span*>calloc(max(1, len(self.columns)), sizeof(Span))
        if self.spans == NULL:
            raise MemoryError()

    def __dealloc__(self):
        free(self.spans)

    cdef Span get(self, const Span* row, int field) noexcept:
        """A missing optional column and an empty value are the same: absent."""
        cdef Py_ssize_t i = self.index[field]
        cdef Span absent
        if i < 0:
            absent.p, absent.n = <const uint8_t*>b"", 0
            return absent
        return row[i]

    def validate(self, values):
        """Check one row; return its record and keys or raise RowError (DESIGN 5)."""
        cdef list row = values if type(values) is list else list(values)
        cdef Checked c
        self.check(row, &c)
        if c.delete:
            return valid_row(("delete", key_bytes(c.cccd_key), None, None, None, None, 0))
        return valid_row((
            "upsert",
            key_bytes(c.cccd_key),
            key_bytes(c.bhxh_key),
            PyBytes_FromStringAndSize(<char*>c.card_no, CARD_LEN),
            PyBytes_FromStringAndSize(<char*>c.prev_card_no, CARD_LEN) if c.has_prev else None,
            PyBytes_FromStringAndSize(<char*>c.record, c.record_len),
            c.quality,
        ))

    cdef int check(self, list row, Checked* out) except -1:
        """validate() as C data for the build's loop (core/csvrows.pyx): fill out or raise."""
        cdef Py_ssize_t i
        cdef str value
        if len(row) != len(self.columns):
            raise RowError("row", f"row: {len(row)} fields; the header has {len(self.columns)}")
        for i in range(len(row)):
            value = row[i]
            if has_surrogate(value):
                name = self.columns[i]
                raise RowError(name, f"{name}: not valid UTF-8")
            # Cached in the str (an ASCII one's is its own data), which the list keeps alive.
            self.spans[i].p = <const uint8_t*>PyUnicode_AsUTF8AndSize(value, &self.spans[i].n)
        return self.check_utf8(self.spans, out)

    cdef int check_spans(self, const Span* row, Py_ssize_t count, Checked* out) except -1:
        """check() of the row's values as bytes, as the extract has them (Rows.next_spans)."""
        cdef Py_ssize_t i
        if count != len(self.columns):
            raise RowError("row", f"row: {count} fields; the header has {len(self.columns)}")
        for i in range(count):
            # Most values are ASCII, checked eight bytes at a time; the others as the strict
            # decoder checks them (see core/rules.pxd).
            if not is_ascii(row[i].p, row[i].n) and not _is_utf8(row[i].p, row[i].n):
                name = self.columns[i]
                raise RowError(name, f"{name}: not valid UTF-8")
        return self.check_utf8(row, out)

    cdef int check_utf8(self, const Span* row, Checked* out) except -1:
        """The checks after the row's shape and encoding."""
        cdef uint8_t cccd[12]
        cdef Span value
        cdef int op = OP_UPSERT
        if self.delta:
            op = code_of(self.get(row, F_OP), OPS)
            if op < 0:
                fail(F_OP, "must be upsert or delete")
        value = self.get(row, F_CCCD)
        if not value.n:
            fail(F_CCCD, "required")
        if not fixed(value, 12, cccd) or not all_digits(cccd, 12):
            fail(F_CCCD, "must be 12 digits")
        be_store(decimal(cccd, 12), out.cccd_key, KEY_LEN)
        out.delete = op == OP_DELETE
        if out.delete:
            return 0
        return self.upsert(row, cccd, out)

    cdef int upsert(self, const Span* row, const uint8_t* cccd, Checked* out) except -1:
        cdef uint8_t bhxh[10]
        cdef uint8_t* buf = out.record
        cdef uint8_t* texts = buf + HEADER_SIZE
        cdef Header h
        cdef Text t
        cdef Span value, prev_card
        cdef int code

        value = self.get(row, F_BHXH)
        if not value.n:
            fail(F_BHXH, "required")
        if not fixed(value, 10, bhxh) or not all_digits(bhxh, 10):
            fail(F_BHXH, "must be 10 digits")
        value = self.get(row, F_CARD)
        if not value.n:
            fail(F_CARD, "required")
        if not fixed(value, CARD_LEN, h.card_no) or not is_card(h.card_no):
            fail(F_CARD, CARD_FORM)
        if differ(h.card_no + 5, bhxh, 10):
            fail(F_CARD, "last 10 digits must equal bhxh_code")

        self.text(row, F_NAME, NAME_LIMIT, True, texts, &t)
        h.name_len = <uint16_t>t.nbytes
        texts += t.nbytes

        self.date(row, F_DOB, True, True, &h.dob)
        value = self.get(row, F_GENDER)
        if not value.n:
            fail(F_GENDER, "required")
        h.gender = gender_code(value)
        if h.gender == 0:
            fail(F_GENDER, "must be 1 (male), 2 (female) or 3 (unknown)")

        self.text(row, F_ADDRESS, TEXT_LIMIT, False, texts, &t)
        h.address_len = <uint16_t>t.nbytes
        texts += t.nbytes

        value = self.get(row, F_FACILITY)
        if not value.n:
            fail(F_FACILITY, "required")
        if not fixed(value, FACILITY_LEN, h.facility) or not is_facility(h.facility):
            fail(F_FACILITY, "must be 2 digits then 3 digits or capital letters")
        self.date(row, F_VALID_FROM, True, False, &h.valid_from)
        self.date(row, F_VALID_TO, True, False, &h.valid_to)
        if h.valid_to < h.valid_from:
            fail(F_VALID_TO, "before valid_from")
        self.date(row, F_FIVE_YEAR, False, False, &h.five_year)

        h.region = 0
        value = self.get(row, F_REGION)
        if value.n:
            code = code_of(value, REGIONS)
            if code < 0:
                fail(F_REGION, "must be K1, K2 or K3")
            h.region = code + 1  # DESIGN 4: 0 is none
        h.status = ST_ACTIVE
        value = self.get(row, F_STATUS)
        if value.n:
            code = code_of(value, STATUSES)
            if code < 0:
                fail(F_STATUS, STATUS_FORM)
            h.status = code
        h.managed_by = MB_VSS
        value = self.get(row, F_MANAGED_BY)
        if value.n:
            code = code_of(value, MANAGERS)
            if code < 0:
                fail(F_MANAGED_BY, "must be vss, defence or police")
            h.managed_by = code

        memset(h.prev_card_no, 0, CARD_LEN)
        prev_card = self.get(row, F_PREV_CARD)
        if prev_card.n:
            if not fixed(prev_card, CARD_LEN, h.prev_card_no) or not is_card(h.prev_card_no):
                fail(F_PREV_CARD, CARD_FORM)
            if not differ(h.prev_card_no, h.card_no, CARD_LEN):
                fail(F_PREV_CARD, "same as card_no")
        self.date(row, F_PREV_VALID_TO, False, False, &h.prev_valid_to)
        if h.prev_valid_to and not prev_card.n:
            fail(F_PREV_VALID_TO, "given without prev_card_no")

        self.text(row, F_ISSUER, TEXT_LIMIT, False, texts, &t)
        h.issuer_len = <uint16_t>t.nbytes
        texts += t.nbytes

        write_header(buf, &h)
        out.record_len = texts - buf
        be_store(decimal(bhxh, 10), out.bhxh_key, KEY_LEN)
        memcpy(out.card_no, h.card_no, CARD_LEN)
        memcpy(out.prev_card_no, h.prev_card_no, CARD_LEN)
        out.has_prev = prev_card.n > 0
        out.quality = quality(cccd, h.dob, h.gender) | card_quality(h.card_no, h.managed_by)
        return 0

    cdef int date(self, const Span* row, int field, bint required, bint dob,
                  uint32_t* out) except -1:
        """Parse a date field into out (0 when absent and optional), or raise RowError."""
        cdef Span value = self.get(row, field)
        cdef DateResult r
        out[0] = 0
        if not value.n:
            if required:
                fail(field, "required")
            return 0
        r = parse_date(value, dob, out)
        if r == DATE_FORM_ERROR:
            fail(field, DOB_FORM if dob else DATE_FORM)
        elif r == DATE_NOT_REAL:
            fail(field, NOT_REAL)
        return 0

    cdef int text(self, const Span* row, int field, Py_ssize_t limit, bint required,
                  uint8_t* out, Text* t) except -1:
        """Normalise a text field into out (t.nbytes 0 when absent), or raise RowError."""
        cdef Span value = self.get(row, field)
        cdef int r = plain_text(value, limit, out, t)
        if r == TEXT_SLOW:
            r = fast_text(value, limit, out, t)
        if r == TEXT_SLOW:
            r = slow_text(PyUnicode_DecodeUTF8(<const char*>value.p, value.n, NULL), limit, out, t)
        if r == TEXT_EMPTY:
            if required:
                fail(field, "required")
            t.nbytes = 0
        elif r == TEXT_CONTROL:
            fail(field, "contains a control character")
        elif r == TEXT_TOO_LONG:
            fail(field, f"{t.nchars} characters; at most {limit}")
        return 0
