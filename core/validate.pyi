"""Extract and delta row validation and record encoding (docs/DESIGN.md 5), compiled."""

from collections.abc import Sequence
from typing import NamedTuple, final

__all__ = ("RowValidator", "ValidRow")

_FAST_TEXT_RANGES: tuple[tuple[int, int], ...]

class ValidRow(NamedTuple):
    """One validated row: the record and the keys the build indexes it under."""

    op: str
    cccd_key: bytes
    bhxh_key: bytes | None
    card_no: bytes | None
    prev_card_no: bytes | None
    record: bytes | None
    quality: int

@final
class RowValidator:
    """Validate rows of one extract (or delta) file whose header is `columns`."""

    @property
    def columns(self) -> tuple[str, ...]: ...
    @property
    def delta(self) -> bool: ...
    def __init__(self, columns: Sequence[str], delta: bool = False) -> None: ...
    def validate(self, values: Sequence[str]) -> ValidRow: ...
