"""Person identifiers and facility codes (docs/DESIGN.md 2); compiled from core/ids.pyx."""

__all__ = ("parse_facility", "parse_id")

def parse_id(text: str) -> tuple[str, str]:
    """Classify a pasted person identifier as (kind, normalised id) or raise IdError."""

def parse_facility(text: str) -> str:
    """Normalise a facility code (2 digits, then 3 digits or capital letters) or raise IdError."""
