# Packed dates (docs/DESIGN.md 3): yyyymmdd as an unsigned 32-bit integer, zeros for the unknown
# month/day of a partial birth date, 0 for "absent". Header-only: inline helpers cimported by
# the other units.
from libc.stdint cimport uint32_t

cdef enum:
    MIN_YEAR = 1800   # the CCCD century digit covers 1800-2299 (DOMAIN.md 1)
    MAX_YEAR = 2299


cdef inline bint is_leap(int y) noexcept nogil:
    return (y % 4 == 0 and y % 100 != 0) or y % 400 == 0


cdef inline int days_in_month(int y, int m) noexcept nogil:
    if m == 2:
        return 29 if is_leap(y) else 28
    if m == 4 or m == 6 or m == 9 or m == 11:
        return 30
    return 31


cdef inline bint is_real_date(int y, int m, int d) noexcept nogil:
    return MIN_YEAR <= y <= MAX_YEAR and 1 <= m <= 12 and 1 <= d <= days_in_month(y, m)


cdef inline uint32_t pack_date(int y, int m, int d) noexcept nogil:
    return <uint32_t>(y * 10000 + m * 100 + d)


cdef inline int date_year(uint32_t p) noexcept nogil:
    return <int>(p // 10000)


cdef inline int date_month(uint32_t p) noexcept nogil:
    return <int>((p // 100) % 100)


cdef inline int date_day(uint32_t p) noexcept nogil:
    return <int>(p % 100)


cdef inline uint32_t latest_day(uint32_t p) noexcept nogil:
    """The latest day a (possibly partial) packed date can stand for."""
    cdef int y = date_year(p), m = date_month(p), d = date_day(p)
    if m == 0:
        return pack_date(y, 12, 31)
    if d == 0:
        return pack_date(y, m, days_in_month(y, m))
    return p


cdef inline uint32_t day_before(uint32_t p) noexcept nogil:
    cdef int y = date_year(p), m = date_month(p), d = date_day(p)
    if d > 1:
        return pack_date(y, m, d - 1)
    if m > 1:
        return pack_date(y, m - 1, days_in_month(y, m - 1))
    return pack_date(y - 1, 12, 31)
