"""Tables behind `lookup synth`: names, beneficiary groups, ages, provinces and places.

Weights are relative (they need not sum to 100); where a figure is a published share it says
so, the rest are plausible guesses that make the synthetic country look like the real one.
Every text here is written in NFC; the loaders normalise again so an editor that saves NFD
cannot break that, and `world.World` refuses a text that would need CSV quoting.

Provinces are the 63 before the 2025 merger (their codes are the CCCD's, DOMAIN.md 1);
population (thousands, 2023, GSO, rounded) weights where people live. Districts are real;
wards and communes are real where listed, else drawn from the region's common names (Quang
Trung, Tân Phú, Phường 3...), which exist in many districts.
"""

from __future__ import annotations

import unicodedata
from typing import NamedTuple

# fmt: off
__all__ = (
    "AGE_BANDS",
    "AGE_WEIGHTS",
    "GIVEN",
    "GROUPS_BY_BAND",
    "GROUP_LEVEL",
    "HAMLET_WORDS",
    "MALE_SHARE_BY_GROUP",
    "MIDDLE",
    "MINORITY",
    "PREVIOUS_GROUPS",
    "PROVINCES",
    "REDUCED_STATUSES",
    "RURAL_COMMUNES",
    "SURNAMES",
    "URBAN_WARDS",
    "Province",
    "parse_weighted",
    "region_of",
)
# fmt: on


def parse_weighted(text: str) -> list[tuple[str, float]]:
    """Parse "name weight, name weight, ..." (a name may hold spaces) into NFC pairs."""
    pairs = []
    for item in text.replace("\n", " ").split(","):
        item = item.strip()
        if not item:
            continue
        name, _, weight = item.rpartition(" ")
        pairs.append((unicodedata.normalize("NFC", name), float(weight)))
    return pairs


# Surname shares (%) as usually cited for the Kinh majority: Nguyễn ~38, Trần ~11, Lê ~9.5,
# Phạm ~7, Hoàng/Huỳnh ~5 (one name; Huỳnh is the southern form), Phan ~4.5, Vũ/Võ ~3.9,
# Đặng 2.1, Bùi 2, Đỗ 1.4, Hồ 1.3, Ngô 1.3, Dương 1, Lý 0.5; the tail shares the remaining ~11.5.
SURNAMES = parse_weighted("""
Nguyễn 38, Trần 11, Lê 9.5, Phạm 7, Hoàng 3.1, Huỳnh 1.9, Phan 4.5, Vũ 2.1, Võ 1.8,
Đặng 2.1, Bùi 2, Đỗ 1.4, Hồ 1.3, Ngô 1.3, Dương 1, Lý 0.5,
Đinh 0.9, Trịnh 0.8, Đoàn 0.8, Trương 0.8, Lâm 0.6, Mai 0.6, Lương 0.6, Đào 0.6, Tạ 0.4,
Cao 0.5, Hà 0.5, Tô 0.35, Chu 0.3, Quách 0.25, Vương 0.25, Thái 0.3, Triệu 0.3, Kiều 0.2,
Lưu 0.3, Phùng 0.3, Châu 0.25, Tăng 0.15, Khúc 0.08, Âu 0.08, Kim 0.1, Diệp 0.1, La 0.12,
Mạc 0.1, Nghiêm 0.1, Ông 0.08, Thân 0.12, Tống 0.12, Giang 0.1, Hứa 0.12, Lục 0.08,
Doãn 0.1, Đàm 0.12, Lã 0.08, Quan 0.08, Hàn 0.06, Từ 0.1, Văn 0.08, Lạc 0.05, Nhữ 0.05,
Bạch 0.06, Khổng 0.05, Tôn 0.08, Viên 0.04, Mã 0.06, Phí 0.06, Ninh 0.06, Bế 0.05, Lò 0.04
""")

# Middle names (tên đệm) by sex and era: Văn and Thị dominate older generations; parents since
# the 1990s prefer Minh, Gia, Bảo, Ngọc, Khánh... Some middle parts have two syllables.
MIDDLE = {
    ("m", "old"): parse_weighted("""
Văn 55, Đức 6, Minh 5, Hữu 5, Công 4, Thanh 4, Đình 4, Quốc 3, Xuân 3, Ngọc 3, Quang 3,
Trọng 2, Bá 2, Tiến 1.5, Mạnh 1, Thế 1.5, Kim 0.5, Duy 1, Anh 1, Viết 1, Đăng 1, Thành 2,
Hồng 1, Trung 1, Như 0.5, Chí 1, Khắc 0.8, Hoàng 1, Văn Minh 0.3, Đức Anh 0.3
"""),
    ("m", "new"): parse_weighted("""
Văn 22, Minh 10, Đức 8, Gia 6, Quốc 5, Hoàng 5, Thành 4, Duy 4, Quang 4, Hữu 3, Công 3,
Anh 3, Tuấn 3, Trung 3, Đăng 3, Nhật 3, Bảo 3, Khánh 2, Thanh 2, Ngọc 2, Tiến 2, Xuân 1.5,
Thế 1.5, Hải 1.5, Trọng 1.5, Việt 1.5, Phúc 1, An 1, Hoàng Gia 1, Minh Đức 0.8,
Gia Bảo 0.6, Nguyễn Minh 0.3, Hoàng Minh 0.6, Trần Gia 0.3, Đức Minh 0.5
"""),
    ("f", "old"): parse_weighted("""
Thị 80, Ngọc 4, Thu 3, Thanh 3, Kim 3, Hồng 2, Bích 2, Minh 1, Mai 1, Xuân 1, Thúy 1,
Thị Thu 0.8, Thị Kim 0.6, Thị Ngọc 0.6, Thị Thanh 0.6, Thị Hồng 0.5, Mỹ 0.5
"""),
    ("f", "new"): parse_weighted("""
Thị 35, Ngọc 10, Thanh 6, Thu 5, Bảo 5, Minh 4, Khánh 4, Thùy 4, Mai 3, Phương 3, Kim 3,
Hải 2, Quỳnh 2, Diệu 2, Hoài 1.5, Thảo 1.5, Tuệ 1, Gia 1, Hà 1, Lan 1, Mỹ 1.5, Hồng 1,
Thị Thu 2, Thị Ngọc 2, Thị Thanh 2, Thị Kim 1, Ngọc Bảo 1, Thị Mỹ 1, Thị Hồng 1,
Nguyễn Thảo 0.3, Ngọc Khánh 0.5, Bảo Ngọc 0.6
"""),
}

# Given names (tên) by sex; common ones weigh more.
GIVEN = {
    "m": parse_weighted("""
Hùng 4, Dũng 4, Minh 5, Tuấn 4, Nam 4, Hải 3, Long 3, Sơn 3, Thắng 2, Quang 2, Huy 4,
Khánh 2, Đức 3, Hiếu 2, Trung 2, Phong 2, Bình 2, An 3, Thành 3, Tài 2, Phúc 2, Vinh 2,
Hoàng 2, Cường 2, Kiên 2, Tùng 2, Lâm 1.5, Việt 1.5, Hưng 2, Đạt 3, Tiến 1.5, Toàn 1.5,
Thịnh 1.5, Nghĩa 1.5, Lộc 1.5, Phát 1.5, Khoa 2, Bảo 2.5, Khôi 2, Khang 2, Duy 2, Quân 2,
Hòa 1.5, Tâm 1.5, Trí 1.5, Nhân 1.5, Thái 1, Vũ 1.5, Anh 4, Hiệp 1, Kiệt 1, Định 0.6,
Tú 1, Thuận 1, Quý 1, Mạnh 1, Hậu 1, Chiến 1, Thanh 1.5, Trường 1, Sang 1, Tín 1,
Lợi 0.8, Hào 0.8, Luân 0.5, Nhật 1, Phương 0.8, Thông 0.8, Tân 1, Thiện 0.8, Tường 0.5,
Vương 0.5, Hiển 0.6, Tuyến 0.5, Công 0.5, Lực 0.5, Hảo 0.3, Đông 0.5, Bắc 0.3, Giang 0.5
"""),
    "f": parse_weighted("""
Lan 3, Hương 4, Hoa 3, Hằng 3, Mai 3, Linh 5, Trang 5, Thảo 4, Ngọc 3, Anh 5, Phương 3,
Hà 3, Thu 2, Nga 2, Nhung 2, Yến 2, Hạnh 2, Huyền 3, Thủy 2, Loan 1.5, Dung 2, Vân 2,
Hiền 2, Tuyết 1, Oanh 1.5, Chi 2, My 2, Vy 3, Nhi 3, Ngân 2, Quỳnh 2, Trâm 1.5, Giang 2,
Hồng 1.5, Liên 1, Lệ 0.8, Diệp 0.5, Uyên 1.5, Thư 2, Tâm 1, Xuân 1, Bích 0.8, Châu 1,
Kim 0.8, Hạ 0.5, An 2, Hân 2, Khánh 0.8, Trinh 1, Nhàn 0.8, Phượng 1, Thanh 1.5, Tú 0.5,
Hoài 0.5, Duyên 1, Hậu 0.6, Lý 0.5, Ánh 1, Cúc 0.5, Đào 0.4, Sen 0.4, Mơ 0.3, Lụa 0.3,
Thơm 0.3, Hường 0.8, Lương 0.3, Thắm 0.6, Tươi 0.4, Huệ 1, Nguyệt 0.8, Diễm 0.6, Như 1
"""),
}

# Ethnic-minority naming patterns, used in provinces whose `minority` style names one:
# "N" northern highlands (Thái, H'Mông, Tày, Nùng, Dao), "T" Central Highlands (Ê Đê, Jrai),
# "K" Khmer of the Mekong delta. {S} surname, {G} given name; one pattern list per sex.
MINORITY = {
    "N": {
        "surnames": "Lò Lường Cầm Quàng Vì Vàng Giàng Sùng Thào Mùa Lầu Hờ Nông Bế Lục Ma "
        "Triệu Bàn Hà Sầm".split(),
        "m": ["{S} Văn {G}", "{S} A {G}", "{S} Seo {G}", "{S} Văn {G}"],
        "f": ["{S} Thị {G}"],
        "given_m": "Pết Sử Páo Chứ Dình Chớ Lử Pó Súa Sinh Chính Tủa Pâng Xôm Thoan Phiêng "
        "Khăm Ún Dế Pà".split(),
        "given_f": "Mỷ Dua Chía Pà Xuân Ún Lả Mai Sua Dở Ỏn Khăm Mỉ Lỳ Sinh Vân".split(),
    },
    "T": {
        "surnames": "Niê Êban Byă Mlô Ktla Ayun Kbuôr Hmok".split(),
        "m": ["Y {G} {S}", "Ksor {G}", "Siu {G}", "Rơ Mah {G}", "Y {G} {S}"],
        "f": ["H'{G} {S}", "Ksor H'{G}", "Siu H'{G}", "H'{G} {S}"],
        "given_m": "Moan Bih Ngông Blin Kông Sinh Jơk Djăp Phước Thuân Blốt Kơ Ŭ Wing".split(),
        "given_f": "Hen Bơ Linh Rin Ju Ngăm Loan Bia Nhi Yên Mai Lim".split(),
    },
    "K": {
        "surnames": "Thạch Sơn Danh Kim Lâm Chau Lý Trương".split(),
        "m": ["{S} {G}", "{S} Văn {G}"],
        "f": ["{S} Thị {G}", "Néang {G}"],
        "given_m": "Sóc, Sa Rên, Khương, Phol, Rươl, Sang, Vươl, Sà Rinh, Chanh, Pho".split(", "),
        "given_f": "Sa Rây, Sóc Kha, Sa Ri, Chanh Thu, Sà Phia, Mỹ, Sô Phi, Thi".split(", "),
    },
}

# Age pyramid (% of people by age in 5-year bands, 0-4 ... 95-99), shaped on the 2019 census
# and GSO projections: broad base, bulge at 25-45, thin top.
AGE_WEIGHTS = [
    float(w)
    for w in "7.4 8.2 7.7 6.9 6.8 7.8 8.3 8.1 7.5 6.8 6.1 5.4 4.6 3.5 2.4 "
    "1.4 0.85 0.45 0.2 0.08".split()
]

# DOMAIN.md 2: benefit level of each group the generator uses (CN moves to 2 from 2026-01-01).
GROUP_LEVEL = {
    group: int(level)
    for level, groups in (
        ("1", "CC TE"),
        ("2", "CK CB HN DT DK BT TS"),
        ("3", "HT TC CN"),
        ("4", "DN HC CH NN HS SV GD XK HX"),
        ("5", "QN CA CY"),
    )
    for group in groups.split()
}

# Age bands (first age of each) the group tables below use.
AGE_BANDS = [0, 6, 18, 23, 55, 60, 80]

# Beneficiary group mix by age band and the province's hardship class (0 plain, 1 some
# hardship areas, 2 mountainous/poor): workers (DN HC CH NN) pay 80%; poor (HN) and ethnic
# minorities in hardship areas (DT) are state-paid at level 2, more of them in poor provinces.
GROUPS_BY_BAND = {
    0: ["TE 100"] * 3,
    6: [
        "HS 70, GD 14, HN 5, CN 4, DT 6, DK 1",
        "HS 68, GD 10, HN 7, CN 4, DT 10, DK 1",
        "HS 60, GD 5, HN 12, CN 4, DT 18, DK 1",
    ],
    18: [
        "SV 36, DN 30, GD 20, HN 3, CN 2, DT 3, QN 3.5, CA 1.5, XK 0.5, NN 0.3",
        "SV 30, DN 26, GD 22, HN 5, CN 3, DT 8, QN 3.5, CA 1.5, XK 0.5, NN 0.3",
        "SV 20, DN 20, GD 18, HN 12, CN 4, DT 20, QN 3.5, CA 1.5, XK 0.5, NN 0.3",
    ],
    23: [
        "DN 40, GD 25, HC 7, CH 4, HN 3, CN 2, DT 3, NN 0.6, QN 2.5, CA 1.8, CY 0.1, TS 0.4,"
        " CK 0.2, TC 0.4, HX 0.5, XK 0.4",
        "DN 33, GD 27, HC 7, CH 4, HN 6, CN 3, DT 8, NN 0.4, QN 2.5, CA 1.8, CY 0.1, TS 0.5,"
        " CK 0.2, TC 0.4, HX 0.5, XK 0.4",
        "DN 20, GD 22, HC 7, CH 4, HN 14, CN 5, DT 20, NN 0.2, QN 2.5, CA 1.8, CY 0.1, TS 0.5,"
        " CK 0.2, TC 0.4, HX 0.5, XK 0.4",
    ],
    55: [
        "DN 25, GD 30, HC 5, CH 3, HT 22, HN 4, CN 2, DT 3, TS 1.5, CK 0.5, CB 3, TC 1",
        "DN 20, GD 30, HC 5, CH 3, HT 20, HN 7, CN 3, DT 7, TS 1.5, CK 0.5, CB 3, TC 1",
        "DN 12, GD 25, HC 5, CH 3, HT 16, HN 15, CN 5, DT 14, TS 1.5, CK 0.5, CB 3, TC 1",
    ],
    60: [
        "HT 35, GD 33, HN 5, CN 3, DT 3, CC 2, CB 6, CK 1, BT 2, TS 2, DN 3, TC 1",
        "HT 30, GD 33, HN 8, CN 4, DT 7, CC 2, CB 6, CK 1, BT 2, TS 2, DN 2, TC 1",
        "HT 22, GD 25, HN 16, CN 5, DT 14, CC 2, CB 6, CK 1, BT 2, TS 2, DN 1, TC 1",
    ],
    80: [
        "BT 45, HT 26, GD 10, CC 5, CB 5, HN 3, DT 2, TS 2, CK 1",
        "BT 45, HT 22, GD 10, CC 5, CB 5, HN 5, DT 4, TS 2, CK 1",
        "BT 45, HT 15, GD 8, CC 5, CB 5, HN 10, DT 8, TS 2, CK 1",
    ],
}

# Share of men in groups where it is far from one half (armed forces, police, cipher staff).
MALE_SHARE_BY_GROUP = {"QN": 0.9, "CA": 0.85, "CY": 0.7, "CB": 0.9}

# The group someone plausibly held before the current one (for prev_card_no).
PREVIOUS_GROUPS = {
    "TE": ["TE"],
    "HS": ["TE", "GD", "HN"],
    "SV": ["HS", "GD"],
    "DN": ["GD", "SV", "DN", "HC"],
    "HC": ["DN", "SV"],
    "CH": ["DN", "GD"],
    "GD": ["DN", "HN", "CN", "HS"],
    "HT": ["DN", "HC"],
    "HN": ["CN", "GD"],
    "CN": ["HN", "GD"],
    "DT": ["HN", "GD"],
    "BT": ["GD", "HT"],
    "QN": ["GD", "SV"],
    "CA": ["GD", "SV"],
}

# DESIGN.md 5 statuses that mean "cut off" (báo giảm), codes 120-124.
REDUCED_STATUSES = [
    "reduced",
    "reduced_out_province",
    "reduced_in_province",
    "reduced_rejoined",
    "reduced_stopped",
]


# -- provinces and places ----------------------------------------------------------------
class Province(NamedTuple):
    """One province as the generator uses it."""

    cccd: str  # 3-digit CCCD code; the 2-digit card/facility code is cccd[1:]
    name: str  # as written at the end of an address: "Hà Nội", "Nghệ An"
    kind: str  # "thành phố" or "tỉnh", for the issuer's name ("BHXH tỉnh Nghệ An")
    population: int  # thousands
    hardship: int  # 0 plain, 1 some hardship areas, 2 mountainous and poor
    minority: str  # MINORITY naming style of tables, or "" for none
    magnet: bool  # draws migrants: many residents were born (CCCD) elsewhere
    districts: tuple[tuple[str, tuple[str, ...], bool], ...]  # (name, wards, island)


# One block per province: a header "code name | kind | population | hardship | minority | magnet"
# then its districts, "District name: ward, ward" (wards optional; a trailing "!" marks an
# island district, whose residents may carry area code K3).
_PROVINCES = """
001 Hà Nội | thành phố | 8436 | 0 | - | *
  Quận Cầu Giấy: Dịch Vọng, Dịch Vọng Hậu, Mai Dịch, Nghĩa Đô, Quan Hoa, Yên Hòa
  Quận Đống Đa: Láng Hạ, Ô Chợ Dừa, Kim Liên, Văn Chương, Trung Liệt, Khương Thượng
  Quận Hoàng Mai: Định Công, Hoàng Liệt, Tân Mai, Vĩnh Hưng, Lĩnh Nam, Đại Kim
  Quận Hà Đông: Văn Quán, Mộ Lao, La Khê, Yết Kiêu, Phú La, Kiến Hưng
  Quận Long Biên: Ngọc Lâm, Gia Thụy, Bồ Đề, Phúc Đồng, Thạch Bàn
  Quận Ba Đình: Kim Mã, Ngọc Hà, Cống Vị, Liễu Giai, Đội Cấn
  Quận Thanh Xuân: Khương Trung, Nhân Chính, Thanh Xuân Bắc, Hạ Đình
  Huyện Đông Anh: Uy Nỗ, Cổ Loa, Vân Hà, Xuân Nộn, Nguyên Khê
  Huyện Gia Lâm: Đa Tốn, Kiêu Kỵ, Bát Tràng, Dương Xá
  Huyện Ba Vì: Tản Lĩnh, Ba Trại, Cẩm Lĩnh, Vân Hòa
  Huyện Sóc Sơn: Phù Linh, Tiên Dược, Mai Đình
002 Hà Giang | tỉnh | 899 | 2 | N |
  Thành phố Hà Giang
  Huyện Đồng Văn
  Huyện Vị Xuyên
004 Cao Bằng | tỉnh | 543 | 2 | N |
  Thành phố Cao Bằng
  Huyện Bảo Lạc
  Huyện Trùng Khánh
006 Bắc Kạn | tỉnh | 326 | 2 | N |
  Thành phố Bắc Kạn
  Huyện Ba Bể
  Huyện Chợ Đồn
008 Tuyên Quang | tỉnh | 805 | 1 | N |
  Thành phố Tuyên Quang
  Huyện Na Hang
  Huyện Sơn Dương
010 Lào Cai | tỉnh | 770 | 2 | N |
  Thành phố Lào Cai: Cốc Lếu, Duyên Hải, Kim Tân, Bắc Cường
  Thị xã Sa Pa
  Huyện Bát Xát
  Huyện Bắc Hà
011 Điện Biên | tỉnh | 639 | 2 | N |
  Thành phố Điện Biên Phủ: Him Lam, Mường Thanh, Tân Thanh
  Huyện Mường Nhé
  Huyện Tuần Giáo
012 Lai Châu | tỉnh | 478 | 2 | N |
  Thành phố Lai Châu
  Huyện Sìn Hồ
  Huyện Phong Thổ
014 Sơn La | tỉnh | 1284 | 2 | N |
  Thành phố Sơn La: Chiềng Lề, Tô Hiệu, Quyết Thắng
  Huyện Mộc Châu
  Huyện Thuận Châu
015 Yên Bái | tỉnh | 841 | 2 | N |
  Thành phố Yên Bái
  Huyện Mù Cang Chải
  Huyện Văn Chấn
017 Hòa Bình | tỉnh | 875 | 1 | N |
  Thành phố Hòa Bình
  Huyện Mai Châu
  Huyện Lạc Sơn
019 Thái Nguyên | tỉnh | 1336 | 1 | - |
  Thành phố Thái Nguyên: Phan Đình Phùng, Hoàng Văn Thụ, Quang Trung, Tân Thịnh
  Thành phố Sông Công
  Huyện Đại Từ
020 Lạng Sơn | tỉnh | 802 | 2 | N |
  Thành phố Lạng Sơn: Chi Lăng, Hoàng Văn Thụ, Tam Thanh, Vĩnh Trại
  Huyện Cao Lộc
  Huyện Lộc Bình
022 Quảng Ninh | tỉnh | 1363 | 0 | - | *
  Thành phố Hạ Long: Bãi Cháy, Hồng Gai, Hồng Hải, Cao Xanh, Hà Tu
  Thành phố Cẩm Phả
  Huyện Vân Đồn !
  Huyện Cô Tô !
024 Bắc Giang | tỉnh | 1922 | 0 | - | *
  Thành phố Bắc Giang
  Huyện Lục Nam
  Huyện Yên Thế
025 Phú Thọ | tỉnh | 1505 | 0 | - |
  Thành phố Việt Trì: Gia Cẩm, Tân Dân, Nông Trang, Thọ Sơn
  Huyện Thanh Sơn
  Huyện Lâm Thao
026 Vĩnh Phúc | tỉnh | 1197 | 0 | - |
  Thành phố Vĩnh Yên
  Thành phố Phúc Yên
  Huyện Tam Đảo
027 Bắc Ninh | tỉnh | 1488 | 0 | - | *
  Thành phố Bắc Ninh: Suối Hoa, Tiền An, Vũ Ninh, Kinh Bắc, Võ Cường
  Thành phố Từ Sơn
  Huyện Tiên Du
030 Hải Dương | tỉnh | 1946 | 0 | - |
  Thành phố Hải Dương
  Thành phố Chí Linh
  Huyện Gia Lộc
031 Hải Phòng | thành phố | 2097 | 0 | - | *
  Quận Lê Chân: An Biên, Dư Hàng Kênh, Vĩnh Niệm, Trại Cau
  Quận Ngô Quyền: Lạch Tray, Cầu Đất, Đằng Giang, Máy Tơ
  Quận Hồng Bàng: Hoàng Văn Thụ, Minh Khai, Thượng Lý
  Huyện Thủy Nguyên
  Huyện An Dương
  Huyện Cát Hải: Cát Bà, Cát Hải, Trân Châu, Xuân Đám !
033 Hưng Yên | tỉnh | 1290 | 0 | - |
  Thành phố Hưng Yên
  Thị xã Mỹ Hào
  Huyện Văn Giang
034 Thái Bình | tỉnh | 1878 | 0 | - |
  Thành phố Thái Bình: Bồ Xuyên, Đề Thám, Lê Hồng Phong, Quang Trung
  Huyện Thái Thụy
  Huyện Vũ Thư
035 Hà Nam | tỉnh | 878 | 0 | - |
  Thành phố Phủ Lý
  Thị xã Duy Tiên
  Huyện Lý Nhân
036 Nam Định | tỉnh | 1887 | 0 | - |
  Thành phố Nam Định: Bà Triệu, Cửa Bắc, Trần Tế Xương, Vị Xuyên
  Huyện Hải Hậu
  Huyện Giao Thủy
037 Ninh Bình | tỉnh | 1010 | 0 | - |
  Thành phố Ninh Bình
  Thành phố Tam Điệp
  Huyện Kim Sơn
038 Thanh Hóa | tỉnh | 3760 | 1 | N |
  Thành phố Thanh Hóa: Điện Biên, Ba Đình, Đông Thọ, Quảng Thắng, Lam Sơn
  Thành phố Sầm Sơn
  Huyện Hoằng Hóa
  Huyện Thường Xuân
  Huyện Tĩnh Gia
040 Nghệ An | tỉnh | 3442 | 1 | N |
  Thành phố Vinh: Hưng Dũng, Lê Mao, Trường Thi, Bến Thủy, Quang Trung, Hà Huy Tập
  Huyện Diễn Châu
  Huyện Quỳnh Lưu
  Huyện Nghi Lộc
  Huyện Kỳ Sơn
042 Hà Tĩnh | tỉnh | 1323 | 0 | - |
  Thành phố Hà Tĩnh: Bắc Hà, Nam Hà, Tân Giang, Trần Phú
  Huyện Cẩm Xuyên
  Huyện Kỳ Anh
044 Quảng Bình | tỉnh | 913 | 1 | - |
  Thành phố Đồng Hới: Đồng Phú, Hải Thành, Nam Lý, Đức Ninh Đông
  Huyện Bố Trạch
  Huyện Lệ Thủy
045 Quảng Trị | tỉnh | 650 | 1 | - |
  Thành phố Đông Hà
  Huyện Hướng Hóa
  Huyện Cồn Cỏ !
046 Thừa Thiên Huế | tỉnh | 1166 | 0 | - |
  Thành phố Huế: Phú Hội, Vĩnh Ninh, Thuận Thành, Tây Lộc, An Cựu, Phường Đúc
  Thị xã Hương Thủy
  Huyện Phú Vang
  Huyện A Lưới
048 Đà Nẵng | thành phố | 1245 | 0 | - | *
  Quận Hải Châu: Thạch Thang, Hòa Cường Bắc, Bình Hiên, Phước Ninh, Hải Châu I
  Quận Thanh Khê: An Khê, Chính Gián, Thạc Gián, Xuân Hà
  Quận Sơn Trà: An Hải Bắc, Mân Thái, Phước Mỹ, Thọ Quang
  Quận Liên Chiểu: Hòa Khánh Bắc, Hòa Minh, Hòa Hiệp Nam
  Huyện Hòa Vang: Hòa Tiến, Hòa Phong, Hòa Châu, Hòa Nhơn
049 Quảng Nam | tỉnh | 1519 | 1 | - |
  Thành phố Tam Kỳ
  Thành phố Hội An: Minh An, Cẩm Phô, Sơn Phong, Cẩm An
  Huyện Đại Lộc
  Huyện Nam Giang
051 Quảng Ngãi | tỉnh | 1245 | 1 | - |
  Thành phố Quảng Ngãi: Trần Hưng Đạo, Nghĩa Chánh, Lê Hồng Phong, Chánh Lộ
  Huyện Bình Sơn
  Huyện Lý Sơn: An Vĩnh, An Hải !
052 Bình Định | tỉnh | 1505 | 0 | - |
  Thành phố Quy Nhơn: Lê Lợi, Trần Phú, Ngô Mây, Nguyễn Văn Cừ, Ghềnh Ráng
  Thị xã An Nhơn
  Huyện Phù Cát
054 Phú Yên | tỉnh | 877 | 0 | - |
  Thành phố Tuy Hòa
  Thị xã Sông Cầu
  Huyện Tuy An
056 Khánh Hòa | tỉnh | 1253 | 0 | - |
  Thành phố Nha Trang: Lộc Thọ, Tân Lập, Phước Hòa, Vĩnh Hải, Vĩnh Phước
  Thành phố Cam Ranh
  Huyện Diên Khánh
  Huyện Trường Sa !
058 Ninh Thuận | tỉnh | 599 | 1 | - |
  Thành phố Phan Rang - Tháp Chàm
  Huyện Ninh Hải
  Huyện Bác Ái
060 Bình Thuận | tỉnh | 1251 | 0 | - |
  Thành phố Phan Thiết: Phú Thủy, Đức Long, Hàm Tiến, Mũi Né
  Thị xã La Gi
  Huyện Phú Quý !
062 Kon Tum | tỉnh | 580 | 2 | T |
  Thành phố Kon Tum
  Huyện Đắk Glei
  Huyện Sa Thầy
064 Gia Lai | tỉnh | 1591 | 2 | T |
  Thành phố Pleiku: Hoa Lư, Diên Hồng, Ia Kring, Yên Đỗ
  Thị xã An Khê
  Huyện Chư Sê
066 Đắk Lắk | tỉnh | 1918 | 1 | T |
  Thành phố Buôn Ma Thuột: Tân Lợi, Tân An, Thành Công, Ea Tam
  Huyện Krông Pắc
  Huyện Ea H'leo
067 Đắk Nông | tỉnh | 670 | 2 | T |
  Thành phố Gia Nghĩa
  Huyện Đắk Mil
  Huyện Tuy Đức
068 Lâm Đồng | tỉnh | 1332 | 1 | T |
  Thành phố Đà Lạt: Phường 1, Phường 2, Phường 4, Phường 8, Phường 10
  Thành phố Bảo Lộc
  Huyện Đức Trọng
  Huyện Lạc Dương
070 Bình Phước | tỉnh | 1024 | 1 | - | *
  Thành phố Đồng Xoài
  Thị xã Bình Long
  Huyện Bù Đăng
072 Tây Ninh | tỉnh | 1188 | 0 | - |
  Thành phố Tây Ninh
  Thị xã Trảng Bàng
  Huyện Tân Biên
074 Bình Dương | tỉnh | 2763 | 0 | - | *
  Thành phố Thủ Dầu Một: Phú Cường, Hiệp Thành, Phú Hòa, Chánh Nghĩa, Phú Lợi
  Thành phố Dĩ An: Dĩ An, Đông Hòa, Tân Bình, Bình An
  Thành phố Thuận An: Lái Thiêu, An Phú, Bình Hòa, Thuận Giao
  Huyện Bàu Bàng
075 Đồng Nai | tỉnh | 3255 | 0 | - | *
  Thành phố Biên Hòa: Tân Hiệp, Trảng Dài, Hố Nai, Tam Hòa, Long Bình
  Thành phố Long Khánh
  Huyện Nhơn Trạch
  Huyện Trảng Bom
077 Bà Rịa - Vũng Tàu | tỉnh | 1187 | 0 | - | *
  Thành phố Vũng Tàu: Phường 1, Phường 7, Thắng Tam, Rạch Dừa, Nguyễn An Ninh
  Thành phố Bà Rịa
  Huyện Côn Đảo !
079 Hồ Chí Minh | thành phố | 9456 | 0 | - | *
  Quận 1: Bến Nghé, Bến Thành, Đa Kao, Tân Định, Cầu Ông Lãnh, Nguyễn Cư Trinh
  Quận 3: Võ Thị Sáu, Phường 5, Phường 9, Phường 12, Phường 14
  Quận Bình Thạnh: Phường 1, Phường 11, Phường 13, Phường 22, Phường 25, Phường 26
  Quận Gò Vấp: Phường 1, Phường 5, Phường 10, Phường 12, Phường 16
  Quận Tân Bình: Phường 2, Phường 4, Phường 13, Phường 15
  Quận Bình Tân: An Lạc, Bình Hưng Hòa, Tân Tạo, Bình Trị Đông
  Quận 7: Tân Phong, Tân Hưng, Tân Thuận Đông, Phú Mỹ
  Quận 12: Tân Chánh Hiệp, Hiệp Thành, Thạnh Lộc, Đông Hưng Thuận
  Thành phố Thủ Đức: Linh Trung, Hiệp Bình Chánh, An Phú, Thảo Điền, Phước Long B
  Huyện Bình Chánh: Vĩnh Lộc A, Bình Hưng, Tân Kiên, Lê Minh Xuân
  Huyện Củ Chi: Tân Thông Hội, Phước Vĩnh An, Trung An
  Huyện Hóc Môn: Xuân Thới Sơn, Bà Điểm, Tân Xuân
080 Long An | tỉnh | 1735 | 0 | - |
  Thành phố Tân An
  Huyện Đức Hòa
  Huyện Cần Giuộc
082 Tiền Giang | tỉnh | 1790 | 0 | - |
  Thành phố Mỹ Tho
  Huyện Cái Bè
  Huyện Châu Thành
083 Bến Tre | tỉnh | 1300 | 0 | - |
  Thành phố Bến Tre
  Huyện Mỏ Cày Nam
  Huyện Ba Tri
084 Trà Vinh | tỉnh | 1019 | 1 | K |
  Thành phố Trà Vinh
  Huyện Cầu Ngang
  Huyện Trà Cú
086 Vĩnh Long | tỉnh | 1029 | 0 | - |
  Thành phố Vĩnh Long
  Huyện Long Hồ
  Huyện Trà Ôn
087 Đồng Tháp | tỉnh | 1600 | 0 | - |
  Thành phố Cao Lãnh
  Thành phố Sa Đéc
  Huyện Tháp Mười
089 An Giang | tỉnh | 1906 | 1 | K |
  Thành phố Long Xuyên: Mỹ Bình, Mỹ Long, Mỹ Xuyên, Đông Xuyên
  Thành phố Châu Đốc
  Huyện Tri Tôn
091 Kiên Giang | tỉnh | 1753 | 1 | K |
  Thành phố Rạch Giá: Vĩnh Thanh Vân, Vĩnh Lạc, An Hòa, Rạch Sỏi
  Thành phố Phú Quốc: Dương Đông, An Thới, Hàm Ninh, Cửa Dương !
  Huyện Kiên Hải !
  Huyện Hòn Đất
092 Cần Thơ | thành phố | 1258 | 0 | - | *
  Quận Ninh Kiều: An Hòa, Xuân Khánh, Hưng Lợi, Tân An, An Khánh
  Quận Cái Răng: Lê Bình, Hưng Phú, Ba Láng
  Huyện Phong Điền: Nhơn Ái, Mỹ Khánh, Giai Xuân
093 Hậu Giang | tỉnh | 730 | 0 | - |
  Thành phố Vị Thanh
  Thành phố Ngã Bảy
  Huyện Phụng Hiệp
094 Sóc Trăng | tỉnh | 1200 | 1 | K |
  Thành phố Sóc Trăng
  Huyện Mỹ Xuyên
  Huyện Trần Đề
095 Bạc Liêu | tỉnh | 921 | 0 | - |
  Thành phố Bạc Liêu
  Huyện Hồng Dân
  Huyện Đông Hải
096 Cà Mau | tỉnh | 1207 | 0 | - |
  Thành phố Cà Mau
  Huyện Năm Căn
  Huyện Ngọc Hiển
"""

# Common ward and commune names by region ("N" north, "C" centre and highlands, "S" south);
# used where a district above lists none.
URBAN_WARDS = {
    "N": "Quang Trung, Trần Phú, Lê Lợi, Hoàng Văn Thụ, Minh Khai, Nguyễn Trãi, Trần Hưng Đạo,"
    " Tân Lập, Lê Hồng Phong, Hồng Hà, Đông Thành, Tân Thịnh",
    "C": "Trần Phú, Lê Lợi, Quang Trung, Phan Bội Châu, Nguyễn Văn Cừ, Tân An, Hòa Thuận,"
    " An Phú, Thắng Lợi, Trường An, Nam Lý",
    "S": "Phường 1, Phường 2, Phường 3, Phường 4, Phường 5, Phường 6, Phường 7, Phường 8,"
    " Tân Phú, An Hòa, Mỹ Phước, Tân An",
}
RURAL_COMMUNES = {
    "N": "Tân Tiến, Hồng Thái, Đông Phong, Quang Trung, Minh Tân, Đại Đồng, Yên Lạc, Hợp Thành,"
    " Tân Lập, Thanh Sơn, Xuân Lai, Đồng Tâm, Phúc Thịnh, Vĩnh Tiến, Hồng Phong",
    "C": "Quảng Phú, Hòa Bình, Nghĩa Trung, Diễn Thành, Cẩm Thạch, Tam Xuân, Phước Sơn,"
    " Xuân Hòa, Hòa Thắng, Ea Kly, Ia Băng, Tân Hòa, Đức Phổ, Bình Minh",
    "S": "Tân Phú, Mỹ An, Long Hòa, Phú Thạnh, An Bình, Bình Thạnh, Hòa Bình, Vĩnh Thạnh,"
    " Tân Hiệp, Long Thới, Mỹ Hạnh, Phước Lợi, Thạnh Phú, Tân Thành, Hưng Thạnh",
}
# Hamlet words by region and minority style: thôn/xóm in the north, bản in the northern
# highlands, buôn/plei in the Central Highlands, ấp and phum/sóc in the south.
HAMLET_WORDS = {
    "N": ["Thôn", "Thôn", "Xóm"],
    "C": ["Thôn", "Thôn", "Xóm"],
    "S": ["Ấp"],
    "Nh": ["Bản", "Thôn"],
    "T": ["Buôn", "Thôn", "Làng"],
    "K": ["Ấp", "Phum"],
}


def region_of(cccd: str) -> str:
    """Return the region letter of a province: N (north), C (centre/highlands), S (south)."""
    code = int(cccd)
    return "N" if code <= 37 else "C" if code <= 68 else "S"


def _parse(text: str) -> tuple[Province, ...]:
    """Parse the province blocks above."""
    provinces: list[Province] = []
    header: list[str] | None = None
    districts: list[tuple[str, tuple[str, ...], bool]] = []

    def flush() -> None:
        if header is not None:
            code, name = header[0].split(" ", 1)
            provinces.append(
                Province(
                    code,
                    name,
                    header[1],
                    int(header[2]),
                    int(header[3]),
                    "" if header[4] == "-" else header[4],
                    header[5] == "*",
                    tuple(districts),
                )
            )

    for raw in unicodedata.normalize("NFC", text).splitlines():
        if not raw.strip():
            continue
        if not raw.startswith(" "):
            flush()
            header = [part.strip() for part in raw.split("|")]
            districts = []
            continue
        line = raw.strip()
        island = line.endswith("!")
        line = line.rstrip("! ")
        name, _, wards = line.partition(":")
        districts.append(
            (name.strip(), tuple(w.strip() for w in wards.split(",") if w.strip()), island)
        )
    flush()
    return tuple(provinces)


PROVINCES = _parse(_PROVINCES)
