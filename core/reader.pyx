# cython: language_level=3, cdivision=True
# distutils: sources = core/vendor/lmdb/mdb.c core/vendor/lmdb/midl.c
# distutils: include_dirs = core/vendor/lmdb
"""Answer entitlement lookups from a snapshot (docs/DESIGN.md 4 and 6): the compiled twin of
lookup/reference/reader.py and rules.py, giving the same bodies byte for byte.

The vendored LMDB is called from C: an id is classified without Python objects, found with
mdb_get, its record read in place from the memory map, the rules applied in C and the body
written by the C JSON writer into one bytes object.
"""

cimport cython
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc, qsort
from libc.string cimport memcmp, memcpy

from core.calendar cimport (
    date_day, date_month, date_year, day_before, days_in_month, is_real_date, latest_day,
    pack_date,
)
from core.ids cimport ID_BHXH, ID_CARD, ID_CCCD, ID_MALFORMED, ParsedId, classify_id, id_error_message
from core.jsonw cimport (
    JsonWriter, jw_ascii_string, jw_bytes, jw_free, jw_init, jw_int, jw_lit, jw_raw, jw_reserve,
    jw_unicode_string, jw_utf8_string,
)
from core.lmdb cimport (
    MDB_NOLOCK, MDB_NOTFOUND, MDB_NOTLS, MDB_RDONLY, MDB_SET_KEY, MDB_SUCCESS, MDB_cursor,
    MDB_dbi, MDB_env, MDB_envinfo, MDB_stat, MDB_txn, MDB_val, mdb_cursor_close, mdb_cursor_get,
    mdb_cursor_open, mdb_dbi_open, mdb_env_close, mdb_env_create, mdb_env_info, mdb_env_open,
    mdb_env_set_mapsize, mdb_env_set_maxdbs, mdb_env_stat, mdb_get, mdb_strerror, mdb_txn_abort,
    mdb_txn_begin,
)
from core.record cimport (
    CARD_LEN, FACILITY_LEN, HEADER_SIZE, KEY_LEN, MB_DEFENCE, MB_POLICE, OFF_ADDRESS_LEN,
    OFF_CARD_NO, OFF_DOB, OFF_FACILITY, OFF_FIVE_YEAR, OFF_GENDER, OFF_ISSUER_LEN,
    OFF_MANAGED_BY, OFF_NAME_LEN, OFF_PREV_CARD_NO, OFF_PREV_VALID_TO, OFF_REGION, OFF_STATUS,
    OFF_VALID_FROM, OFF_VALID_TO, OFF_VERSION, RECORD_VERSION, ST_ACTIVE, ST_REDUCED_STOPPED,
    ST_REVOKED,
)

import os

import orjson

from lookup.errors import StoreError

__all__ = ("SnapshotReader",)

cdef object _StoreError = StoreError


# --- Result codes and their JSON (DESIGN 6 message table) ------------------------------------

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

# (code, message, message_en) in Result order; 205's message_en is the IdError message.
_MESSAGES = (
    ("000", "Thẻ còn giá trị sử dụng", "Card valid"),
    ("001", "Thẻ do BHXH Bộ Quốc phòng quản lý, đề nghị kiểm tra thẻ và giấy tờ tùy thân",
     "Card managed by the Ministry of National Defence insurance office: "
     "check the card and ID by hand"),
    ("002", "Thẻ do BHXH Bộ Công an quản lý, đề nghị kiểm tra thẻ và giấy tờ tùy thân",
     "Card managed by the Ministry of Public Security insurance office: "
     "check the card and ID by hand"),
    ("003", "Thẻ cũ hết giá trị sử dụng, đã được cấp thẻ mới",
     "Old card expired; a new card was issued"),
    ("004", "Thẻ cũ còn giá trị sử dụng, đã được cấp thẻ mới",
     "Old card still valid; a new card was issued"),
    ("010", "Thẻ chưa đến thời hạn sử dụng", "Card not yet valid on this date"),
    ("010", "Thẻ hết giá trị sử dụng", "Card expired"),
    ("050", "Không có thông tin thẻ", "No card found"),
    ("100", "Lỗi dữ liệu thẻ", "Card data error"),
    ("110", "Thẻ đã bị thu hồi", "Card revoked"),
    ("120", "Thẻ đã báo giảm", "Card cut off"),
    ("121", "Thẻ đã báo giảm: chuyển ngoại tỉnh", "Card cut off: moved out of the province"),
    ("122", "Thẻ đã báo giảm: chuyển nội tỉnh", "Card cut off: moved within the province"),
    ("123", "Thẻ đã báo giảm: tăng lại cùng đơn vị", "Card cut off: re-joined the same employer"),
    ("124", "Thẻ đã báo giảm: dừng tham gia", "Card cut off: stopped participating"),
    ("205", "Mã định danh không đúng định dạng", None),
)
_ELIGIBLE = frozenset({"000", "001", "002", "004"})   # SPEC 3


def _result_json(code, message, message_en):
    """`"result":{...},` ready to copy; 205 stops where its message_en value goes."""
    block = {"code": code, "eligible": code in _ELIGIBLE, "message": message, "message_en": 0}
    head = b'"result":' + orjson.dumps(block)
    if message_en is None:
        return head[:-2]                             # drop the 0 placeholder and the brace
    return head[:-2] + orjson.dumps(message_en) + b"},"


# The bytes live in _RESULT_BYTES for the module's life; the C arrays point into them.
cdef tuple _RESULT_BYTES = tuple(_result_json(*entry) for entry in _MESSAGES)
cdef const char* RESULT_JSON[<int>N_RESULTS]
cdef Py_ssize_t RESULT_LEN[<int>N_RESULTS]
for _i, _block in enumerate(_RESULT_BYTES):
    RESULT_JSON[_i] = <bytes>_block
    RESULT_LEN[_i] = len(<bytes>_block)


cdef inline const char* kind_json(int kind) noexcept:
    if kind == ID_CCCD:
        return b'"cccd"'
    if kind == ID_BHXH:
        return b'"bhxh_code"'
    return b'"card_no"'


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
    const char* issuer
    Py_ssize_t issuer_len       # 0 = none


cdef inline uint32_t _u16(const uint8_t* p) noexcept:
    return p[0] | (<uint32_t>p[1] << 8)


cdef inline uint32_t _u32(const uint8_t* p) noexcept:
    return p[0] | (<uint32_t>p[1] << 8) | (<uint32_t>p[2] << 16) | (<uint32_t>p[3] << 24)


cdef inline uint64_t _be64(const uint8_t* p) noexcept:
    cdef uint64_t v = 0
    cdef int i
    for i in range(KEY_LEN):
        v = (v << 8) | p[i]
    return v


cdef inline void _put_be64(uint64_t v, uint8_t* out) noexcept:
    cdef int i
    for i in range(KEY_LEN - 1, -1, -1):
        out[i] = <uint8_t>(v & 0xFF)
        v >>= 8


cdef bint _is_utf8(const uint8_t* s, Py_ssize_t n) noexcept:
    """Strict UTF-8, as bytes.decode("utf-8") takes it: no overlongs, surrogates or > U+10FFFF."""
    cdef Py_ssize_t i = 0, need
    cdef uint8_t c, lo, hi
    cdef uint64_t chunk
    while i < n:
        # Names and addresses are mostly ASCII: pass 8 such bytes at a time.
        while i + 8 <= n:
            memcpy(&chunk, s + i, 8)
            if chunk & 0x8080808080808080ULL:
                break
            i += 8
        if i == n:
            break
        c = s[i]
        i += 1
        if c < 0x80:
            continue
        lo, hi = 0x80, 0xBF
        if 0xC2 <= c <= 0xDF:
            need = 1
        elif 0xE0 <= c <= 0xEF:
            need = 2
            if c == 0xE0:
                lo = 0xA0
            elif c == 0xED:
                hi = 0x9F
        elif 0xF0 <= c <= 0xF4:
            need = 3
            if c == 0xF0:
                lo = 0x90
            elif c == 0xF4:
                hi = 0x8F
        else:
            return False
        if i + need > n or not (lo <= s[i] <= hi):
            return False
        i += 1
        need -= 1
        while need > 0:
            if not (0x80 <= s[i] <= 0xBF):
                return False
            i += 1
            need -= 1
    return True


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


# Year, month and day by plain unsigned division (this unit compiles with cdivision): the
# calendar.pxd getters keep Python's floor-division semantics, which cost an idiv each here.
cdef inline unsigned int _year(uint32_t p) noexcept:
    return p / 10000


cdef inline unsigned int _month(uint32_t p) noexcept:
    return p / 100 % 100


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


cdef bint read_record(const uint8_t* p, size_t n, RecordView* r) noexcept:
    """Point r into a stored record; False when it is not what a correct build writes.

    The same checks as lookup.reference: record.decode() then rules.is_sound().
    """
    cdef Py_ssize_t name_len, address_len
    if n < HEADER_SIZE or p[OFF_VERSION] != RECORD_VERSION:
        return False
    name_len = _u16(p + OFF_NAME_LEN)
    address_len = _u16(p + OFF_ADDRESS_LEN)
    r.issuer_len = _u16(p + OFF_ISSUER_LEN)
    if <size_t>(HEADER_SIZE + name_len + address_len + r.issuer_len) != n:
        return False
    r.gender = p[OFF_GENDER]
    r.status = p[OFF_STATUS]
    r.managed_by = p[OFF_MANAGED_BY]
    r.region = p[OFF_REGION]
    if not (1 <= r.gender <= 3 and r.status <= ST_REDUCED_STOPPED and r.managed_by <= MB_POLICE
            and r.region <= 3):
        return False
    r.full_name = <const char*>p + HEADER_SIZE
    r.name_len = name_len
    r.issuer = r.full_name + name_len + address_len
    # The address is not part of an answer, but the reference decodes it: check it the same.
    if not (_is_utf8(<const uint8_t*>r.full_name, name_len)
            and _is_utf8(<const uint8_t*>r.full_name + name_len, address_len)
            and _is_utf8(<const uint8_t*>r.issuer, r.issuer_len)):
        return False
    r.card_no = <const char*>p + OFF_CARD_NO
    r.facility = <const char*>p + OFF_FACILITY
    r.prev_card_no = <const char*>p + OFF_PREV_CARD_NO
    if _is_no_card(r.prev_card_no):
        r.prev_card_no = NULL
    elif not _is_card(r.prev_card_no):
        return False
    r.dob = _u32(p + OFF_DOB)
    r.valid_from = _u32(p + OFF_VALID_FROM)
    r.valid_to = _u32(p + OFF_VALID_TO)
    r.five_year = _u32(p + OFF_FIVE_YEAR)
    r.prev_valid_to = _u32(p + OFF_PREV_VALID_TO)
    return (_is_card(r.card_no) and _is_facility(r.facility) and _is_dob(r.dob)
            and _is_date(r.valid_from) and _is_date(r.valid_to)
            and (r.five_year == 0 or _is_date(r.five_year))
            and (r.prev_valid_to == 0 or _is_date(r.prev_valid_to)))


# --- The rules (DESIGN 6, SPEC 3.1) ----------------------------------------------------------

cdef uint32_t te_limit(uint32_t dob) noexcept:
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


cdef Result verdict(const RecordView* r, uint32_t date) noexcept:
    """Rules 4-7 for the person's current card."""
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


# --- Writing a body (SPEC 3, key order of DESIGN 6) ------------------------------------------

cdef enum Found:
    FOUND_NONE = 0      # 050
    FOUND_BAD = 1       # 100: an index entry to nobody, or a record a build never writes
    FOUND_KEY = 2       # the people key is known, the record not yet read
    FOUND_RECORD = 3

cdef struct Lookup:
    ParsedId id
    Found found
    uint64_t cccd       # the people key, as an integer
    MDB_val record      # points into the map; valid while the reader's transaction lives


cdef struct Facility:
    bint given
    bint comparable     # a 5-character ASCII code, the only kind that can equal a stored one
    char code[5]


cdef void write_date(JsonWriter* w, uint32_t p) noexcept:
    """"YYYY-MM-DD", or "YYYY-MM" / "YYYY" for a partial date; years have 4 digits (DESIGN 3)."""
    cdef unsigned int y = _year(p), m = _month(p), d = _day(p)
    cdef char* out
    if not jw_reserve(w, 12):
        return
    out = w.buf + w.len
    out[0] = c'"'
    out[1] = <char>(48 + y / 1000 % 10)
    out[2] = <char>(48 + y / 100 % 10)
    out[3] = <char>(48 + y / 10 % 10)
    out[4] = <char>(48 + y % 10)
    w.len += 5
    if m:
        out[5] = c'-'
        out[6] = <char>(48 + m / 10)
        out[7] = <char>(48 + m % 10)
        w.len += 3
        if d:
            out[8] = c'-'
            out[9] = <char>(48 + d / 10)
            out[10] = <char>(48 + d % 10)
            w.len += 3
    w.buf[w.len] = c'"'
    w.len += 1


cdef inline void write_optional_date(JsonWriter* w, uint32_t p) noexcept:
    if p == 0:
        jw_lit(w, b"null")
    else:
        write_date(w, p)


cdef void write_cccd(JsonWriter* w, uint64_t cccd) noexcept:
    """The 12-digit CCCD of a people key, leading zeros kept."""
    cdef char digits[24]
    cdef int n = 0
    while cccd or n < 12:
        digits[n] = <char>(48 + cccd % 10)
        cccd /= 10
        n += 1
    if not jw_reserve(w, n + 2):
        return
    w.buf[w.len] = c'"'
    w.len += 1
    while n:
        n -= 1
        w.buf[w.len] = digits[n]
        w.len += 1
    w.buf[w.len] = c'"'
    w.len += 1


cdef void write_card_code_fields(JsonWriter* w, const char* card) noexcept:
    """The fields a card code carries (DOMAIN 1-2), from "card_no" to "province"."""
    cdef int level = card[2] - 48
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


cdef void write_person(JsonWriter* w, uint64_t cccd, const RecordView* r) noexcept:
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
    jw_lit(w, b'}')


cdef void write_current_card(JsonWriter* w, const RecordView* r) noexcept:
    jw_lit(w, b',"card":')
    write_card_code_fields(w, r.card_no)
    jw_lit(w, b',"facility_code":')
    jw_ascii_string(w, r.facility, FACILITY_LEN)
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
    if r.issuer_len:
        jw_utf8_string(w, r.issuer, r.issuer_len)
    else:
        jw_lit(w, b"null")
    jw_lit(w, b',"managed_by":')
    jw_lit(w, managed_by_json(r.managed_by))
    jw_lit(w, b',"valid_until":')
    write_date(w, valid_until(r))
    jw_lit(w, b'},"replacement":null')


cdef void write_previous_card(JsonWriter* w, const RecordView* r) noexcept:
    """Rule 3: the replaced card as far as it is known, then the current card as replacement."""
    jw_lit(w, b',"card":')
    write_card_code_fields(w, r.prev_card_no)
    jw_lit(w, b',"facility_code":null,"valid_from":null,"valid_to":')
    write_optional_date(w, r.prev_valid_to)
    jw_lit(w, b',"five_year_date":')
    write_optional_date(w, r.five_year)
    jw_lit(w, b',"region_code":null,"status":"replaced","issuer":null,"managed_by":')
    jw_lit(w, managed_by_json(r.managed_by))
    jw_lit(w, b',"valid_until":')
    write_optional_date(w, r.prev_valid_to)
    jw_lit(w, b'},"replacement":{"card_no":')
    jw_ascii_string(w, r.card_no, CARD_LEN)
    jw_lit(w, b',"valid_from":')
    write_date(w, r.valid_from)
    jw_lit(w, b',"valid_to":')
    write_date(w, r.valid_to)
    jw_lit(w, b',"facility_code":')
    jw_ascii_string(w, r.facility, FACILITY_LEN)
    jw_lit(w, b'}')


cdef void write_without_person(JsonWriter* w, Result result, uint32_t date) noexcept:
    """050 and 100: the result and the date; person, card, replacement, in_route null."""
    jw_raw(w, RESULT_JSON[<int>result], RESULT_LEN[<int>result])
    jw_lit(w, b'"date":')
    write_date(w, date)
    jw_lit(w, b',"person":null,"card":null,"replacement":null,"in_route":null')


cdef void write_entitlement(JsonWriter* w, Lookup* item, uint32_t date,
                            const Facility* facility) noexcept:
    """Rules 1 (100) and 3-7 for an id whose record was found."""
    cdef RecordView r
    cdef bint previous = False
    cdef Result result
    if not read_record(<const uint8_t*>item.record.mv_data, item.record.mv_size, &r):
        write_without_person(w, R100, date)
        return
    # Rule 1: the record must hold the id its index entry was found under.
    if item.id.kind == ID_BHXH:
        if memcmp(r.card_no + 5, item.id.text, 10) != 0:
            write_without_person(w, R100, date)
            return
    elif item.id.kind == ID_CARD:
        if r.prev_card_no != NULL and memcmp(r.prev_card_no, item.id.text, CARD_LEN) == 0:
            previous = True
        elif memcmp(r.card_no, item.id.text, CARD_LEN) != 0:
            write_without_person(w, R100, date)
            return
    if previous:
        # Rule 3: 003 once the previous card's window has ended (or was never known), else 004.
        result = R003 if r.prev_valid_to == 0 or date > r.prev_valid_to else R004
    else:
        result = verdict(&r, date)
    jw_raw(w, RESULT_JSON[<int>result], RESULT_LEN[<int>result])
    jw_lit(w, b'"date":')
    write_date(w, date)
    write_person(w, item.cccd, &r)
    if previous:
        write_previous_card(w, &r)
    else:
        write_current_card(w, &r)
    # in_route: the card in use, which for 003/004 is the replacement: the same facility.
    jw_lit(w, b',"in_route":')
    if not facility.given:
        jw_lit(w, b"null")
    elif facility.comparable and memcmp(facility.code, r.facility, FACILITY_LEN) == 0:
        jw_lit(w, b"true")
    else:
        jw_lit(w, b"false")


cdef int write_body(JsonWriter* w, str asked, Lookup* item, uint32_t date,
                    const Facility* facility, bytes tail) except -1:
    """One SPEC 3 body; `tail` closes it with the snapshot id. `asked` was classified (so is
    a ready str)."""
    jw_lit(w, b'{"id":')
    jw_unicode_string(w, asked)
    if item.id.kind == ID_MALFORMED:
        jw_lit(w, b',"id_type":null,')
        jw_raw(w, RESULT_JSON[<int>R205], RESULT_LEN[<int>R205])
        jw_unicode_string(w, id_error_message(asked))
        jw_lit(w, b'},"date":')
        write_date(w, date)
        jw_lit(w, b',"person":null,"card":null,"replacement":null,"in_route":null')
    else:
        jw_lit(w, b',"id_type":')
        jw_lit(w, kind_json(item.id.kind))
        jw_lit(w, b",")
        if item.found == FOUND_RECORD:
            write_entitlement(w, item, date, facility)
        else:
            write_without_person(w, R050 if item.found == FOUND_NONE else R100, date)
    jw_raw(w, <const char*>tail, len(tail))
    return 0


# --- Lookups in the store --------------------------------------------------------------------

cdef int check_date(long long date) except -1:
    if not (0 < date <= 99999999 and _is_date(<uint32_t>date)):
        raise ValueError(f"date: {date} is not a real yyyymmdd date in the years 1800-2299")
    return 0


cdef int read_facility(object facility, Facility* out) except -1:
    """Prepare the in_route comparison once per request (DESIGN 6)."""
    cdef Py_UCS4 c
    cdef int n = 0
    out.given = facility is not None
    out.comparable = False
    if not out.given:
        return 0
    if not isinstance(facility, str):
        raise TypeError(f"facility: expected str or None, got {type(facility).__name__}")
    if len(<str>facility) != FACILITY_LEN:
        return 0
    for c in <str>facility:
        if c > 0x7F or n == FACILITY_LEN:
            return 0
        out.code[n] = <char>c
        n += 1
    out.comparable = True
    return 0


cdef int _store_failure(int rc, str what) except -1:
    raise _StoreError(f"snapshot store: {what}: {mdb_strerror(rc).decode('utf-8', 'replace')}")


cdef inline uint64_t _card_order(const char* code) noexcept:
    """An integer that sorts card codes as LMDB does (memcmp of the 15 bytes, DOMAIN 1 form)."""
    cdef uint64_t v = ((code[0] - 65) * 26 + (code[1] - 65)) * 5 + (code[2] - 49)
    cdef int i
    for i in range(3, CARD_LEN):
        v = v * 10 + <uint64_t>(code[i] - 48)
    return v


cdef struct Slot:
    uint64_t order
    Py_ssize_t item


cdef int _compare_slots(const void* a, const void* b) noexcept nogil:
    cdef const Slot* x = <const Slot*>a
    cdef const Slot* y = <const Slot*>b
    if x.order != y.order:
        return -1 if x.order < y.order else 1
    return -1 if x.item < y.item else (1 if x.item > y.item else 0)


@cython.final
cdef class SnapshotReader:
    """Answer lookups from one immutable snapshot directory (it holds data.mdb)."""

    cdef MDB_env* env
    cdef MDB_txn* txn
    cdef MDB_dbi people
    cdef MDB_dbi bhxh
    cdef MDB_dbi cards
    cdef str _snapshot_id
    cdef bytes tail                  # ,"snapshot":"<id>"}

    def __cinit__(self, path):
        path = os.fspath(path)
        cdef bytes data_path = os.fsencode(os.path.join(path, "data.mdb"))
        if not os.path.isfile(data_path):
            raise _StoreError(f"snapshot {path}: no data.mdb here; not a published snapshot")
        try:
            self._open(path, os.path.getsize(data_path))
            self._snapshot_id = self._read_snapshot_id(path)
        except BaseException:
            self._release()
            raise
        self.tail = b',"snapshot":' + orjson.dumps(self._snapshot_id) + b"}"

    cdef int _open(self, object path, size_t file_size) except -1:
        cdef bytes encoded = os.fsencode(path)
        cdef int rc = mdb_env_create(&self.env)
        if rc:
            self.env = NULL
            _store_failure(rc, "cannot create an environment")
        # Map the file as it is: a snapshot never grows after publish (DESIGN 4).
        mdb_env_set_mapsize(self.env, file_size)
        mdb_env_set_maxdbs(self.env, 4)
        # No lock file and no reader table (DESIGN 4); NOTLS so the one read transaction is not
        # tied to the thread that opened it.
        rc = mdb_env_open(self.env, encoded, MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS, 0o644)
        if rc:
            raise _StoreError(
                f"snapshot {path}: cannot open the store: "
                f"{mdb_strerror(rc).decode('utf-8', 'replace')}"
            )
        self._check_size(path, file_size)
        # The snapshot is immutable, so one read transaction can live as long as the reader and
        # every MDB_val it hands out stays valid until close().
        rc = mdb_txn_begin(self.env, NULL, MDB_RDONLY, &self.txn)
        if rc:
            self.txn = NULL
            _store_failure(rc, "cannot begin a read transaction")
        self.people = self._open_db(path, b"people")
        self.bhxh = self._open_db(path, b"bhxh")
        self.cards = self._open_db(path, b"cards")
        return 0

    cdef int _check_size(self, object path, size_t file_size) except -1:
        """Refuse a truncated file: reading a page past its end would kill the process."""
        cdef MDB_envinfo info
        cdef MDB_stat stat
        mdb_env_info(self.env, &info)
        mdb_env_stat(self.env, &stat)
        if (info.me_last_pgno + 1) * stat.ms_psize > file_size:
            raise _StoreError(f"snapshot {path}: data.mdb is truncated")
        return 0

    cdef MDB_dbi _open_db(self, object path, bytes name) except? 0:
        cdef MDB_dbi dbi = 0
        if mdb_dbi_open(self.txn, name, 0, &dbi):
            raise _StoreError(f"snapshot {path}: no {name.decode()} database")
        return dbi

    cdef str _read_snapshot_id(self, object path):
        cdef MDB_dbi meta = self._open_db(path, b"meta")
        cdef MDB_val key, data
        key.mv_data = <void*><const char*>b"manifest"
        key.mv_size = 8
        snapshot_id = None
        if mdb_get(self.txn, meta, &key, &data) == MDB_SUCCESS:
            try:
                snapshot_id = orjson.loads((<const char*>data.mv_data)[:data.mv_size])["id"]
            except (orjson.JSONDecodeError, TypeError, KeyError):
                pass
        if not isinstance(snapshot_id, str):
            raise _StoreError(f"snapshot {path}: the manifest is not JSON with an id")
        return snapshot_id

    @property
    def snapshot_id(self):
        """The id of the snapshot (its manifest's "id")."""
        return self._snapshot_id

    cdef int _check_open(self) except -1:
        if self.txn == NULL:
            raise _StoreError("snapshot reader is closed")
        return 0

    cdef int _get(self, MDB_dbi dbi, const void* key, size_t size, MDB_val* data) except -1:
        """mdb_get; 1 found, 0 not found, raise on anything else (a damaged store)."""
        cdef MDB_val k
        k.mv_data = <void*>key
        k.mv_size = size
        cdef int rc = mdb_get(self.txn, dbi, &k, data)
        if rc == MDB_SUCCESS:
            return 1
        if rc == MDB_NOTFOUND:
            return 0
        return _store_failure(rc, "read failed")

    cdef int _find(self, Lookup* item) except -1:
        """Resolve one parsed id to its record: the index (bhxh, cards), then people."""
        cdef uint8_t key[KEY_LEN]
        cdef MDB_val value
        cdef int kind = item.id.kind
        item.found = FOUND_NONE
        if kind == ID_CCCD:
            item.cccd = item.id.number
        else:
            if kind == ID_BHXH:
                _put_be64(item.id.number, key)
                if not self._get(self.bhxh, key, KEY_LEN, &value):
                    return 0
            elif not self._get(self.cards, item.id.text, CARD_LEN, &value):
                return 0
            if value.mv_size != KEY_LEN:
                item.found = FOUND_BAD
                return 0
            item.cccd = _be64(<const uint8_t*>value.mv_data)
        _put_be64(item.cccd, key)
        if self._get(self.people, key, KEY_LEN, &item.record):
            item.found = FOUND_RECORD
        elif kind != ID_CCCD:
            item.found = FOUND_BAD        # an index entry to nobody
        return 0

    def answer(self, str id not None, long long date, facility=None):
        """Answer one lookup as the SPEC 3 JSON body; date is packed yyyymmdd."""
        cdef Lookup item
        cdef Facility fac
        cdef JsonWriter w
        self._check_open()
        check_date(date)
        read_facility(facility, &fac)
        if classify_id(id, &item.id) != ID_MALFORMED:
            self._find(&item)
        jw_init(&w)
        try:
            write_body(&w, id, &item, <uint32_t>date, &fac, self.tail)
            return jw_bytes(&w)
        finally:
            jw_free(&w)

    def answer_many(self, ids, long long date, facility=None):
        """Answer many lookups as a JSON array of bodies in request order."""
        cdef list asked = ids if type(ids) is list else list(ids)
        cdef Py_ssize_t n = len(asked), i
        cdef Lookup* items
        cdef Facility fac
        cdef JsonWriter w
        self._check_open()
        check_date(date)
        read_facility(facility, &fac)
        for i in range(n):
            if not isinstance(asked[i], str):
                raise TypeError(f"ids[{i}]: expected str, got {type(asked[i]).__name__}")
        items = <Lookup*>malloc(max(n, 1) * sizeof(Lookup))
        if items == NULL:
            raise MemoryError()
        jw_init(&w)
        try:
            for i in range(n):
                classify_id(<str>asked[i], &items[i].id)
                items[i].found = FOUND_NONE
            self._find_in_key_order(items, n)
            jw_reserve(&w, 1024 * n + 2)
            jw_lit(&w, b"[")
            for i in range(n):
                if i:
                    jw_lit(&w, b",")
                write_body(&w, <str>asked[i], &items[i], <uint32_t>date, &fac, self.tail)
            jw_lit(&w, b"]")
            return jw_bytes(&w)
        finally:
            jw_free(&w)
            free(items)

    cdef int _find_in_key_order(self, Lookup* items, Py_ssize_t n) except -1:
        """Resolve ids db by db in key order: a cursor finds a key near the last one fast, as
        LMDB checks the cursor's current page before it descends from the root."""
        cdef Slot* slots = <Slot*>malloc(max(n, 1) * sizeof(Slot))
        if slots == NULL:
            raise MemoryError()
        try:
            self._resolve_index(items, n, slots, ID_BHXH)
            self._resolve_index(items, n, slots, ID_CARD)
            self._read_people(items, n, slots)
        finally:
            free(slots)
        return 0

    cdef Py_ssize_t _sorted_slots(self, Lookup* items, Py_ssize_t n, Slot* slots, int kind,
                                  bint people) noexcept:
        """Fill slots with the items to look up in one db, sorted by key; return their count."""
        cdef Py_ssize_t i, count = 0
        for i in range(n):
            if people:
                if not (items[i].id.kind == ID_CCCD or items[i].found == FOUND_KEY):
                    continue
                slots[count].order = items[i].id.number if items[i].id.kind == ID_CCCD \
                    else items[i].cccd
            else:
                if <int>items[i].id.kind != kind:
                    continue
                slots[count].order = items[i].id.number if kind == ID_BHXH \
                    else _card_order(items[i].id.text)
            slots[count].item = i
            count += 1
        qsort(slots, count, sizeof(Slot), _compare_slots)
        return count

    cdef int _resolve_index(self, Lookup* items, Py_ssize_t n, Slot* slots, int kind) except -1:
        """Turn social insurance numbers (bhxh) or card codes (cards) into people keys."""
        cdef Py_ssize_t count = self._sorted_slots(items, n, slots, kind, False), s
        cdef MDB_cursor* cursor = self._cursor(self.bhxh if kind == ID_BHXH else self.cards)
        cdef uint8_t number[KEY_LEN]
        cdef MDB_val value
        cdef Lookup* item
        cdef int found
        try:
            for s in range(count):
                item = &items[slots[s].item]
                if kind == ID_BHXH:
                    _put_be64(item.id.number, number)
                    found = self._seek(cursor, number, KEY_LEN, &value)
                else:
                    found = self._seek(cursor, item.id.text, CARD_LEN, &value)
                if not found:
                    item.found = FOUND_NONE
                elif value.mv_size != KEY_LEN:
                    item.found = FOUND_BAD
                else:
                    item.cccd = _be64(<const uint8_t*>value.mv_data)
                    item.found = FOUND_KEY
        finally:
            mdb_cursor_close(cursor)
        return 0

    cdef int _read_people(self, Lookup* items, Py_ssize_t n, Slot* slots) except -1:
        cdef Py_ssize_t count = self._sorted_slots(items, n, slots, ID_CCCD, True), s
        cdef MDB_cursor* cursor = self._cursor(self.people)
        cdef uint8_t key[KEY_LEN]
        cdef Lookup* item
        try:
            for s in range(count):
                item = &items[slots[s].item]
                if item.id.kind == ID_CCCD:
                    item.cccd = item.id.number
                _put_be64(item.cccd, key)
                if self._seek(cursor, key, KEY_LEN, &item.record):
                    item.found = FOUND_RECORD
                else:
                    # A CCCD nobody holds is 050; an index entry to nobody is a data error.
                    item.found = FOUND_NONE if item.id.kind == ID_CCCD else FOUND_BAD
        finally:
            mdb_cursor_close(cursor)
        return 0

    cdef MDB_cursor* _cursor(self, MDB_dbi dbi) except NULL:
        cdef MDB_cursor* cursor = NULL
        cdef int rc = mdb_cursor_open(self.txn, dbi, &cursor)
        if rc:
            _store_failure(rc, "cannot open a cursor")
        return cursor

    cdef int _seek(self, MDB_cursor* cursor, const void* key, size_t size,
                   MDB_val* data) except -1:
        cdef MDB_val k
        k.mv_data = <void*>key
        k.mv_size = size
        cdef int rc = mdb_cursor_get(cursor, &k, data, MDB_SET_KEY)
        if rc == MDB_SUCCESS:
            return 1
        if rc == MDB_NOTFOUND:
            return 0
        return _store_failure(rc, "read failed")

    cdef void _release(self) noexcept:
        if self.txn != NULL:
            mdb_txn_abort(self.txn)
            self.txn = NULL
        if self.env != NULL:
            mdb_env_close(self.env)
            self.env = NULL

    def close(self):
        """Release the snapshot; later lookups raise StoreError."""
        self._release()

    def __dealloc__(self):
        self._release()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
