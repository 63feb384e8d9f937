"""The data the outside of the product is made of (SPEC.md, DOMAIN.md, docs/DESIGN.md): columns
of the files, the stored enumerations, province codes, result codes and their messages.

Data only: no logic and no imports from the package, so every layer may read it (ingest, synth,
the reference, the web layer, metrics). The compiled core keeps its own C tables of the same
values; the hypothesis tests that compare it with the reference hold the two together.
"""

from typing import NamedTuple

__all__ = (
    "ADDRESS_UNITS",
    "CARD_PROVINCES",
    "COLUMNS",
    "DELTA_COLUMNS",
    "DELTA_REQUIRED",
    "ELIGIBLE",
    "GENDERS",
    "GROUP_LEVELS",
    "GROUP_MINISTRY",
    "MANAGED_BY",
    "MESSAGES",
    "OPTIONAL",
    "POPULATION_COLUMNS",
    "POPULATION_OPTIONAL",
    "PROVINCES",
    "QUALITY_FLAGS",
    "REGIONS",
    "REQUIRED",
    "RESULT_CODES",
    "ROUTES",
    "STATUSES",
    "Route",
)

# SPEC.md 1.1, in the order the spec lists them (and lookup synth writes them).
COLUMNS = (
    "cccd",
    "bhxh_code",
    "card_no",
    "full_name",
    "dob",
    "gender",
    "address",
    "facility_code",
    "valid_from",
    "valid_to",
    "five_year_date",
    "region_code",
    "status",
    "managed_by",
    "prev_card_no",
    "prev_valid_to",
    "issuer",
)
OPTIONAL = (
    "address",
    "five_year_date",
    "region_code",
    "status",
    "managed_by",
    "prev_card_no",
    "prev_valid_to",
    "issuer",
)
REQUIRED = tuple(name for name in COLUMNS if name not in OPTIONAL)
DELTA_REQUIRED = ("op", "cccd")  # a delete needs only these; upserts are checked row by row
DELTA_COLUMNS = ("op",) + COLUMNS  # SPEC.md 1.2: op first
POPULATION_COLUMNS = ("cccd", "full_name", "dob", "gender")  # SPEC.md 1.3, all required
POPULATION_OPTIONAL = ("death_date",)

# Index = the stored code (DESIGN 4); gender codes start at 1, code 0 (and region 0) is "none".
GENDERS = (None, "male", "female", "unknown")
STATUSES = (
    "active",
    "revoked",
    "reduced",
    "reduced_out_province",
    "reduced_in_province",
    "reduced_rejoined",
    "reduced_stopped",
)
MANAGED_BY = ("vss", "defence", "police")
REGIONS = (None, "K1", "K2", "K3")

# CCCD digits 1-3 (DOMAIN.md 1): province codes in force before the 2025 merger; never reissued.
PROVINCES = frozenset(
    "001 002 004 006 008 010 011 012 014 015 017 019 020 022 024 025 026 027 030 031 033 034 035"
    " 036 037 038 040 042 044 045 046 048 049 051 052 054 056 058 060 062 064 066 067 068 070 072"
    " 074 075 077 079 080 082 083 084 086 087 089 091 092 093 094 095 096".split()
)

# What the administrative parts of an address start with (communes, districts, the special zones
# of 2025); the build keeps them with the province in the snapshot's string table (DESIGN 4).
ADDRESS_UNITS = (
    "Xã ", "Phường ", "Thị trấn ", "Đặc khu ", "Huyện ", "Quận ", "Thị xã ", "Thành phố ",
)  # fmt: skip

# Card and facility codes carry the same numbers without the leading zero (DOMAIN.md 1); the 34
# provinces of 2025 kept codes of this list.
CARD_PROVINCES = frozenset(code[1:] for code in PROVINCES)

# DOMAIN.md 2: the beneficiary groups and the benefit levels their cards carry (decision
# 1351/QĐ-BHXH and the codes added since 2023). CN and LH cards printed before 2026 keep levels
# 3 and 4; the sources give CT and PV two levels.
_LEVEL_GROUPS = {
    "1": "CC TE",
    "2": "CK CB KC HN DT DK XD BT TS AK CT LH CN",
    "3": "HT TC CN PV TG DS HK",
    "4": "DN HX CH NN TK HC XK TB NO CT XB TN CS XN MS HD TQ TA TY HG LS PV HS SV GB GD LH ND"
    " TH TV TD TU BA",
    "5": "QN CA CY",
}
GROUP_LEVELS: dict[str, str] = {}  # group -> the level digits its cards carry
for _level, _groups in _LEVEL_GROUPS.items():
    for _group in _groups.split():
        GROUP_LEVELS[_group] = GROUP_LEVELS.get(_group, "") + _level
# SPEC 3.1: the groups whose cards a ministry's insurance office manages, whatever managed_by says.
GROUP_MINISTRY = {"QN": "defence", "CY": "defence", "CA": "police"}

# The build's data-quality summary (DESIGN 5), in the order of the flag bits 1, 2, 4, 8...:
# the CCCD against the birth data, then the card code against DOMAIN 1-2 and managed_by.
QUALITY_FLAGS = (
    "cccd_sex_or_century_mismatch",
    "cccd_birth_year_mismatch",
    "cccd_unknown_province",
    "card_unknown_group",
    "card_unusual_level",
    "card_unknown_province",
    "card_ministry_disagrees",
)

# DESIGN 6 message table: code -> (message, message_en). 010 has two texts, one per side of the
# window; 205's English text is the IdError message.
MESSAGES = {
    "000": ("Thẻ còn giá trị sử dụng", "Card valid"),
    "001": (
        "Thẻ do BHXH Bộ Quốc phòng quản lý, đề nghị kiểm tra thẻ và giấy tờ tùy thân",
        "Card managed by the Ministry of National Defence insurance office: "
        "check the card and ID by hand",
    ),
    "002": (
        "Thẻ do BHXH Bộ Công an quản lý, đề nghị kiểm tra thẻ và giấy tờ tùy thân",
        "Card managed by the Ministry of Public Security insurance office: "
        "check the card and ID by hand",
    ),
    "003": (
        "Thẻ cũ hết giá trị sử dụng, đã được cấp thẻ mới",
        "Old card expired; a new card was issued",
    ),
    "004": (
        "Thẻ cũ còn giá trị sử dụng, đã được cấp thẻ mới",
        "Old card still valid; a new card was issued",
    ),
    "010 early": ("Thẻ chưa đến thời hạn sử dụng", "Card not yet valid on this date"),
    "010 late": ("Thẻ hết giá trị sử dụng", "Card expired"),
    "050": ("Không có thông tin thẻ", "No card found"),
    "100": ("Lỗi dữ liệu thẻ", "Card data error"),
    "110": ("Thẻ đã bị thu hồi", "Card revoked"),
    "120": ("Thẻ đã báo giảm", "Card cut off"),
    "121": ("Thẻ đã báo giảm: chuyển ngoại tỉnh", "Card cut off: moved out of the province"),
    "122": ("Thẻ đã báo giảm: chuyển nội tỉnh", "Card cut off: moved within the province"),
    "123": ("Thẻ đã báo giảm: tăng lại cùng đơn vị", "Card cut off: re-joined the same employer"),
    "124": ("Thẻ đã báo giảm: dừng tham gia", "Card cut off: stopped participating"),
    "205": ("Mã định danh không đúng định dạng", None),
}

# SPEC 3: the codes a hospital admits on (DOMAIN 4: HIS code treats these as "admit").
ELIGIBLE = frozenset({"000", "001", "002", "004"})

# DESIGN.md 6 and SPEC.md 3.1 result codes.
RESULT_CODES = (
    "000",
    "001",
    "002",
    "003",
    "004",
    "010",
    "050",
    "051",
    "052",
    "053",
    "054",
    "055",
    "060",
    "061",
    "070",
    "100",
    "110",
    "120",
    "121",
    "122",
    "123",
    "124",
    "205",
)


class Route(NamedTuple):
    """One route of the HTTP API (SPEC.md 3)."""

    method: str
    path: str
    label: str  # its name in the router and, with its path, in the metrics
    scope: str | None  # the key scope it needs; None: open (the gateway checks its own login)


# The one route table: the router (lookup.web.app), the metrics' labels (lookup.service.metrics)
# and the OpenAPI cross-check (tests) all read it. Every other method on a path answers 405.
ROUTES = (
    Route("GET", "/v1/entitlements/{id}", "entitlement", "his"),
    Route("POST", "/v1/entitlements/batch", "batch", "batch"),
    Route("GET", "/v1/vneid/cards/{cccd}", "vneid", "vneid"),
    Route("POST", "/api/token/take", "token", None),
    Route("POST", "/api/egw/KQNhanLichSuKCB2024", "gateway", None),
    Route("GET", "/healthz", "healthz", None),
    Route("GET", "/readyz", "readyz", None),
    Route("GET", "/metrics", "metrics", "admin"),
    Route("GET", "/openapi.json", "openapi", None),
    Route("GET", "/docs", "docs", None),
)
