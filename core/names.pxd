# Names compared as SPEC.md 4 says, in C, for the reconciliation's fast path (core/register.pxd):
# a name's UTF-8 decoded to letters, and each letter's case, marks and tone read from a table
# that core/reader.pyx fills from unicodedata the way lookup/reference/reconcile.py folds names,
# so comparing two names takes no Unicode work here. A name with a character outside the table
# (or not valid UTF-8, or not plain: see name_letters) is left to the reference.
from libc.stdint cimport uint8_t, uint16_t, uint32_t


cdef enum:
    LETTER_LIMIT = 0x1F00   # the table's code points: Latin, up to Latin Extended Additional
    NAME_LIMIT = 100        # characters (SPEC.md 1.1)
    LETTER_PLAIN = 1        # valid in a name as it is: NFC, a starter, no space but ' ', no Cc
    LETTER_FOLDS = 2        # casefolded NFD: one letter, at most one other mark and one tone
    NAME_SAME = 0           # how two names compare: the same name,
    NAME_DIACRITICS = 1     # only their marks differ (`full_name_diacritics`),
    NAME_DIFFERS = 2        # or otherwise (`full_name`);
    NAME_UNKNOWN = 3        # or for the reference to say


cdef struct Letter:
    uint32_t base           # casefolded, marks removed; `đ` stays (bare_letter reads it as `d`)
    uint16_t mark           # its other mark (circumflex, breve, horn...), 0 for none
    uint8_t tone            # 1-5: its tone, the tones numbered in code point order; 0 for none
    uint8_t flags           # LETTER_PLAIN, LETTER_FOLDS


cdef inline Py_ssize_t name_letters(const uint8_t* s, Py_ssize_t n, const Letter* table,
                                    uint16_t* out) noexcept:
    """Decode a name into out (NAME_LIMIT code points at most) and return how many; -1 unless
    it is valid as it is and normalising would not change it: UTF-8, 1-100 characters, all
    LETTER_PLAIN, single spaces between words and none at the ends."""
    cdef Py_ssize_t i = 0, count = 0
    cdef uint32_t c, cp
    if n == 0 or s[0] == c' ' or s[n - 1] == c' ':
        return -1
    while i < n:
        c = s[i]
        if c < 0x80:
            if c == c' ' and s[i + 1] == c' ':  # s[n - 1] is not a space: i + 1 < n
                return -1
            cp = c
            i += 1
        elif 0xC2 <= c <= 0xDF and i + 1 < n and (s[i + 1] & 0xC0) == 0x80:
            cp = ((c & 0x1F) << 6) | (s[i + 1] & 0x3F)
            i += 2
        elif (c == 0xE0 or c == 0xE1) and i + 2 < n and (s[i + 1] & 0xC0) == 0x80 \
                and (s[i + 2] & 0xC0) == 0x80:
            cp = ((c & 0x0F) << 12) | ((<uint32_t>s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F)
            if cp < 0x800:
                return -1  # overlong
            i += 3
        else:
            return -1
        if cp >= LETTER_LIMIT or not (table[cp].flags & LETTER_PLAIN) or count == NAME_LIMIT:
            return -1
        out[count] = <uint16_t>cp
        count += 1
    return count


cdef inline uint32_t bare_letter(uint32_t base) noexcept:
    """A letter as it is when marks are lost: `đ` typed `d`."""
    return c'd' if base == 0x111 else base


cdef inline int compare_letters(const uint16_t* a, Py_ssize_t na, const uint16_t* b,
                                Py_ssize_t nb, const Letter* table) noexcept:
    """Compare two names' letters (name_letters): NAME_SAME when they fold to one form (case,
    the syllable's tone wherever it is written, the apostrophes), NAME_DIACRITICS when only
    their marks differ, NAME_DIFFERS otherwise, NAME_UNKNOWN for a letter that does not fold."""
    cdef const Letter* x
    cdef const Letter* y
    cdef Py_ssize_t i
    cdef int k
    cdef int tones[6]   # in the word so far: a's of each tone less b's
    cdef bint same = True
    for i in range(na):
        if not (table[a[i]].flags & LETTER_FOLDS):
            return NAME_UNKNOWN
    for i in range(nb):
        if not (table[b[i]].flags & LETTER_FOLDS):
            return NAME_UNKNOWN
    if na != nb:
        return NAME_DIFFERS  # each letter is one bare letter; spaces are themselves
    for k in range(6):
        tones[k] = 0
    for i in range(na):
        x, y = &table[a[i]], &table[b[i]]
        if bare_letter(x.base) != bare_letter(y.base):
            return NAME_DIFFERS
        if x.base != y.base or x.mark != y.mark:
            same = False
        tones[x.tone] += 1
        tones[y.tone] -= 1
        if x.base == c' ' or i == na - 1:  # a word ends (spaces fall alike: bare letters agree)
            for k in range(1, 6):
                same = same and tones[k] == 0
                tones[k] = 0
    return NAME_SAME if same else NAME_DIACRITICS
