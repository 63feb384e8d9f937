# The result table and the body of an answer (SPEC 3, in the key order of docs/DESIGN.md 6):
# part of core/reader.pyx, which includes it (one module, one C file). The reader finds an id's
# record (Lookup); this writes the body from it.
#
# Why an include and not a .pxd: the table is Python data built at module init, which a .pxd
# cannot hold, and a .pxd holds only `cdef inline` functions, while the writers are better left
# to gcc: declared inline, they used up the unit's inlining budget, the card writer then called
# write_date instead of inlining it, and a batch of 1000 ids ran ~3,000 more instructions.

from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.string cimport memcmp

from core.facilities cimport FacilityNames
from core.ids cimport ID_BHXH, ID_CARD, ID_CCCD, ID_MALFORMED, ParsedId, id_error_message
from core.jsonw cimport JsonWriter, jw_lit, jw_raw, jw_unicode_string
from core.lmdb cimport MDB_val
from core.record cimport CARD_LEN, FACILITY_LEN
from core.rules cimport (
    R003, R004, R050, R100, R205, N_RESULTS, RecordView, Result, _is_date, read_record, verdict,
    covered_by_previous, write_current_card, write_date, write_person, write_previous_card,
)

import orjson


# --- Result codes and their JSON (DESIGN 6 message table) ------------------------------------

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


cdef tuple _CODES = tuple(entry[0] for entry in _MESSAGES)     # by Result: one str per code
# `"000",` by Result, 6 bytes each: a batch's codes as a JSON array (answer_batch).
cdef bytes _CODE_ITEMS_BYTES = b"".join(b'"%s",' % code.encode() for code in _CODES)
cdef const char* _CODE_ITEMS = _CODE_ITEMS_BYTES

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


# --- The body of an answer (SPEC 3, key order of DESIGN 6) ------------------------------------

cdef enum Found:
    FOUND_NONE = 0      # 050
    FOUND_BAD = 1       # 100: an index entry to nobody, or a record a build never writes
    FOUND_RECORD = 2
    SEEKING_INDEX = 3   # answer_many: walking bhxh or cards (then bhxh) to the people key
    SEEKING_PERSON = 4  # answer_many: walking people to the record

cdef struct Lookup:
    ParsedId id
    Found found
    uint64_t cccd       # the people key, as an integer
    uint8_t key[8]      # the key being looked up, when it is a number (DESIGN 4)
    MDB_val record      # points into the map; valid while the reader's transaction lives
    bint by_suffix      # a card code not in `cards`, looked up by its last 10 digits in bhxh
    const StringTable* strings  # the snapshot's, for its records (set with the lookup)
    const FacilityNames* facilities  # the registry's names and levels (NULL: none loaded)


cdef struct Facility:
    bint given
    bint comparable     # a 5-character ASCII code, the only kind that can equal a stored one
    char code[5]


cdef Result write_without_person(JsonWriter* w, Result result, uint32_t date) noexcept:
    """050 and 100: the result and the date; person, card, replacement, in_route null."""
    jw_raw(w, RESULT_JSON[<int>result], RESULT_LEN[<int>result])
    jw_lit(w, b'"date":')
    write_date(w, date)
    jw_lit(w, b',"person":null,"card":null,"replacement":null,"in_route":null')
    return result


cdef Result write_entitlement(JsonWriter* w, Lookup* item, uint32_t date,
                              const Facility* facility) noexcept:
    """Rules 1 (100) and 3-7 for an id whose record was found; returns the result written."""
    cdef RecordView r
    cdef bint previous = False
    cdef Result result
    if not read_record(<const uint8_t*>item.record.mv_data, item.record.mv_size, item.strings,
                       &r):
        return write_without_person(w, R100, date)
    # Rule 1: the record must hold the id its index entry was found under.
    if item.id.kind == ID_BHXH:
        if memcmp(r.card_no + 5, item.id.text, 10) != 0:
            return write_without_person(w, R100, date)
    elif item.id.kind == ID_CARD:
        if r.prev_card_no != NULL and memcmp(r.prev_card_no, item.id.text, CARD_LEN) == 0:
            previous = True
        elif memcmp(r.card_no, item.id.text, CARD_LEN) != 0:
            # Found through its last 10 digits: the holder of that social insurance number has
            # other card codes, so nobody has this one (050), unless the record does not hold
            # the number bhxh led to it by (100).
            if item.by_suffix and memcmp(r.card_no + 5, item.id.text + 5, 10) == 0:
                return write_without_person(w, R050, date)
            return write_without_person(w, R100, date)
    if not previous and covered_by_previous(&r, date):
        previous = True  # a card change: the old card covers the days before the new one
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
        write_previous_card(w, &r, date, item.facilities)
    else:
        write_current_card(w, &r, date, item.facilities)
    # in_route: the card in use, which for 003/004 is the replacement: the same facility.
    jw_lit(w, b',"in_route":')
    if not facility.given:
        jw_lit(w, b"null")
    elif facility.comparable and memcmp(facility.code, r.facility, FACILITY_LEN) == 0:
        jw_lit(w, b"true")
    else:
        jw_lit(w, b"false")
    return result


cdef Result write_body(JsonWriter* w, str asked, Lookup* item, uint32_t date,
                       const Facility* facility, bytes tail) except N_RESULTS:
    """One SPEC 3 body; `tail` closes it with the snapshot id. `asked` was classified (so is
    a ready str). Returns the result written."""
    cdef Result result = R205
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
            result = write_entitlement(w, item, date, facility)
        else:
            result = write_without_person(w, R050 if item.found == FOUND_NONE else R100, date)
    jw_raw(w, <const char*>tail, len(tail))
    return result


cdef inline void _put_code(char* results, Py_ssize_t i, Result result) noexcept:
    """Note the Result of the i-th answer (results NULL: not wanted)."""
    if results != NULL:
        results[i] = <char>result


# --- The request's date and facility ---------------------------------------------------------

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
