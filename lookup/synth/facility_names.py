"""Names behind the synthetic facility registry (lookup.synth.facilities): real central
hospitals, the usual provincial hospitals, private brands, and the syllables commune names are
made of.

Central hospitals are real and stand where they really are; the rest are named the way
Vietnamese facilities usually are ("Trạm Y tế xã Tân Tiến", "Trung tâm Y tế huyện Lục Nam",
"Bệnh viện Đa khoa tỉnh Nghệ An"), with commune names drawn from common syllables where the
place tables (lookup.synth.tables) list too few real ones.
"""

from __future__ import annotations

__all__ = (
    "BRANDS",
    "CENTRAL",
    "CITY_HOSPITALS",
    "COMMUNE_FIRST",
    "COMMUNE_SECOND",
    "HIGHLAND_FIRST",
    "HIGHLAND_SECOND",
    "SPECIALTIES",
)

# Central hospitals (tuyến trung ương) by the old 3-digit code of their province: mostly in
# Hà Nội, Huế and Hồ Chí Minh, a few regional ones elsewhere.
CENTRAL = {
    "001": (
        "Bệnh viện Bạch Mai",
        "Bệnh viện Hữu nghị Việt Đức",
        "Bệnh viện K",
        "Bệnh viện Nhi Trung ương",
        "Bệnh viện Phụ sản Trung ương",
        "Bệnh viện Mắt Trung ương",
        "Bệnh viện Tai Mũi Họng Trung ương",
        "Bệnh viện Răng Hàm Mặt Trung ương Hà Nội",
        "Bệnh viện Nội tiết Trung ương",
        "Bệnh viện Lão khoa Trung ương",
        "Bệnh viện Da liễu Trung ương",
        "Bệnh viện Bệnh Nhiệt đới Trung ương",
        "Bệnh viện Y học cổ truyền Trung ương",
        "Bệnh viện Châm cứu Trung ương",
        "Bệnh viện Phổi Trung ương",
        "Bệnh viện Hữu Nghị",
        "Bệnh viện E",
        "Bệnh viện Đại học Y Hà Nội",
        "Bệnh viện Trung ương Quân đội 108",
        "Bệnh viện Quân y 103",
        "Bệnh viện 19-8",
    ),
    "046": ("Bệnh viện Trung ương Huế", "Bệnh viện Trường Đại học Y - Dược Huế"),
    "079": (
        "Bệnh viện Chợ Rẫy",
        "Bệnh viện Thống Nhất",
        "Bệnh viện Đại học Y Dược Thành phố Hồ Chí Minh",
        "Bệnh viện Răng Hàm Mặt Trung ương Thành phố Hồ Chí Minh",
        "Bệnh viện Quân y 175",
        "Bệnh viện 30-4",
    ),
    "019": ("Bệnh viện Trung ương Thái Nguyên",),
    "022": ("Bệnh viện Việt Nam - Thụy Điển Uông Bí",),
    "038": ("Bệnh viện 71 Trung ương",),
    "048": ("Bệnh viện C Đà Nẵng",),
    "049": ("Bệnh viện Đa khoa Trung ương Quảng Nam",),
    "052": ("Bệnh viện Phong - Da liễu Trung ương Quy Hòa",),
    "092": ("Bệnh viện Đa khoa Trung ương Cần Thơ",),
}

# The two big cities' own hospitals (provincial level) go first, under their real names.
CITY_HOSPITALS = {
    "001": (
        "Bệnh viện Đa khoa Xanh Pôn",
        "Bệnh viện Thanh Nhàn",
        "Bệnh viện Đa khoa Đức Giang",
        "Bệnh viện Đa khoa Hà Đông",
        "Bệnh viện Đa khoa Đống Đa",
        "Bệnh viện Đa khoa Sơn Tây",
        "Bệnh viện Phụ sản Hà Nội",
        "Bệnh viện Nhi Hà Nội",
        "Bệnh viện Tim Hà Nội",
        "Bệnh viện Ung bướu Hà Nội",
        "Bệnh viện Mắt Hà Nội",
        "Bệnh viện Thận Hà Nội",
    ),
    "079": (
        "Bệnh viện Nhân dân 115",
        "Bệnh viện Nhân dân Gia Định",
        "Bệnh viện Nguyễn Tri Phương",
        "Bệnh viện Trưng Vương",
        "Bệnh viện An Bình",
        "Bệnh viện Nguyễn Trãi",
        "Bệnh viện Nhi Đồng 1",
        "Bệnh viện Nhi Đồng 2",
        "Bệnh viện Từ Dũ",
        "Bệnh viện Hùng Vương",
        "Bệnh viện Bệnh Nhiệt đới",
        "Bệnh viện Chấn thương Chỉnh hình",
        "Bệnh viện Ung Bướu",
        "Bệnh viện Phạm Ngọc Thạch",
        "Bệnh viện Mắt Thành phố Hồ Chí Minh",
        "Bệnh viện Da Liễu Thành phố Hồ Chí Minh",
        "Bệnh viện Thành phố Thủ Đức",
    ),
}

# A province's own hospitals, most usual first: "Bệnh viện {specialty} tỉnh Nghệ An".
SPECIALTIES = (
    "Đa khoa",
    "Sản - Nhi",
    "Y dược cổ truyền",
    "Phục hồi chức năng",
    "Lao và Bệnh phổi",
    "Tâm thần",
    "Mắt",
    "Nội tiết",
    "Da liễu",
    "Ung bướu",
    "Phụ sản",
    "Nhi",
    "Tim mạch",
    "Chấn thương Chỉnh hình",
    "Răng Hàm Mặt",
)

# Names private hospitals and clinics trade under (invented, in the usual style).
BRANDS = (
    "An Bình, An Khang, An Phúc, An Tâm, An Việt, Bảo An, Bình An, Đại Phúc, Đông Á, Đức Tâm,"
    " Gia An, Hạnh Phúc, Hòa An, Hồng Phúc, Hưng Thịnh, Khang An, Kim Phúc, Minh An,"
    " Minh Khang, Minh Tâm, Nhân Ái, Nhân Hòa, Phúc An, Phúc Khang, Phúc Lộc, Phước An,"
    " Quang Minh, Sao Mai, Tâm An, Tâm Đức, Tâm Phúc, Tân Phúc, Thái An, Thành Công, Thiện Tâm,"
    " Thiện Nhân, Trí Đức, Trường An, Vạn An, Vạn Phúc, Việt Hàn, Việt Nhật, Việt Pháp, Việt Úc,"
    " Vĩnh An, Yên Bình"
).split(", ")

# Commune names are mostly two Sino-Vietnamese syllables of good omen ("Tân Phú", "Hòa Bình").
COMMUNE_FIRST = {
    "N": "Tân Hồng Đông Quang Minh Đại Yên Hợp Thanh Xuân Đồng Phúc Vĩnh Nam Bắc Hưng Kim Liên"
    " Tiên Lạc Cẩm Đức Trung Hoàng Hải Nghĩa Thái Văn Gia Ngọc Tam Thượng Hạ Phú An Bình Hòa"
    " Long Lương Mỹ Cao Thụy Quỳnh Vũ Hiệp Thắng Tứ Lam Bảo Chí".split(),
    "C": "Quảng Hòa Nghĩa Diễn Cẩm Tam Phước Xuân Tân Đức Bình Hải Kỳ Thạch Hương Triệu Điện"
    " Duy Phổ Cát Nhơn Hoài An Sơn Vĩnh Thanh Hưng Trung Đại Mỹ Hồng Gio Hiệp Phong Tịnh Ân"
    " Lộc Thủy Quế Tiên Hành Phú Ninh Long".split(),
    "S": "Tân Mỹ Long Phú An Bình Hòa Vĩnh Thạnh Phước Hưng Thới Thuận Nhơn Hiệp Lộc Châu Đông"
    " Tây Trường Hậu Định Tường Khánh Thanh Lợi Song Tam Hội Xuân Quới Phong Lương Thông Hàm"
    " Hựu Nhị Trung Đại Kim Thành Minh".split(),
}
COMMUNE_SECOND = {
    "N": "Tiến Thái Phong Trung Tân Đồng Lạc Thành Sơn Lai Tâm Thịnh Hòa Lợi Hưng Phú Lập Xá"
    " Khê Dương Cường Nghĩa Bình Minh Quang Đạo Hà Long Lâm Tiên An Hải Lộc Nguyên Vinh Kỳ"
    " Trạch Hồng Phương Điền".split(),
    "C": "Phú Bình Trung Thành Thạch Xuân Sơn Hòa Thắng Minh Lợi Phong Hải Lộc Thọ Hiệp Tiến"
    " Thủy Long Vinh An Tân Hưng Quang Đức Điền Trạch Ninh Châu Đông Tây Nam Bắc Phước Mỹ Hà"
    " Khánh Lâm".split(),
    "S": "An Hòa Thạnh Hiệp Lợi Hưng Phú Bình Thới Phước Tân Long Khánh Mỹ Định Thuận Hội Lộc"
    " Thành Trung Đông Tây Điền Xuân Quới Nhơn Hạnh Sơn Thông Hựu Đức Ninh Lương Nghĩa Vinh"
    " Hải Phong Tường".split(),
}
# Highland commune names: northern (Thái, H'Mông, Tày) and Central Highlands (Ê Đê, Jrai).
HIGHLAND_FIRST = {
    "N": "Chiềng Mường Nà Pác Khuổi Lũng Phìn Sà Tà Nậm Pà Xín".split(),
    "T": "Ea Ia Đắk Krông Cư Kon Yang Chư Pờ".split(),
}
HIGHLAND_SECOND = {
    "N": "Ban Lề Sinh Mun Pằn Hồ Chải Lìn Vàng Khoa Tủa Pâng Ngần Sáng Chăn Phăng Lạn Tè".split(),
    "T": "Kly Tam Drăng Pơng Mlây Rông Ble Hdreh Nông Sol Mơr Tiêu Knốp Wer Dơk Lốp".split(),
}
