"""The 2025 map (DOMAIN.md 1 and 6): on 2025-07-01 the 63 provinces became 34.

A card issued since then names a province of the new map (the 2-digit code of the member whose
city became the seat, so not always the member whose name the province kept); a card issued
before keeps its old code, and both stay valid. Addresses lost the district tier: commune,
then province. Island districts became special zones (đặc khu), which stand where a commune
would.
"""

from __future__ import annotations

import datetime

__all__ = ("CITIES", "MAP_2025", "NEW_CODE", "NEW_NAME", "NEW_PROVINCES")

MAP_2025 = datetime.date(2025, 7, 1)  # the first day of the 34-province map

# New code: (name, the old 2-digit codes of its members). Resolution 202/2025/QH15 as
# DOMAIN.md 1 lists it.
NEW_PROVINCES = {
    "01": ("Hà Nội", "01"),
    "04": ("Cao Bằng", "04"),
    "11": ("Điện Biên", "11"),
    "12": ("Lai Châu", "12"),
    "14": ("Sơn La", "14"),
    "20": ("Lạng Sơn", "20"),
    "22": ("Quảng Ninh", "22"),
    "38": ("Thanh Hóa", "38"),
    "40": ("Nghệ An", "40"),
    "42": ("Hà Tĩnh", "42"),
    "46": ("Huế", "46"),
    "08": ("Tuyên Quang", "08 02"),
    "15": ("Lào Cai", "10 15"),
    "19": ("Thái Nguyên", "19 06"),
    "25": ("Phú Thọ", "25 26 17"),
    "24": ("Bắc Ninh", "27 24"),
    "33": ("Hưng Yên", "33 34"),
    "31": ("Hải Phòng", "31 30"),
    "37": ("Ninh Bình", "37 35 36"),
    "44": ("Quảng Trị", "45 44"),
    "48": ("Đà Nẵng", "48 49"),
    "51": ("Quảng Ngãi", "51 62"),
    "52": ("Gia Lai", "64 52"),
    "56": ("Khánh Hòa", "56 58"),
    "68": ("Lâm Đồng", "68 67 60"),
    "66": ("Đắk Lắk", "66 54"),
    "79": ("Hồ Chí Minh", "79 74 77"),
    "75": ("Đồng Nai", "75 70"),
    "80": ("Tây Ninh", "72 80"),
    "92": ("Cần Thơ", "92 94 93"),
    "86": ("Vĩnh Long", "86 83 84"),
    "82": ("Đồng Tháp", "87 82"),
    "96": ("Cà Mau", "96 95"),
    "91": ("An Giang", "89 91"),
}

# The six centrally-run cities; the rest are provinces (tỉnh).
CITIES = frozenset({"01", "31", "46", "48", "79", "92"})

# Old 2-digit code -> the code of the new province it belongs to.
NEW_CODE = {old: new for new, (_, members) in NEW_PROVINCES.items() for old in members.split()}
NEW_NAME = {new: name for new, (name, _) in NEW_PROVINCES.items()}
