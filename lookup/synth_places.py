"""Places behind `lookup synth`: the 63 provinces (before the 2025 merger), districts, wards.

CCCD province codes are DOMAIN.md 1's; population (thousands, 2023, GSO, rounded) weights where
people live. Districts are real; wards and communes are real where listed, else drawn from the
region's common names (Quang Trung, Tân Phú, Phường 3...), which exist in many districts.
"""

from __future__ import annotations

import unicodedata
from typing import NamedTuple

__all__ = ("Province", "PROVINCES", "URBAN_WARDS", "RURAL_COMMUNES", "HAMLET_WORDS")


class Province(NamedTuple):
    """One province as the generator uses it."""

    cccd: str  # 3-digit CCCD code; the 2-digit card/facility code is cccd[1:]
    name: str  # as written at the end of an address: "Hà Nội", "Nghệ An"
    kind: str  # "thành phố" or "tỉnh", for the issuer's name ("BHXH tỉnh Nghệ An")
    population: int  # thousands
    hardship: int  # 0 plain, 1 some hardship areas, 2 mountainous and poor
    minority: str  # MINORITY naming style of synth_data, or "" for none
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
HAMLET_WORDS = {"N": ["Thôn", "Thôn", "Xóm"], "C": ["Thôn", "Thôn", "Xóm"], "S": ["Ấp"],
                "Nh": ["Bản", "Thôn"], "T": ["Buôn", "Thôn", "Làng"], "K": ["Ấp", "Phum"]}


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
            provinces.append(Province(
                code, name, header[1], int(header[2]), int(header[3]),
                "" if header[4] == "-" else header[4], header[5] == "*", tuple(districts),
            ))  # fmt: skip

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
        districts.append((name.strip(), tuple(w.strip() for w in wards.split(",") if w.strip()),
                          island))  # fmt: skip
    flush()
    return tuple(provinces)


PROVINCES = _parse(_PROVINCES)
