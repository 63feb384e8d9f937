"""Tables behind `lookup synth`: Vietnamese names, beneficiary groups, ages and windows.

Provinces, districts and facilities are in `synth_places.py`. Weights are relative (they need
not sum to 100); where a figure is a published share it says so, the rest are plausible guesses
that make the synthetic country look like the real one. Every name here is written in NFC; the
loader normalises again so an editor that saves NFD cannot break that.
"""

from __future__ import annotations

import unicodedata

__all__ = (
    "SURNAMES", "MIDDLE", "GIVEN", "MINORITY", "AGE_WEIGHTS", "GROUP_LEVEL", "GROUPS_BY_BAND",
    "AGE_BANDS", "PREVIOUS_GROUPS", "MALE_SHARE_BY_GROUP", "REDUCED_STATUSES",
    "parse_weighted",
)  # fmt: skip


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
        "given_m": ["Sóc", "Sa Rên", "Khương", "Phol", "Rươl", "Sang", "Vươl", "Sà Rinh",
                    "Chanh", "Thươl", "Sa Muôl", "Pho"],
        "given_f": ["Sa Rây", "Sóc Kha", "Sa Ri", "Chanh Thu", "Sà Phia", "Mỹ", "Sô Phi",
                    "Thi", "Sa Vát"],
    },
}

# Age pyramid (% of people by age in 5-year bands, 0-4 ... 95-99), shaped on the 2019 census
# and GSO projections: broad base, bulge at 25-45, thin top.
AGE_WEIGHTS = [7.4, 8.2, 7.7, 6.9, 6.8, 7.8, 8.3, 8.1, 7.5, 6.8, 6.1, 5.4, 4.6, 3.5, 2.4,
               1.4, 0.85, 0.45, 0.2, 0.08]  # fmt: skip

# DOMAIN.md 2: benefit level of each group the generator uses (CN moves to 2 from 2026-01-01).
GROUP_LEVEL = {
    "CC": 1, "TE": 1, "CK": 2, "CB": 2, "HN": 2, "DT": 2, "DK": 2, "BT": 2, "TS": 2,
    "HT": 3, "TC": 3, "CN": 3, "DN": 4, "HC": 4, "CH": 4, "NN": 4, "HS": 4, "SV": 4,
    "GD": 4, "XK": 4, "HX": 4, "QN": 5, "CA": 5, "CY": 5,
}  # fmt: skip

# Age bands (first age of each) the group tables below use.
AGE_BANDS = [0, 6, 18, 23, 55, 60, 80]

# Beneficiary group mix by age band and the province's hardship class (0 plain, 1 some
# hardship areas, 2 mountainous/poor): workers (DN HC CH NN) pay 80%; poor (HN) and ethnic
# minorities in hardship areas (DT) are state-paid at level 2, more of them in poor provinces.
GROUPS_BY_BAND = {
    0: ["TE 100"] * 3,
    6: ["HS 70, GD 14, HN 5, CN 4, DT 6, DK 1",
        "HS 68, GD 10, HN 7, CN 4, DT 10, DK 1",
        "HS 60, GD 5, HN 12, CN 4, DT 18, DK 1"],
    18: ["SV 36, DN 30, GD 20, HN 3, CN 2, DT 3, QN 3.5, CA 1.5, XK 0.5, NN 0.3",
         "SV 30, DN 26, GD 22, HN 5, CN 3, DT 8, QN 3.5, CA 1.5, XK 0.5, NN 0.3",
         "SV 20, DN 20, GD 18, HN 12, CN 4, DT 20, QN 3.5, CA 1.5, XK 0.5, NN 0.3"],
    23: ["DN 40, GD 25, HC 7, CH 4, HN 3, CN 2, DT 3, NN 0.6, QN 2.5, CA 1.8, CY 0.1, TS 0.4,"
         " CK 0.2, TC 0.4, HX 0.5, XK 0.4",
         "DN 33, GD 27, HC 7, CH 4, HN 6, CN 3, DT 8, NN 0.4, QN 2.5, CA 1.8, CY 0.1, TS 0.5,"
         " CK 0.2, TC 0.4, HX 0.5, XK 0.4",
         "DN 20, GD 22, HC 7, CH 4, HN 14, CN 5, DT 20, NN 0.2, QN 2.5, CA 1.8, CY 0.1, TS 0.5,"
         " CK 0.2, TC 0.4, HX 0.5, XK 0.4"],
    55: ["DN 25, GD 30, HC 5, CH 3, HT 22, HN 4, CN 2, DT 3, TS 1.5, CK 0.5, CB 3, TC 1",
         "DN 20, GD 30, HC 5, CH 3, HT 20, HN 7, CN 3, DT 7, TS 1.5, CK 0.5, CB 3, TC 1",
         "DN 12, GD 25, HC 5, CH 3, HT 16, HN 15, CN 5, DT 14, TS 1.5, CK 0.5, CB 3, TC 1"],
    60: ["HT 35, GD 33, HN 5, CN 3, DT 3, CC 2, CB 6, CK 1, BT 2, TS 2, DN 3, TC 1",
         "HT 30, GD 33, HN 8, CN 4, DT 7, CC 2, CB 6, CK 1, BT 2, TS 2, DN 2, TC 1",
         "HT 22, GD 25, HN 16, CN 5, DT 14, CC 2, CB 6, CK 1, BT 2, TS 2, DN 1, TC 1"],
    80: ["BT 45, HT 26, GD 10, CC 5, CB 5, HN 3, DT 2, TS 2, CK 1",
         "BT 45, HT 22, GD 10, CC 5, CB 5, HN 5, DT 4, TS 2, CK 1",
         "BT 45, HT 15, GD 8, CC 5, CB 5, HN 10, DT 8, TS 2, CK 1"],
}

# Share of men in groups where it is far from one half (armed forces, police, cipher staff).
MALE_SHARE_BY_GROUP = {"QN": 0.9, "CA": 0.85, "CY": 0.7, "CB": 0.9}

# The group someone plausibly held before the current one (for prev_card_no).
PREVIOUS_GROUPS = {
    "TE": ["TE"], "HS": ["TE", "GD", "HN"], "SV": ["HS", "GD"], "DN": ["GD", "SV", "DN", "HC"],
    "HC": ["DN", "SV"], "CH": ["DN", "GD"], "GD": ["DN", "HN", "CN", "HS"], "HT": ["DN", "HC"],
    "HN": ["CN", "GD"], "CN": ["HN", "GD"], "DT": ["HN", "GD"], "BT": ["GD", "HT"],
    "QN": ["GD", "SV"], "CA": ["GD", "SV"],
}  # fmt: skip

# DESIGN.md 5 statuses that mean "cut off" (báo giảm), codes 120-124.
REDUCED_STATUSES = ["reduced", "reduced_out_province", "reduced_in_province",
                    "reduced_rejoined", "reduced_stopped"]  # fmt: skip
