# What a stored record says (docs/DESIGN.md 4 and 6), for core/reader.pyx. Header-only: the
# plain-C half of lookup/reference/record.py (decode) and rules.py (the rules and the person and
# card objects of an answer). The reader adds the lookups, and core/answer.pxi the result
# messages and the body.
#
# A record is read in place from the memory map; read_record() refuses what a correct build
# never writes (the checks of record.decode() and rules.is_sound()), so the rules and writers
# below may trust every field.

cimport cython
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.string cimport memcpy

from core.calendar cimport (
    date_day, date_month, date_year, day_before, days_in_month, is_real_date, latest_day,
    pack_date,
)
from core.facilities cimport FacilityNames, facility_spans
from core.jsonw cimport (
    JsonWriter, jw_ascii_string, jw_int, jw_lit, jw_raw, jw_reserve, jw_utf8_joined,
    jw_utf8_string,
)
from core.record cimport (
    CARD_LEN, FACILITY_LEN, HEADER_SIZE, MB_DEFENCE, MB_POLICE, OFF_ADDRESS_LEN, OFF_CARD_NO,
    OFF_DOB, OFF_FACILITY, OFF_FIVE_YEAR, OFF_GENDER, OFF_ISSUER_LEN, OFF_MANAGED_BY,
    OFF_NAME_LEN, OFF_PREV_CARD_NO, OFF_PREV_VALID_TO, OFF_REGION, OFF_STATUS, OFF_VALID_FROM,
    OFF_VALID_TO, OFF_VERSION, RECORD_COMPACT, RECORD_VERSION, ST_ACTIVE, ST_REDUCED_STOPPED,
    ST_REVOKED,
)
from core.strings cimport StringTable, read_varint, string_at

# The answers a record can give (DESIGN 6 message table); core/reader.pyx holds their JSON.
cdef enum Result:
    R000
    R001
    R002
    R003
    R004
    R010_EARLY
    R010_LATE
    R050
    R100
    R110
    R120
    R121
    R122
    R123
    R124
    R205
    N_RESULTS


# --- Enumerations as JSON (DESIGN 4 codes, SPEC 3 names) ------------------------------------

cdef inline const char* gender_json(int gender) noexcept:
    if gender == 1:
        return b'"male"'
    if gender == 2:
        return b'"female"'
    return b'"unknown"'


cdef inline const char* status_json(int status) noexcept:
    # DESIGN 4 status codes, named as in SPEC 1.1.
    if status == 0:
        return b'"active"'
    if status == 1:
        return b'"revoked"'
    if status == 2:
        return b'"reduced"'
    if status == 3:
        return b'"reduced_out_province"'
    if status == 4:
        return b'"reduced_in_province"'
    if status == 5:
        return b'"reduced_rejoined"'
    return b'"reduced_stopped"'


cdef inline const char* managed_by_json(int managed_by) noexcept:
    if managed_by == MB_DEFENCE:
        return b'"defence"'
    if managed_by == MB_POLICE:
        return b'"police"'
    return b'"vss"'


cdef inline const char* region_json(int region) noexcept:
    if region == 1:
        return b'"K1"'
    if region == 2:
        return b'"K2"'
    if region == 3:
        return b'"K3"'
    return b'null'


cdef inline int coverage_pct(int level) noexcept:
    # DOMAIN 2: levels 1-5 pay 100, 100, 95, 80, 100 per cent.
    if level == 3:
        return 95
    if level == 4:
        return 80
    return 100


# --- The record, read in place (DESIGN 4) ----------------------------------------------------

cdef struct RecordView:
    int gender
    int status
    int managed_by
    int region
    uint32_t dob
    uint32_t valid_from
    uint32_t valid_to
    uint32_t five_year          # 0 = none
    uint32_t prev_valid_to      # 0 = none
    const char* card_no         # CARD_LEN bytes
    const char* facility        # FACILITY_LEN bytes
    const char* prev_card_no    # CARD_LEN bytes, NULL when none
    const char* full_name
    Py_ssize_t name_len
    const char* address
    Py_ssize_t address_len      # 0 = none, unless address_tail
    const char* address_tail    # version 2: the address goes on with ", " and this (DESIGN 4)
    Py_ssize_t address_tail_len
    const char* issuer
    Py_ssize_t issuer_len       # 0 = none
    char card_buf[15]           # version 2: the card codes, rebuilt (card_no points here)
    char prev_buf[15]


cdef inline uint32_t _le16(const uint8_t* p) noexcept:
    return p[0] | (<uint32_t>p[1] << 8)


cdef inline uint32_t _le32(const uint8_t* p) noexcept:
    return p[0] | (<uint32_t>p[1] << 8) | (<uint32_t>p[2] << 16) | (<uint32_t>p[3] << 24)


cdef extern from *:
    """
    /* Strict UTF-8 as a shift-based DFA (after Per Vognsen): the state is a bit offset, a
       multiple of 6, and lookup_utf8_rows[byte] holds each state's next state at that offset,
       so a byte costs one load and one shift, with no branch to mispredict on the mix of 1-,
       2- and 3-byte characters Vietnamese text is. ERR is 0, so it stays ERR. */
    enum { U8_ERR = 0, U8_OK = 6, U8_TAIL1 = 12, U8_TAIL2 = 18, U8_TAIL3 = 24,
           U8_AFTER_E0 = 30, U8_AFTER_ED = 36, U8_AFTER_F0 = 42, U8_AFTER_F4 = 48 };
    #define U8_GOES(from, to) ((uint64_t)(to) << (from))
    static uint64_t lookup_utf8_rows[256];
    static int lookup_utf8_ready = 0;

    static void lookup_utf8_fill(void) {
        for (int b = 0; b < 256; b++) {
            uint64_t row = 0;
            /* a character's first byte, from the accept state */
            if (b < 0x80) row |= U8_GOES(U8_OK, U8_OK);
            else if (b >= 0xC2 && b <= 0xDF) row |= U8_GOES(U8_OK, U8_TAIL1);
            else if (b == 0xE0) row |= U8_GOES(U8_OK, U8_AFTER_E0);     /* no overlongs */
            else if (b == 0xED) row |= U8_GOES(U8_OK, U8_AFTER_ED);     /* no surrogates */
            else if (b >= 0xE1 && b <= 0xEF) row |= U8_GOES(U8_OK, U8_TAIL2);
            else if (b == 0xF0) row |= U8_GOES(U8_OK, U8_AFTER_F0);     /* no overlongs */
            else if (b == 0xF4) row |= U8_GOES(U8_OK, U8_AFTER_F4);     /* <= U+10FFFF */
            else if (b >= 0xF1 && b <= 0xF3) row |= U8_GOES(U8_OK, U8_TAIL3);
            /* continuation bytes */
            if (b >= 0x80 && b <= 0xBF)
                row |= U8_GOES(U8_TAIL1, U8_OK) | U8_GOES(U8_TAIL2, U8_TAIL1)
                     | U8_GOES(U8_TAIL3, U8_TAIL2);
            if (b >= 0xA0 && b <= 0xBF) row |= U8_GOES(U8_AFTER_E0, U8_TAIL1);
            if (b >= 0x80 && b <= 0x9F) row |= U8_GOES(U8_AFTER_ED, U8_TAIL1);
            if (b >= 0x90 && b <= 0xBF) row |= U8_GOES(U8_AFTER_F0, U8_TAIL2);
            if (b >= 0x80 && b <= 0x8F) row |= U8_GOES(U8_AFTER_F4, U8_TAIL2);
            lookup_utf8_rows[b] = row;
        }
        lookup_utf8_ready = 1;
    }

    /* The loads do not wait on the state: only the shift does, one cycle a byte. So the text
       is checked as two halves at once, two independent chains: split where a character
       starts (a byte that is not a continuation byte; past three of them the text is invalid
       anyway, and the second half then starts on one and fails), each half must be valid. */
    static inline int lookup_is_utf8(const uint8_t *s, Py_ssize_t n) {
        uint64_t first = U8_OK, second = U8_OK;
        Py_ssize_t mid = n >> 1, i, j;
        if (!lookup_utf8_ready)
            lookup_utf8_fill();
        for (int k = 0; k < 3 && mid < n && (s[mid] & 0xC0) == 0x80; k++)
            mid++;
        for (i = 0, j = mid; i < mid && j < n; i++, j++) {
            first = lookup_utf8_rows[s[i]] >> (first & 63);
            second = lookup_utf8_rows[s[j]] >> (second & 63);
        }
        for (; i < mid; i++)
            first = lookup_utf8_rows[s[i]] >> (first & 63);
        for (; j < n; j++)
            second = lookup_utf8_rows[s[j]] >> (second & 63);
        return (first & 63) == U8_OK && (second & 63) == U8_OK;
    }
    """
    bint _is_utf8 "lookup_is_utf8"(const uint8_t* s, Py_ssize_t n) noexcept


cdef inline bint _starts_a_character(const uint8_t* texts, Py_ssize_t at,
                                     Py_ssize_t end) noexcept:
    return at >= end or (texts[at] & 0xC0) != 0x80


cdef inline bint _is_digits(const char* s, int n) noexcept:
    cdef int i
    for i in range(n):
        if not (c'0' <= s[i] <= c'9'):
            return False
    return True


cdef inline bint _is_card(const char* s) noexcept:
    """^[A-Z]{2}[1-5][0-9]{12}$ (DOMAIN 1)."""
    return (c'A' <= s[0] <= c'Z' and c'A' <= s[1] <= c'Z' and c'1' <= s[2] <= c'5'
            and _is_digits(s + 3, 12))


cdef inline bint _is_no_card(const char* s) noexcept:
    cdef int i
    for i in range(CARD_LEN):
        if s[i] != 0:
            return False
    return True


cdef inline bint _is_facility(const char* s) noexcept:
    """^[0-9]{2}[0-9A-Z]{3}$ (DOMAIN 1)."""
    cdef int i
    if not _is_digits(s, 2):
        return False
    for i in range(2, FACILITY_LEN):
        if not (c'0' <= s[i] <= c'9' or c'A' <= s[i] <= c'Z'):
            return False
    return True


# Year, month and day by plain unsigned division: the calendar.pxd getters keep Python's
# floor-division semantics, which cost an idiv each on this path.
@cython.cdivision(True)
cdef inline unsigned int _year(uint32_t p) noexcept:
    return p / 10000


@cython.cdivision(True)
cdef inline unsigned int _month(uint32_t p) noexcept:
    return p / 100 % 100


@cython.cdivision(True)
cdef inline unsigned int _day(uint32_t p) noexcept:
    return p % 100


cdef inline bint _is_date(uint32_t p) noexcept:
    return is_real_date(_year(p), _month(p), _day(p))


cdef inline bint _is_dob(uint32_t p) noexcept:
    # DESIGN 3: a birth date may lack its day, or its month and day.
    cdef int y = _year(p), m = _month(p), d = _day(p)
    if m == 0:
        return d == 0 and is_real_date(y, 1, 1)
    return is_real_date(y, m, d if d else 1)


cdef inline bint read_record(const uint8_t* p, size_t n, const StringTable* strings,
                             RecordView* r) noexcept:
    """Point r into a stored record (version 2 with its snapshot's strings, or version 1);
    False when it is not what a correct build writes.

    The same checks as lookup.reference: record.decode() then rules.is_sound().
    """
    if n > 0 and p[OFF_VERSION] == RECORD_COMPACT:
        return _read_compact(p, n, strings, r) and _is_sound(r)
    return _read_wide(p, n, r) and _is_sound(r)


cdef inline uint32_t _date24(const uint8_t* p) noexcept:
    """A date packed in 3 bytes (year << 9 | month << 5 | day) as yyyymmdd."""
    cdef uint32_t v = p[0] | (<uint32_t>p[1] << 8) | (<uint32_t>p[2] << 16)
    return (v >> 9) * 10000 + (v >> 5 & 15) * 100 + (v & 31)


cdef inline bint _card_number(const uint8_t* p, char* out) noexcept:
    """Write 5 bytes of packed decimal (two digits a byte, the first in the high half) as 10
    ASCII digits; False when a half is not a digit."""
    cdef int i
    cdef uint8_t high, low
    for i in range(5):
        high, low = p[i] >> 4, p[i] & 15
        if high > 9 or low > 9:
            return False
        out[2 * i] = <char>(c'0' + high)
        out[2 * i + 1] = <char>(c'0' + low)
    return True


cdef inline bint _read_compact(const uint8_t* p, size_t n, const StringTable* strings,
                               RecordView* r) noexcept:
    """Version 2 (DESIGN 4): fields in order, the card codes rebuilt into r's buffers."""
    cdef uint8_t flags, more
    cdef size_t at = 12
    cdef uint32_t size, locality, facility, issuer
    cdef Py_ssize_t facility_len
    if n < 12 + 10:
        return False
    flags, more = p[1], p[2]
    r.gender = flags & 3
    r.managed_by = flags >> 2 & 3
    r.region = flags >> 4 & 3
    r.status = more & 7
    if more >> 5 or (flags & 0xC0) == 0x80:
        return False  # unknown bits; a renumbered previous card without a previous card
    r.dob = _date24(p + 3)
    r.valid_from = _date24(p + 6)
    r.valid_to = _date24(p + 9)
    r.five_year = r.prev_valid_to = 0
    if more & 8:
        if at + 3 > n:
            return False
        r.five_year = _date24(p + at)
        at += 3
    if more & 16:
        if at + 3 > n:
            return False
        r.prev_valid_to = _date24(p + at)
        at += 3
    if at + 10 > n:
        return False
    memcpy(r.card_buf, p + at, 5)
    if not _card_number(p + at + 5, r.card_buf + 5):
        return False
    r.card_no = r.card_buf
    at += 10
    r.prev_card_no = NULL
    if flags & 0x40:
        if at + (10 if flags & 0x80 else 5) > n:
            return False
        memcpy(r.prev_buf, p + at, 5)
        if flags & 0x80:
            if not _card_number(p + at + 5, r.prev_buf + 5):
                return False
            at += 5
        else:
            memcpy(r.prev_buf + 5, r.card_buf + 5, 10)
        at += 5
        r.prev_card_no = r.prev_buf
    if not read_varint(p, n, &at, &size) or size > n - at:
        return False
    r.full_name, r.name_len = <const char*>p + at, size
    at += size
    if not read_varint(p, n, &at, &size) or size > n - at:
        return False
    r.address, r.address_len = <const char*>p + at, size
    at += size
    if not (read_varint(p, n, &at, &locality) and read_varint(p, n, &at, &facility)
            and read_varint(p, n, &at, &issuer)) or at != n:
        return False
    if not (string_at(strings, locality, &r.address_tail, &r.address_tail_len)
            and string_at(strings, facility, &r.facility, &facility_len)
            and string_at(strings, issuer, &r.issuer, &r.issuer_len)):
        return False
    return (facility_len == FACILITY_LEN and _is_utf8(<const uint8_t*>r.full_name, r.name_len)
            and _is_utf8(<const uint8_t*>r.address, r.address_len))


cdef inline bint _read_wide(const uint8_t* p, size_t n, RecordView* r,
                            bint made_here=False) noexcept:
    """Version 1 (DESIGN 4): a 67-byte header, then the three texts. `made_here`: the validator
    made the record just now (the build's read loop), so its texts are UTF-8 already."""
    cdef Py_ssize_t name_len, texts_len
    cdef const uint8_t* texts
    if n < HEADER_SIZE or p[OFF_VERSION] != RECORD_VERSION:
        return False
    name_len = _le16(p + OFF_NAME_LEN)
    r.address_len = _le16(p + OFF_ADDRESS_LEN)
    r.issuer_len = _le16(p + OFF_ISSUER_LEN)
    if <size_t>(HEADER_SIZE + name_len + r.address_len + r.issuer_len) != n:
        return False
    r.gender = p[OFF_GENDER]
    r.status = p[OFF_STATUS]
    r.managed_by = p[OFF_MANAGED_BY]
    r.region = p[OFF_REGION]
    r.address_tail, r.address_tail_len = NULL, 0
    r.full_name = <const char*>p + HEADER_SIZE
    r.name_len = name_len
    r.address = r.full_name + name_len
    r.issuer = r.address + r.address_len
    # The three texts are adjacent: one pass checks them all, and as no character may span
    # two of them, each is then valid on its own.
    texts = <const uint8_t*>r.full_name
    texts_len = name_len + r.address_len + r.issuer_len
    if not made_here and not (
            _is_utf8(texts, texts_len)
            and _starts_a_character(texts, name_len, texts_len)
            and _starts_a_character(texts, name_len + r.address_len, texts_len)):
        return False
    r.card_no = <const char*>p + OFF_CARD_NO
    r.facility = <const char*>p + OFF_FACILITY
    r.prev_card_no = <const char*>p + OFF_PREV_CARD_NO
    if _is_no_card(r.prev_card_no):
        r.prev_card_no = NULL
    elif not _is_card(r.prev_card_no):
        return False
    r.dob = _le32(p + OFF_DOB)
    r.valid_from = _le32(p + OFF_VALID_FROM)
    r.valid_to = _le32(p + OFF_VALID_TO)
    r.five_year = _le32(p + OFF_FIVE_YEAR)
    r.prev_valid_to = _le32(p + OFF_PREV_VALID_TO)
    return True


cdef inline bint _is_sound(const RecordView* r) noexcept:
    # `&`, not `and`: every check runs anyway on a sound record, and a long chain of branches
    # makes the compiler think the last checks are rarely reached and compile them for size.
    return ((1 <= r.gender <= 3) & (r.status <= ST_REDUCED_STOPPED) & (r.managed_by <= MB_POLICE)
            & (r.region <= 3)
            & _is_card(r.card_no) & (r.prev_card_no == NULL or _is_card(r.prev_card_no))
            & _is_facility(r.facility) & _is_dob(r.dob)
            & _is_date(r.valid_from) & _is_date(r.valid_to)
            & (r.five_year == 0 or _is_date(r.five_year))
            & (r.prev_valid_to == 0 or _is_date(r.prev_valid_to)))


# --- The rules (DESIGN 6, SPEC 3.1) ----------------------------------------------------------

cdef inline uint32_t te_limit(uint32_t dob) noexcept:
    """The last day a TE card covers: the later of the day before 72 months and 30 September of
    the year the child turns 6; a partial birth date counts as its latest day (DOMAIN 3)."""
    cdef uint32_t born = latest_day(dob)
    cdef int y = date_year(born) + 6, m = date_month(born), d = date_day(born)
    if d > days_in_month(y, m):
        d = days_in_month(y, m)          # 72 months after 29 February
    cdef uint32_t before_72_months = day_before(pack_date(y, m, d))
    cdef uint32_t september_30 = pack_date(y, 9, 30)
    return before_72_months if before_72_months > september_30 else september_30


cdef inline uint32_t valid_until(const RecordView* r) noexcept:
    cdef uint32_t limit
    if r.card_no[0] == c'T' and r.card_no[1] == c'E':
        limit = te_limit(r.dob)
        if limit < r.valid_to:
            return limit
    return r.valid_to


cdef inline bint _group_is(const char* card, const char* group) noexcept:
    return card[0] == group[0] and card[1] == group[1]


# DOMAIN 2: from this day CN and LH cards are level 2, whatever their code says.
cdef enum:
    LEVEL_2_FROM = 20260101


cdef inline int level_on(const char* card, uint32_t date) noexcept:
    """The benefit level in force on `date` for a card code (SPEC 3.1 "Also")."""
    if date >= LEVEL_2_FROM and (_group_is(card, b"CN") or _group_is(card, b"LH")):
        return 2
    return card[2] - 48


cdef inline bint covered_by_previous(const RecordView* r, uint32_t date) noexcept:
    """A card change: the date falls before the current card starts and within the previous
    card's window, which then answers whatever id was asked (SPEC 3.1 "Also", DOMAIN 3)."""
    return r.prev_card_no != NULL and r.prev_valid_to != 0 and date < r.valid_from \
        and date <= r.prev_valid_to


cdef inline Result verdict(const RecordView* r, uint32_t date) noexcept:
    """Rules 4-7 for the person's current card; the group decides the ministry (SPEC 3.1)."""
    if _group_is(r.card_no, b"QN") or _group_is(r.card_no, b"CY"):
        return R001
    if _group_is(r.card_no, b"CA"):
        return R002
    if r.managed_by == MB_DEFENCE:
        return R001
    if r.managed_by == MB_POLICE:
        return R002
    if r.status == ST_REVOKED:
        return R110
    if r.status != ST_ACTIVE:
        return <Result>(R120 + r.status - 2)   # statuses 2-6 are 120-124 in order
    if date < r.valid_from:
        return R010_EARLY
    if date > valid_until(r):
        return R010_LATE
    return R000


# --- The person and card objects of an answer (SPEC 3, DESIGN 6 key order) ----------------

cdef inline const char* _digit_pairs() noexcept:
    """"00" to "99": dates are written two digits at a time."""
    return (b"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
            b"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
            b"8081828384858687888990919293949596979899")


@cython.cdivision(True)
cdef inline void write_date(JsonWriter* w, uint32_t p) noexcept:
    """"YYYY-MM-DD", or "YYYY-MM" / "YYYY" for a partial date; years have 4 digits (DESIGN 3)."""
    cdef unsigned int y = _year(p), m = _month(p), d = _day(p)
    cdef char* out
    if not jw_reserve(w, 12):
        return
    out = w.buf + w.len
    out[0] = c'"'
    memcpy(out + 1, _digit_pairs() + 2 * (y / 100 % 100), 2)
    memcpy(out + 3, _digit_pairs() + 2 * (y % 100), 2)
    out += 5
    if m:
        out[0] = c'-'
        memcpy(out + 1, _digit_pairs() + 2 * m, 2)
        out += 3
        if d:
            out[0] = c'-'
            memcpy(out + 1, _digit_pairs() + 2 * d, 2)
            out += 3
    out[0] = c'"'
    w.len = out + 1 - w.buf


cdef inline void write_optional_date(JsonWriter* w, uint32_t p) noexcept:
    if p == 0:
        jw_lit(w, b"null")
    else:
        write_date(w, p)


@cython.cdivision(True)
cdef inline void write_cccd(JsonWriter* w, uint64_t cccd) noexcept:
    """The 12-digit CCCD of a people key, leading zeros kept (more digits if it is larger)."""
    cdef char digits[24]
    cdef int n = 0
    while cccd or n < 12:
        digits[23 - n] = <char>(48 + cccd % 10)
        cccd /= 10
        n += 1
    if jw_reserve(w, n + 2):
        w.buf[w.len] = c'"'
        memcpy(w.buf + w.len + 1, digits + 24 - n, n)
        w.buf[w.len + n + 1] = c'"'
        w.len += n + 2


cdef inline void write_card_code_fields(JsonWriter* w, const char* card, uint32_t date) noexcept:
    """The fields a card code carries (DOMAIN 1-2), from "card_no" to "province"; the level is
    the one in force on `date`."""
    cdef int level = level_on(card, date)
    jw_lit(w, b'{"card_no":')
    jw_ascii_string(w, card, CARD_LEN)
    jw_lit(w, b',"group":')
    jw_ascii_string(w, card, 2)
    jw_lit(w, b',"benefit_level":')
    jw_int(w, level)
    jw_lit(w, b',"coverage_pct":')
    jw_int(w, coverage_pct(level))
    jw_lit(w, b',"province":')
    jw_ascii_string(w, card + 3, 2)


cdef inline void write_person(JsonWriter* w, uint64_t cccd, const RecordView* r) noexcept:
    jw_lit(w, b',"person":{"cccd":')
    write_cccd(w, cccd)
    jw_lit(w, b',"bhxh_code":')
    jw_ascii_string(w, r.card_no + 5, 10)        # SPEC 1.1: the card code's last 10 digits
    jw_lit(w, b',"full_name":')
    jw_utf8_string(w, r.full_name, r.name_len)
    jw_lit(w, b',"dob":')
    write_date(w, r.dob)
    jw_lit(w, b',"gender":')
    jw_lit(w, gender_json(r.gender))
    jw_lit(w, b',"address":')
    if r.address_tail != NULL:
        jw_utf8_joined(w, r.address, r.address_len, r.address_tail, r.address_tail_len)
    else:
        write_optional_text(w, r.address, r.address_len)
    jw_lit(w, b'}')


cdef inline void write_optional_text(JsonWriter* w, const char* text, Py_ssize_t n) noexcept:
    if n:
        jw_utf8_string(w, text, n)
    else:
        jw_lit(w, b"null")


cdef inline void write_facility_names(JsonWriter* w, const FacilityNames* names,
                                      const char* code, bint with_level) noexcept:
    """The registered facility's name (and level) from the registry, null when it lacks it."""
    cdef const uint32_t* spans = facility_spans(names, code) if code != NULL else NULL
    jw_lit(w, b',"facility_name":')
    if spans == NULL:
        jw_lit(w, b"null")
    else:
        jw_raw(w, names.json + spans[0], spans[1])
    if with_level:
        jw_lit(w, b',"facility_level":')
        if spans == NULL:
            jw_lit(w, b"null")
        else:
            jw_raw(w, names.json + spans[2], spans[3])


cdef inline void write_current_card(JsonWriter* w, const RecordView* r, uint32_t date,
                                    const FacilityNames* names) noexcept:
    jw_lit(w, b',"card":')
    write_card_code_fields(w, r.card_no, date)
    jw_lit(w, b',"facility_code":')
    jw_ascii_string(w, r.facility, FACILITY_LEN)
    write_facility_names(w, names, r.facility, True)
    jw_lit(w, b',"valid_from":')
    write_date(w, r.valid_from)
    jw_lit(w, b',"valid_to":')
    write_date(w, r.valid_to)
    jw_lit(w, b',"five_year_date":')
    write_optional_date(w, r.five_year)
    jw_lit(w, b',"region_code":')
    jw_lit(w, region_json(r.region))
    jw_lit(w, b',"status":')
    jw_lit(w, status_json(r.status))
    jw_lit(w, b',"issuer":')
    write_optional_text(w, r.issuer, r.issuer_len)
    jw_lit(w, b',"managed_by":')
    jw_lit(w, managed_by_json(r.managed_by))
    jw_lit(w, b',"valid_until":')
    write_date(w, valid_until(r))
    jw_lit(w, b',"prev_card_no":')
    if r.prev_card_no != NULL:
        jw_ascii_string(w, r.prev_card_no, CARD_LEN)
    else:
        jw_lit(w, b"null")
    jw_lit(w, b'},"replacement":null')


cdef inline void write_previous_card(JsonWriter* w, const RecordView* r, uint32_t date,
                                     const FacilityNames* names) noexcept:
    """Rule 3: the replaced card as far as it is known, then the current card as replacement."""
    jw_lit(w, b',"card":')
    write_card_code_fields(w, r.prev_card_no, date)
    jw_lit(w, b',"facility_code":null,"facility_name":null,"facility_level":null'
              b',"valid_from":null,"valid_to":')
    write_optional_date(w, r.prev_valid_to)
    jw_lit(w, b',"five_year_date":')
    write_optional_date(w, r.five_year)
    jw_lit(w, b',"region_code":null,"status":"replaced","issuer":null,"managed_by":')
    jw_lit(w, managed_by_json(r.managed_by))
    jw_lit(w, b',"valid_until":')
    write_optional_date(w, r.prev_valid_to)
    jw_lit(w, b',"prev_card_no":null},"replacement":{"card_no":')
    jw_ascii_string(w, r.card_no, CARD_LEN)
    jw_lit(w, b',"valid_from":')
    write_date(w, r.valid_from)
    jw_lit(w, b',"valid_to":')
    write_date(w, r.valid_to)
    jw_lit(w, b',"facility_code":')
    jw_ascii_string(w, r.facility, FACILITY_LEN)
    write_facility_names(w, names, r.facility, False)
    jw_lit(w, b'}')
