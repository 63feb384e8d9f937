"""The gateway check's own rules (SPEC.md 3.1 step 2, DOMAIN.md 5): the name and birth-date
comparisons and the answer's fields. Pure functions over the core's SPEC 3 body: no aiohttp, so
the load-test oracle (loadtests/expected.py) checks answers with these same functions."""

from __future__ import annotations

import re
from typing import Any

from lookup import _core
from lookup.names import bare_name, fold_name
from lookup.schema import PROVINCES

__all__ = (
    "ANSWER_FIELDS",
    "NOTES",
    "card_code_problem",
    "compare_dob",
    "compare_names",
    "gateway_answer",
    "parse_birth_date",
)

# DOMAIN 5: the answer's fields, in the gateway's order.
ANSWER_FIELDS = (
    "maKetQua",
    "ghiChu",
    "maThe",
    "hoTen",
    "ngaySinh",
    "gioiTinh",
    "diaChi",
    "maDKBD",
    "cqBHXH",
    "gtTheTu",
    "gtTheDen",
    "maKV",
    "ngayDu5Nam",
    "maSoBHXH",
    "maTheCu",
    "maTheMoi",
    "gtTheTuMoi",
    "gtTheDenMoi",
    "maDKBDMoi",
    "tenDKBDMoi",
    "dsLichSuKCB2018",
    "dsLichSuKT2018",
)

# Vietnamese verdicts for the codes the core does not produce (DOMAIN 4).
NOTES = {
    "051": "Mã thẻ không đúng định dạng",
    "052": "Mã tỉnh trong mã thẻ không đúng",
    "053": "Mức hưởng trong mã thẻ không đúng",
    "054": "CCCD của cán bộ tra cứu chưa được cơ sở khám chữa bệnh đăng ký",
    "055": "Họ tên cán bộ tra cứu không khớp với CCCD đã đăng ký",
    "060": "Họ tên không đúng",
    "061": "Họ tên không đúng (chữ cái đầu đúng)",
    "070": "Ngày sinh không đúng",
    "205": "Sai định dạng tham số",
    "401": "Xác thực không thành công",
}
GENDER = {"male": "Nam", "female": "Nữ"}


# -- SPEC 3.1 "Gateway specifics": the card code -----------------------------------------------
# The 2-digit province part of a card code: the old codes, of which the 34 new ones are a part.
_CARD_PROVINCES = frozenset(code[1:] for code in PROVINCES)
_CARD_SHAPE = re.compile(r"[A-Z]{2}[0-9]{13}", re.ASCII)


def card_code_problem(ma_the: str) -> str | None:
    """Return 051, 052 or 053 for a 15-character `maThe` that is no card code (DOMAIN 4), None
    for a sound one or another length (the id parser judges those: 205)."""
    code = "".join(ma_the.split()).upper()
    if len(code) != 15:
        return None
    if not _CARD_SHAPE.fullmatch(code):
        return "051"
    if not "1" <= code[2] <= "5":
        return "053"
    if code[3:5] not in _CARD_PROVINCES:
        return "052"
    return None


# -- SPEC 3.1 step 2: name and birth date -------------------------------------------------------
def compare_names(asked: str, stored: str) -> str | None:
    """Return None when the names agree, "061" when only the first letter does, else "060".

    The names agree across the two standard tone placements and the apostrophe forms
    (lookup.names); the first letters are compared without marks, `Đ` read as `D`.
    """
    if fold_name(asked) == fold_name(stored):
        return None
    return "061" if bare_name(asked)[:1] == bare_name(stored)[:1] else "060"


_DOB_FORMATS = (
    (re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})", re.ASCII), (3, 2, 1)),  # dd/MM/yyyy
    (re.compile(r"([0-9]{2})([0-9]{2})([0-9]{4})", re.ASCII), (3, 2, 1)),  # ddMMyyyy
    (re.compile(r"([0-9]{1,2})/([0-9]{4})", re.ASCII), (2, 1, 0)),  # MM/yyyy
    (re.compile(r"([0-9]{4})", re.ASCII), (1, 0, 0)),  # yyyy
)


def parse_birth_date(text: str) -> tuple[int, int, int] | None:
    """Parse a gateway `ngaySinh` into (year, month, day), 0 for an absent part; None if bad."""
    text = text.strip()
    for pattern, (yi, mi, di) in _DOB_FORMATS:
        match = pattern.fullmatch(text)
        if match is None:
            continue
        year = int(match[yi])
        month = int(match[mi]) if mi else 0
        day = int(match[di]) if di else 0
        if (mi and month == 0) or (di and day == 0):
            return None  # 05/00/1950 is no date, not "some day of 1950"
        if not _core.is_real_date(year, month or 1, day or 1):  # also bounds the year: 1800-2299
            return None
        return year, month, day
    return None


def _stored_dob(text: str) -> tuple[int, int, int]:
    parts = [int(p) for p in text.split("-")] + [0, 0]
    return parts[0], parts[1], parts[2]


def compare_dob(asked: tuple[int, int, int], stored: str) -> bool:
    """Tell whether birth dates agree at the coarser of the two precisions (SPEC 3.1)."""
    for a, s in zip(asked, _stored_dob(stored), strict=True):
        if a == 0 or s == 0:
            return True  # one side stops here: what both give agreed
        if a != s:
            return False
    return True


# -- the answer ---------------------------------------------------------------------------------
def _dmy(iso: str | None) -> str | None:
    """YYYY-MM-DD (or YYYY-MM, YYYY) as the gateway writes it: dd/MM/yyyy (MM/yyyy, yyyy)."""
    if iso is None:
        return None
    return "/".join(reversed(iso.split("-")))


def gateway_answer(
    code: str, note: str, ma_the: str | None, body: dict[str, Any] | None
) -> dict[str, Any]:
    """Return the gateway's answer for a result code; card fields only when `body` is given."""
    answer: dict[str, Any] = dict.fromkeys(ANSWER_FIELDS)
    answer["maKetQua"] = code
    answer["ghiChu"] = note
    answer["maThe"] = ma_the
    if body is None:
        return answer
    person, card, new = body["person"], body["card"], body["replacement"]
    answer.update(
        maThe=card["card_no"],
        hoTen=person["full_name"],
        ngaySinh=_dmy(person["dob"]),
        gioiTinh=GENDER.get(person["gender"]),
        diaChi=person["address"],
        maDKBD=card["facility_code"],
        cqBHXH=card["issuer"],
        gtTheTu=_dmy(card["valid_from"]),
        gtTheDen=_dmy(card["valid_until"]),  # the last covered day: a TE card's limit
        maKV=card["region_code"],
        ngayDu5Nam=_dmy(card["five_year_date"]),
        maSoBHXH=person["bhxh_code"],
    )
    if new is None:
        answer["maTheCu"] = card["prev_card_no"]  # the card this one replaced, if any
    else:  # 003/004: the asked code is the old card (SPEC 3.1 step 3)
        answer.update(
            maTheCu=card["card_no"],
            maTheMoi=new["card_no"],
            gtTheTuMoi=_dmy(new["valid_from"]),
            gtTheDenMoi=_dmy(new["valid_to"]),
            maDKBDMoi=new["facility_code"],
            tenDKBDMoi=new["facility_name"],  # from the facility registry, when imported
        )
    return answer
