# The register's side of a reconciliation (SPEC.md 1.3 and 4), for the reader's fast path: a
# population row's CCCD and birth date read in C, and whether two birth dates agree. Header-only:
# inline helpers; lookup/reference/reconcile.py states the same rules in Python.
from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.stdlib cimport malloc, realloc
from libc.string cimport memcmp, memcpy

from core.lmdb cimport (
    MDB_FIRST, MDB_NEXT, MDB_SUCCESS, MDB_cursor, MDB_dbi, MDB_txn, MDB_val, mdb_cursor_close,
    mdb_cursor_get, mdb_cursor_open,
)

from core.calendar cimport is_real_date, pack_date
from core.rules cimport RecordView, read_record


cdef enum:
    # The fast path's verdicts on a register row (SnapshotReader.reconcile).
    VERDICT_SLOW = 0
    VERDICT_MATCH = 1
    VERDICT_NOT_INSURED = 2
    VERDICT_MISMATCH = 3    # names equal byte for byte; the birth date or the sex differ
    DOB_SAME = 0            # how birth dates compare (SPEC.md 4): no difference,
    DOB_DIFFERS = 1         # `dob`,
    DOB_LESS_PRECISE = 2    # `dob_precision`: the store's can be completed


cdef enum:
    REGISTER_GROUP = 64  # population rows parsed, looked up and judged together


# A population row as the fast path reads it (SnapshotReader.reconcile).
cdef struct RegisterRow:
    bint candidate       # well formed as it is: to be looked up and judged here
    uint64_t number      # its CCCD
    uint8_t key[8]       # the same, big-endian: the people key
    uint32_t dob         # packed, partial where the register gives a year or a month
    int gender           # 1 male, 2 female, 3 unknown
    const char* name     # UTF-8, owned by the row's str
    Py_ssize_t name_n
    bint found
    MDB_val record
    int dob_field         # DOB_SAME, DOB_DIFFERS or DOB_LESS_PRECISE (a mismatch's fields)
    bint gender_differs


cdef inline bint cccd_number(const char* s, Py_ssize_t n, uint64_t* out) noexcept:
    """Read 12 ASCII digits as a number; False for anything else."""
    cdef uint64_t v = 0
    cdef Py_ssize_t i
    if n != 12:
        return False
    for i in range(12):
        if not (c'0' <= s[i] <= c'9'):
            return False
        v = v * 10 + <uint64_t>(s[i] - c'0')
    out[0] = v
    return True


cdef inline int _digits(const char* s, Py_ssize_t n) noexcept:
    cdef int v = 0
    cdef Py_ssize_t i
    for i in range(n):
        if not (c'0' <= s[i] <= c'9'):
            return -1
        v = v * 10 + (s[i] - c'0')
    return v


cdef inline uint32_t register_dob(const char* s, Py_ssize_t n) noexcept:
    """Read YYYY-MM-DD, YYYY-MM or YYYY as a packed (partial) date; 0 when malformed or not
    a real date (the reference then says why)."""
    cdef int y, m = 1, d = 1
    if n != 4 and n != 7 and n != 10:
        return 0
    if (n > 4 and s[4] != c'-') or (n > 7 and s[7] != c'-'):
        return 0
    y = _digits(s, 4)
    if n > 4:
        m = _digits(s + 5, 2)
    if n > 7:
        d = _digits(s + 8, 2)
    if y < 0 or m < 0 or d < 0 or not is_real_date(y, m, d):
        return 0
    return pack_date(y, m if n > 4 else 0, d if n > 7 else 0)


cdef inline bint plain_name(const unsigned char* s, Py_ssize_t n) noexcept:
    """True when a register name is valid as it is (SPEC.md 1.1: 1-100 characters, no control
    character) and normalising its spaces would not change it: single spaces between words,
    none at the ends, and no byte of a Unicode space, control or format character (the lead
    bytes C2, E1 9A, E2 80, E2 81 and E3 80 are refused outright: Vietnamese letters are
    C3, C4, C5, C6, E1 B8-BB and CC/CD marks). Anything else is for the reference to judge."""
    cdef Py_ssize_t i, chars = 0
    cdef unsigned char c
    if n == 0 or s[0] == c' ' or s[n - 1] == c' ':
        return False
    for i in range(n):
        c = s[i]
        if c < 0x20 or c == 0x7F or c == 0xC2:
            return False
        if c == c' ' and s[i + 1] == c' ':  # s[n] is the UTF-8 buffer's closing NUL
            return False
        if i + 1 < n and ((c == 0xE1 and s[i + 1] == 0x9A) or (c == 0xE2 and s[i + 1] <= 0x81)
                          or (c == 0xE3 and s[i + 1] == 0x80)):
            return False
        chars += (c & 0xC0) != 0x80
    return chars <= 100


cdef inline int register_parse(object values, Py_ssize_t ncols, Py_ssize_t at_cccd,
                               Py_ssize_t at_name, Py_ssize_t at_dob, Py_ssize_t at_gender,
                               Py_ssize_t at_death, RegisterRow* row) except -1:
    """Read what the fast path needs of a population row; row.candidate is False when the
    row is not well formed as it is (the reference then judges it)."""
    cdef Py_ssize_t n
    cdef const char* text
    row.candidate = row.found = False
    if type(values) is not list or len(<list>values) != ncols:
        return 0
    if at_death >= 0 and len(<str>(<list>values)[at_death]) != 0:
        return 0
    try:
        text = PyUnicode_AsUTF8AndSize(<str>(<list>values)[at_cccd], &n)
        if not cccd_number(text, n, &row.number):
            return 0
        text = PyUnicode_AsUTF8AndSize(<str>(<list>values)[at_gender], &n)
        if n != 1 or not (c'1' <= text[0] <= c'3'):
            return 0
        row.gender = text[0] - c'0'  # DESIGN 4 codes: 1 male, 2 female, 3 unknown
        text = PyUnicode_AsUTF8AndSize(<str>(<list>values)[at_dob], &n)
        row.dob = register_dob(text, n)
        if row.dob == 0:
            return 0
        row.name = PyUnicode_AsUTF8AndSize(<str>(<list>values)[at_name], &row.name_n)
    except UnicodeEncodeError:
        return 0  # bytes that are not UTF-8: the reference says which field
    put_be64(row.number, row.key)
    row.candidate = True
    return 0


cdef inline void put_be64(uint64_t v, uint8_t* out) noexcept:
    cdef int i
    for i in range(7, -1, -1):
        out[i] = <uint8_t>(v & 0xFF)
        v >>= 8


cdef inline int register_verdict(RegisterRow* row, bint mismatches) noexcept:
    """VERDICT_MATCH when a candidate's record holds its name's bytes, birth date and sex;
    VERDICT_NOT_INSURED when its CCCD is not stored and its name is valid as it is; with
    `mismatches`, VERDICT_MISMATCH when the name's bytes are the stored ones but the birth date
    or the sex differ (row.dob_field, row.gender_differs say how); else VERDICT_SLOW: the
    reference judges the row."""
    cdef RecordView r
    if not row.candidate:
        return VERDICT_SLOW
    if not row.found:
        return VERDICT_NOT_INSURED if plain_name(<const unsigned char*>row.name, row.name_n) \
            else VERDICT_SLOW
    if not read_record(<const uint8_t*>row.record.mv_data, row.record.mv_size, &r):
        return VERDICT_SLOW
    if r.name_len != row.name_n or memcmp(r.full_name, row.name, row.name_n) != 0:
        return VERDICT_SLOW
    row.dob_field = dob_difference(row.dob, r.dob)
    row.gender_differs = r.gender != row.gender
    if row.dob_field == DOB_SAME and not row.gender_differs:
        return VERDICT_MATCH
    return VERDICT_MISMATCH if mismatches else VERDICT_SLOW


cdef inline int dob_difference(uint32_t register, uint32_t stored) noexcept:
    """Compare birth dates at the coarser precision: DOB_DIFFERS when they differ there,
    DOB_LESS_PRECISE when they agree and the register says more, else DOB_SAME."""
    cdef uint32_t r, s, scale
    for scale in (10000, 100, 1):
        r = register // scale % (10000 if scale == 10000 else 100)
        s = stored // scale % (10000 if scale == 10000 else 100)
        if r == 0 or s == 0:
            return DOB_LESS_PRECISE if s == 0 and r != 0 else DOB_SAME
        if r != s:
            return DOB_DIFFERS
    return DOB_SAME


# --- the reconciliation's buffers: CCCDs found, report lines ---------------------------------
cdef struct KeyList:
    uint64_t* keys
    Py_ssize_t n
    Py_ssize_t cap


cdef inline int keys_init(KeyList* f) except -1:
    f.n, f.cap = 0, 1 << 16
    f.keys = <uint64_t*>malloc(f.cap * sizeof(uint64_t))
    if f.keys == NULL:
        raise MemoryError()
    return 0


cdef inline int keys_add(KeyList* f, uint64_t key) except -1:
    cdef uint64_t* grown
    if f.n == f.cap:
        grown = <uint64_t*>realloc(f.keys, 2 * f.cap * sizeof(uint64_t))
        if grown == NULL:
            raise MemoryError()
        f.keys, f.cap = grown, 2 * f.cap
    f.keys[f.n] = key
    f.n += 1
    return 0


cdef inline int cmp_u64(const void* a, const void* b) noexcept nogil:
    cdef uint64_t x = (<const uint64_t*>a)[0], y = (<const uint64_t*>b)[0]
    return (x > y) - (x < y)


cdef enum:
    OUT_CAP = 1 << 21     # the report goes out in writes of about a megabyte
    OUT_FLUSH = 1 << 20


cdef struct Out:
    char* buf
    Py_ssize_t used


cdef inline int out_init(Out* o) except -1:
    o.used = 0
    o.buf = <char*>malloc(OUT_CAP)
    if o.buf == NULL:
        raise MemoryError()
    return 0


cdef inline void out_status(Out* o, uint64_t cccd, const char* tail, Py_ssize_t n) noexcept:
    """Write the report line `<cccd>,<status>,` + newline; tail is ",<status>,\\n", n bytes."""
    cdef char* p = o.buf + o.used
    cdef int i
    for i in range(11, -1, -1):
        p[i] = <char>(c'0' + cccd % 10)
        cccd //= 10
    memcpy(p + 12, tail, n)
    o.used += 12 + n


cdef inline void out_mismatch(Out* o, RegisterRow* row) noexcept:
    """Write `<cccd>,mismatch,<fields>` for a row whose name is the stored one (SPEC.md 4 order:
    the birth date's field, then gender)."""
    out_status(o, row.number, b",mismatch,", 10)
    if row.dob_field == DOB_DIFFERS:
        memcpy(o.buf + o.used, b"dob", 3)
        o.used += 3
    elif row.dob_field == DOB_LESS_PRECISE:
        memcpy(o.buf + o.used, b"dob_precision", 13)
        o.used += 13
    if row.gender_differs:
        if row.dob_field != DOB_SAME:
            o.buf[o.used] = c';'
            o.used += 1
        memcpy(o.buf + o.used, b"gender", 6)
        o.used += 6
    o.buf[o.used] = c'\n'
    o.used += 1


cdef inline int out_bytes(Out* o, bytes text) except -1:
    cdef Py_ssize_t n = len(text)
    if o.used + n > OUT_CAP:
        raise ValueError("a report line of more than a megabyte")
    memcpy(o.buf + o.used, <const char*>text, n)
    o.used += n
    return 0


cdef inline int out_flush(Out* o, write) except -1:
    if o.used:
        write(o.buf[:o.used])
        o.used = 0
    return 0


cdef inline int unseen_people(MDB_txn* txn, MDB_dbi people, const uint64_t* seen, Py_ssize_t n,
                              KeyList* out) except? 0:
    """Add to `out` the people's CCCDs (their 8-byte big-endian keys, in key order) that are
    not among seen[:n] (sorted); return the cursor's last code, MDB_NOTFOUND when all is read."""
    cdef MDB_cursor* cursor
    cdef MDB_val k, v
    cdef uint64_t key
    cdef Py_ssize_t i = 0, b
    cdef const unsigned char* p
    cdef int rc = mdb_cursor_open(txn, people, &cursor)
    if rc != MDB_SUCCESS:
        return rc
    try:
        rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST)
        while rc == MDB_SUCCESS:
            p, key = <const unsigned char*>k.mv_data, 0
            for b in range(8):
                key = (key << 8) | p[b]
            while i < n and seen[i] < key:
                i += 1
            if i == n or seen[i] != key:
                keys_add(out, key)
            rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)
        return rc
    finally:
        mdb_cursor_close(cursor)
