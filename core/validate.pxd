# The C side of core/validate.pyx, for units that validate rows without a Python object per
# valid row (core/csvrows.pyx feed_build). The Python API is in validate.pyi.
cimport cython
from libc.stdint cimport uint8_t, uint32_t

from core.record cimport CARD_LEN, HEADER_SIZE, KEY_LEN

cdef enum Field:
    F_OP, F_CCCD, F_BHXH, F_CARD, F_NAME, F_DOB, F_GENDER, F_ADDRESS, F_FACILITY, F_VALID_FROM,
    F_VALID_TO, F_FIVE_YEAR, F_REGION, F_STATUS, F_MANAGED_BY, F_PREV_CARD, F_PREV_VALID_TO,
    F_ISSUER, N_FIELDS

cdef enum:
    NAME_LIMIT = 100
    TEXT_LIMIT = 200
    MAX_UTF8 = 4
    # Header plus the longest texts that can pass: 100 + 200 + 200 code points of up to 4 bytes.
    RECORD_MAX = HEADER_SIZE + (NAME_LIMIT + 2 * TEXT_LIMIT) * MAX_UTF8

# A value of a row as UTF-8 bytes: in the extract's read buffer (Rows.next_spans), or a str's
# UTF-8 (RowValidator.check of a list).
cdef struct Span:
    const uint8_t* p
    Py_ssize_t n

cdef struct Text:
    Py_ssize_t nbytes   # UTF-8 bytes written
    Py_ssize_t nchars   # code points after normalisation (counted past the limit)

# A valid row as C data: what ValidRow holds, without its objects.
cdef struct Checked:
    bint delete                       # op "delete" (delta only): only cccd_key is set
    uint8_t cccd_key[KEY_LEN]
    uint8_t bhxh_key[KEY_LEN]
    uint8_t card_no[CARD_LEN]
    uint8_t prev_card_no[CARD_LEN]    # set when has_prev
    bint has_prev
    int quality
    Py_ssize_t record_len
    uint8_t record[RECORD_MAX]


@cython.final
cdef class RowValidator:
    cdef readonly tuple columns
    cdef readonly bint delta
    cdef Py_ssize_t index[N_FIELDS]  # column of each Field, -1 when the file lacks it
    cdef Span* spans                 # one per column: check()'s row as UTF-8

    # validate(row) into `out`: the same checks, RowError and bytes.
    cdef int check(self, list row, Checked* out) except -1
    # check() of a row already split into `count` spans of bytes, not yet checked as UTF-8.
    cdef int check_spans(self, const Span* row, Py_ssize_t count, Checked* out) except -1
    cdef int check_utf8(self, const Span* row, Checked* out) except -1
    cdef Span get(self, const Span* row, int field) noexcept
    cdef int upsert(self, const Span* row, const uint8_t* cccd, Checked* out) except -1
    cdef int date(self, const Span* row, int field, bint required, bint dob,
                  uint32_t* out) except -1
    cdef int text(self, const Span* row, int field, Py_ssize_t limit, bint required,
                  uint8_t* out, Text* t) except -1
