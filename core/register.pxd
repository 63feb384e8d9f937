# The register's side of a reconciliation (SPEC.md 1.3 and 4), for the reader's fast path: a
# population row read in C from its line's bytes, and judged against the stored record where
# the rules need no more than the bytes, the dates and the name table (core/names.pxd).
# Header-only: inline helpers; lookup/reference/reconcile.py states the same rules in Python.
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcmp, memcpy, memset

from core.lmdb cimport (
    MDB_FIRST, MDB_NEXT, MDB_SUCCESS, MDB_cursor, MDB_dbi, MDB_txn, MDB_val, mdb_cursor_close,
    mdb_cursor_get, mdb_cursor_open,
)

from core.bigendian cimport be_store
from core.calendar cimport is_real_date, pack_date
from core.names cimport (
    NAME_DIACRITICS, NAME_DIFFERS, NAME_LIMIT, NAME_SAME, NAME_UNKNOWN, Letter, compare_letters,
    name_letters,
)
from core.record cimport KEY_LEN
from core.rules cimport RecordView, read_record
from core.strings cimport StringTable


cdef enum:
    # The fast path's verdicts on a register row (SnapshotReader.reconcile).
    VERDICT_SLOW = 0
    VERDICT_MATCH = 1
    VERDICT_NOT_INSURED = 2
    VERDICT_MISMATCH = 3
    VERDICT_DECEASED = 4
    DOB_SAME = 0            # how birth dates compare (SPEC.md 4): no difference,
    DOB_DIFFERS = 1         # `dob`,
    DOB_LESS_PRECISE = 2    # `dob_precision`: the store's can be completed


cdef enum:
    # A mismatch's fields (SPEC.md 4), in report order: FIELD_NAMES.
    FIELD_FULL_NAME, FIELD_DIACRITICS, FIELD_DOB, FIELD_DOB_PRECISION, FIELD_GENDER, FIELDS

cdef enum:
    REGISTER_GROUP = 64     # population rows read, looked up and judged together


cdef struct Columns:
    # Where a population extract's columns are (SPEC.md 1.3; -1: no death_date column).
    Py_ssize_t count, cccd, name, dob, gender, death


# A population row as the fast path reads it (SnapshotReader.reconcile).
cdef struct RegisterRow:
    Py_ssize_t line         # where it starts in the file
    Py_ssize_t at, n        # its bytes in the group's arena (n < 0: parsed as Python values)
    bint candidate          # well formed as it is: to be looked up and judged here
    uint64_t number         # its CCCD
    uint8_t key[8]          # the same, big-endian: the people key
    uint32_t dob            # packed, partial where the register gives a year or a month
    uint32_t death          # packed, 0 for none
    int gender              # 1 male, 2 female, 3 unknown
    Py_ssize_t name_at, name_n  # the name's bytes, from `at`
    uint16_t letters[NAME_LIMIT]
    Py_ssize_t nletters
    bint found
    MDB_val record
    int name_field          # NAME_SAME, NAME_DIACRITICS or NAME_DIFFERS (a mismatch's fields)
    int dob_field           # DOB_SAME, DOB_DIFFERS or DOB_LESS_PRECISE
    bint gender_differs


cdef inline bint cccd_number(const uint8_t* s, Py_ssize_t n, uint64_t* out) noexcept:
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


cdef inline int _digits(const uint8_t* s, Py_ssize_t n) noexcept:
    cdef int v = 0
    cdef Py_ssize_t i
    for i in range(n):
        if not (c'0' <= s[i] <= c'9'):
            return -1
        v = v * 10 + (s[i] - c'0')
    return v


cdef inline uint32_t register_dob(const uint8_t* s, Py_ssize_t n, bint full) noexcept:
    """Read YYYY-MM-DD, YYYY-MM or YYYY (only the first when `full`) as a packed (partial)
    date; 0 when malformed or not a real date (the reference then says why)."""
    cdef int y, m = 1, d = 1
    if n != 10 and (full or (n != 4 and n != 7)):
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


cdef inline void register_parse(const uint8_t* text, Py_ssize_t n, const Columns* at,
                                const Letter* letters, RegisterRow* row) noexcept:
    """Read what the fast path needs of a population row's bytes (a line without quotes: its
    values are the bytes between commas); row.candidate is False unless the row is well
    formed as it is, then the reference judges it."""
    cdef Py_ssize_t column = 0, start = 0, i
    cdef const uint8_t* value
    cdef Py_ssize_t size
    cdef bint ok = True
    row.candidate = row.found = False
    row.death = 0
    for i in range(n + 1):
        if i < n and text[i] != c',':
            continue
        if column == at.count:
            return  # more values than columns
        value, size = text + start, i - start
        if column == at.cccd:
            ok = cccd_number(value, size, &row.number)
        elif column == at.gender:
            ok = size == 1 and c'1' <= value[0] <= c'3'
            if ok:
                row.gender = value[0] - c'0'  # DESIGN 4 codes: 1 male, 2 female, 3 unknown
        elif column == at.dob:
            row.dob = register_dob(value, size, False)
            ok = row.dob != 0
        elif column == at.death:
            row.death = register_dob(value, size, True) if size else 0
            ok = size == 0 or row.death != 0
        elif column == at.name:
            row.name_at, row.name_n = start, size
            row.nletters = name_letters(value, size, letters, row.letters)
            ok = row.nletters > 0
        if not ok:
            return
        column += 1
        start = i + 1
    if column != at.count:
        return  # fewer
    be_store(row.number, row.key, KEY_LEN)
    row.candidate = True


cdef inline int register_verdict(RegisterRow* row, const uint8_t* text, uint32_t today,
                                 bint mismatches, const Letter* letters,
                                 const StringTable* strings) noexcept:
    """Judge a candidate row (its bytes at `text`) against its stored record: VERDICT_MATCH,
    VERDICT_NOT_INSURED, VERDICT_DECEASED (a death on or before `today`), or with
    `mismatches` VERDICT_MISMATCH (row.name_field, dob_field, gender_differs say how); else
    VERDICT_SLOW: the reference judges the row."""
    cdef RecordView r
    cdef uint16_t stored[NAME_LIMIT]
    cdef Py_ssize_t nstored
    if not row.candidate:
        return VERDICT_SLOW
    if not row.found:
        return VERDICT_NOT_INSURED
    if row.death and row.death <= today:
        return VERDICT_DECEASED
    if not read_record(<const uint8_t*>row.record.mv_data, row.record.mv_size, strings, &r):
        return VERDICT_SLOW
    if r.name_len == row.name_n and memcmp(r.full_name, text + row.name_at, row.name_n) == 0:
        row.name_field = NAME_SAME
    else:
        nstored = name_letters(<const uint8_t*>r.full_name, r.name_len, letters, stored)
        if nstored < 0:
            return VERDICT_SLOW
        row.name_field = compare_letters(row.letters, row.nletters, stored, nstored, letters)
        if row.name_field == NAME_UNKNOWN:
            return VERDICT_SLOW
    row.dob_field = dob_difference(row.dob, r.dob)
    row.gender_differs = r.gender != row.gender
    if row.name_field == NAME_SAME and row.dob_field == DOB_SAME and not row.gender_differs:
        return VERDICT_MATCH
    return VERDICT_MISMATCH if mismatches else VERDICT_SLOW


cdef inline void count_fields(const RegisterRow* row, Py_ssize_t* fields) noexcept:
    """Count a mismatch's fields (FIELD_NAMES order) in fields[]."""
    fields[FIELD_FULL_NAME] += row.name_field == NAME_DIFFERS
    fields[FIELD_DIACRITICS] += row.name_field == NAME_DIACRITICS
    fields[FIELD_DOB] += row.dob_field == DOB_DIFFERS
    fields[FIELD_DOB_PRECISION] += row.dob_field == DOB_LESS_PRECISE
    fields[FIELD_GENDER] += row.gender_differs


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


# --- the reconciliation's buffers: a group's rows, CCCDs found, report lines ----------------
cdef struct Arena:
    uint8_t* buf
    Py_ssize_t used, cap


cdef inline int arena_init(Arena* a) except -1:
    a.used, a.cap = 0, 1 << 14
    a.buf = <uint8_t*>malloc(a.cap)
    if a.buf == NULL:
        raise MemoryError()
    return 0


cdef inline Py_ssize_t arena_add(Arena* a, const uint8_t* text, Py_ssize_t n) except -1:
    """Copy n bytes to the arena; return where they are (buf may move: keep offsets)."""
    cdef Py_ssize_t at = a.used
    cdef uint8_t* grown
    while a.used + n + 1 > a.cap:
        grown = <uint8_t*>realloc(a.buf, 2 * a.cap)
        if grown == NULL:
            raise MemoryError()
        a.buf, a.cap = grown, 2 * a.cap
    memcpy(a.buf + at, text, n)
    a.buf[at + n] = 0
    a.used += n + 1
    return at


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


cdef inline int sort_keys(uint64_t* keys, Py_ssize_t n) except -1:
    """Sort keys in place: least significant digit first, 11 bits at a time, as many digits as
    the largest key has (four for CCCDs, below 2^40); ~10x faster than qsort's calls."""
    cdef uint64_t* other
    cdef uint64_t* src = keys
    cdef uint64_t* dst
    cdef uint64_t high = 0
    cdef Py_ssize_t counts[2048]
    cdef Py_ssize_t i, total, c
    cdef int shift = 0
    for i in range(n):
        high |= keys[i]
    if n < 2 or high == 0:
        return 0
    other = dst = <uint64_t*>malloc(n * sizeof(uint64_t))
    if other == NULL:
        raise MemoryError()
    while shift < 64 and high >> shift:
        memset(counts, 0, sizeof(counts))
        for i in range(n):
            counts[(src[i] >> shift) & 2047] += 1
        total = 0
        for i in range(2048):
            c = counts[i]
            counts[i] = total
            total += c
        for i in range(n):
            c = (src[i] >> shift) & 2047
            dst[counts[c]] = src[i]
            counts[c] += 1
        src, dst = dst, src
        shift += 11
    if src != keys:
        memcpy(keys, src, n * sizeof(uint64_t))
    free(other)
    return 0


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


cdef inline void out_text(Out* o, const char* text, Py_ssize_t n) noexcept:
    memcpy(o.buf + o.used, text, n)
    o.used += n


cdef inline void out_mismatch(Out* o, RegisterRow* row) noexcept:
    """Write `<cccd>,mismatch,<fields>`, the fields in SPEC.md 4 order: the name's, the birth
    date's, then gender."""
    cdef bint first = True
    out_status(o, row.number, b",mismatch,", 10)
    if row.name_field != NAME_SAME:
        if row.name_field == NAME_DIACRITICS:
            out_text(o, b"full_name_diacritics", 20)
        else:
            out_text(o, b"full_name", 9)
        first = False
    if row.dob_field != DOB_SAME:
        if not first:
            out_text(o, b";", 1)
        if row.dob_field == DOB_DIFFERS:
            out_text(o, b"dob", 3)
        else:
            out_text(o, b"dob_precision", 13)
        first = False
    if row.gender_differs:
        if not first:
            out_text(o, b";", 1)
        out_text(o, b"gender", 6)
    out_text(o, b"\n", 1)


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
                              KeyList* every, KeyList* out) except? 0:
    """Add to `out` the people's CCCDs (their 8-byte big-endian keys, in key order) that are
    not among seen[:n] (sorted) and have a record (an overlay's empty value is a deletion); to
    `every`, unless NULL, every key. Return the cursor's last code, MDB_NOTFOUND when all is
    read."""
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
            if every != NULL:
                keys_add(every, key)
            while i < n and seen[i] < key:
                i += 1
            if v.mv_size and (i == n or seen[i] != key):
                keys_add(out, key)
            rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)
        return rc
    finally:
        mdb_cursor_close(cursor)
