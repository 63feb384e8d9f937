"""The gateway check's own rules (SPEC.md 3.1 step 2, DOMAIN.md 5): the name and birth-date
comparisons and the answer's fields. Pure functions over the core's SPEC 3 body: no aiohttp, so
the load-test oracle (loadtests/expected.py) checks answers with these same functions."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from lookup import _core

__all__ = (
    "ANSWER_FIELDS",
    "NOTES",
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
    "060": "Họ tên không đúng",
    "061": "Họ tên không đúng (chữ cái đầu đúng)",
    "070": "Ngày sinh không đúng",
    "205": "Sai định dạng tham số",
    "401": "Xác thực không thành công",
}
GENDER = {"male": "Nam", "female": "Nữ"}


# -- SPEC 3.1 step 2: name and birth date -------------------------------------------------------
def _fold_name(name: str) -> str:
    # NFC before and after case folding: folding may decompose (e.g. U+0130).
    text = unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())
    return " ".join(text.split())


def compare_names(asked: str, stored: str) -> str | None:
    """Return None when the names agree, "061" when only the first letter does, else "060"."""
    a, s = _fold_name(asked), _fold_name(stored)
    if a == s:
        return None
    return "061" if a[:1] == s[:1] else "060"


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
        gtTheDen=_dmy(card["valid_to"]),
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
        )
    return answer
