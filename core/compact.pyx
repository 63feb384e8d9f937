"""Version-2 records for the build (docs/DESIGN.md 4), compiled: the twin of
lookup/reference/compact.py.

A build compacts each record as it reads it (core/csvrows.pyx feed_build), numbering its
repeated texts in a string table of the reading process: the people sorter then holds half the
bytes. A parallel build's worker has a table of its own; the parent puts the workers' texts after
its own, in range order, which numbers every text as a serial read would (in the order of the
lines that first hold them), and the writer renumbers the workers' records as it writes them
(`renumber_records`): each record in the sorter starts with the number of the process that read
it, its origin.
"""

cimport cython
from cpython.bytearray cimport PyByteArray_AS_STRING
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memchr, memcmp, memcpy

from core.rules cimport RecordView, _read_wide, read_record
from core.sorter cimport Entry, _Items
from core.strings cimport read_varint

from lookup.schema import ADDRESS_UNITS

__all__ = ("compact_records", "renumber_records")

cdef inline uint64_t text_hash(const uint8_t* p, size_t n) noexcept:
    """A hash of n bytes, eight at a time: the build asks it three times a row."""
    cdef uint64_t h = n * 0x9E3779B97F4A7C15ULL, word
    while n >= 8:
        memcpy(&word, p, 8)
        h = (h ^ word) * 0xBF58476D1CE4E5B9ULL
        h ^= h >> 29
        p += 8
        n -= 8
    word = 0
    memcpy(&word, p, n)
    h = (h ^ word) * 0x94D049BB133111EBULL
    return h ^ (h >> 32)


@cython.final
cdef class Interner:
    """Numbers texts as lookup.store.strings.Strings.id does, adding the new ones to it.

    By the Strings' dict; or, once use_table() was called (the build's millions of records),
    by a table of its own that asks a text's bytes where they lie, with no bytes object made.
    """

    def __cinit__(self, strings):
        cdef int i
        self.ids = strings.ids
        self.texts = strings.texts
        for i in range(3):
            self.last[i].text = NULL

    def __dealloc__(self):
        free(self.table)

    cdef int use_table(self) except -1:
        if self.table == NULL:
            self.grow(64)
        return 0

    cdef uint32_t number(self, const char* text, Py_ssize_t size, int field) except? 0xFFFFFFFF:
        """The text's number in the string table (adding it when new); 0 for no text."""
        cdef LastText* last = &self.last[field]
        cdef uint32_t number
        cdef bytes key
        if text == NULL:
            return 0
        if last.text != NULL and last.size == size and same_bytes(last.text, text, size):
            return last.number
        if self.table != NULL:
            number = self.find(text, size)
        else:
            key = PyBytes_FromStringAndSize(text, size)
            found = self.ids.get(key)
            number = 0 if found is None else found
        if number == 0:
            key = PyBytes_FromStringAndSize(text, size)
            self.texts.append(key)
            self.ids[key] = number = len(self.texts)
        # Point at the table's own copy, which lives as long as the table.
        last.text = PyBytes_AS_STRING(<bytes>PyList_GET_ITEM(self.texts, number - 1))
        last.size, last.number = size, number
        return number

    cdef uint32_t find(self, const char* text, Py_ssize_t size) except? 0xFFFFFFFF:
        """The text's number by the table, 0 when it has none (texts added to the Strings
        since the last call are taken in first)."""
        cdef uint64_t h = text_hash(<const uint8_t*>text, size)
        cdef size_t place = h & self.mask
        cdef Place* at
        if self.tabled < PyList_GET_SIZE(self.texts):
            self.take_new_texts()
            place = h & self.mask
        while self.table[place].number != 0:
            at = &self.table[place]
            if at.hash == <uint32_t>h and at.size == size and same_bytes(at.text, text, size):
                return at.number
            place = (place + 1) & self.mask
        return 0

    cdef int take_new_texts(self) except -1:
        cdef Py_ssize_t n = PyList_GET_SIZE(self.texts)
        cdef size_t places = self.mask + 1
        while 2 * <size_t>n >= places:
            places *= 2
        if places != self.mask + 1:
            self.grow(places)  # places every text again
        else:
            while self.tabled < n:
                self.place(self.tabled + 1)
                self.tabled += 1
        return 0

    cdef int grow(self, size_t places) except -1:
        cdef Py_ssize_t n = PyList_GET_SIZE(self.texts)
        while 2 * <size_t>n >= places:
            places *= 2
        free(self.table)
        self.table = <Place*>calloc(places, sizeof(Place))
        if self.table == NULL:
            raise MemoryError()
        self.mask = places - 1
        self.tabled = 0
        while self.tabled < n:
            self.place(self.tabled + 1)
            self.tabled += 1
        return 0

    cdef void place(self, uint32_t number) noexcept:
        cdef object text = <object>PyList_GET_ITEM(self.texts, number - 1)
        cdef const char* data = PyBytes_AS_STRING(text)
        cdef Py_ssize_t size = PyBytes_GET_SIZE(text)
        cdef uint64_t h = text_hash(<const uint8_t*>data, size)
        cdef size_t place = h & self.mask
        while self.table[place].number != 0:
            place = (place + 1) & self.mask
        self.table[place].number = number
        self.table[place].hash = <uint32_t>h
        self.table[place].text = data
        self.table[place].size = size


cdef inline uint8_t* _varint(uint8_t* out, uint32_t n) noexcept:
    while n >= 0x80:
        out[0] = (n & 0x7F) | 0x80
        out += 1
        n >>= 7
    out[0] = n
    return out + 1


cdef inline uint8_t* _date24(uint8_t* out, uint32_t packed) noexcept:
    cdef uint32_t v = (packed // 10000) << 9 | (packed // 100 % 100) << 5 | packed % 100
    out[0], out[1], out[2] = v & 0xFF, v >> 8 & 0xFF, v >> 16
    return out + 3


cdef inline uint8_t* _card(uint8_t* out, const char* code, bint with_number) noexcept:
    """The card code's first 5 characters, then (with_number) its 10 digits packed two a byte."""
    cdef int i
    memcpy(out, code, 5)
    if not with_number:
        return out + 5
    for i in range(5):
        out[5 + i] = (code[5 + 2 * i] - c'0') << 4 | (code[6 + 2 * i] - c'0')
    return out + 10


# lookup.schema.ADDRESS_UNITS as UTF-8: what an address's administrative parts start with.
cdef tuple _UNITS = tuple(unit.encode() for unit in ADDRESS_UNITS)
cdef bint _UNIT_FIRST[256]  # the bytes a unit starts with: most parts need no comparison
for _unit in _UNITS:
    _UNIT_FIRST[_unit[0]] = True
del _unit


cdef bint _is_unit(const char* part, Py_ssize_t n):
    cdef bytes unit
    if n == 0 or not _UNIT_FIRST[<uint8_t>part[0]]:
        return False
    for unit in _UNITS:
        if len(unit) <= n and same_bytes(part, PyBytes_AS_STRING(unit), len(unit)):
            return True
    return False


cdef Py_ssize_t _split_address(const char* a, Py_ssize_t n):
    """Where the address's locality starts (the separator before it), or -1 when it has one
    part: its last part and the administrative units just before it, at most 3 parts
    (lookup/reference/record.py split_address)."""
    cdef Py_ssize_t i = 0, count = 0, tail = 1, start
    cdef Py_ssize_t seps[4]  # the last four separators, most recent last
    cdef const char* comma
    while i + 1 < n:
        comma = <const char*>memchr(a + i, c',', n - 1 - i)  # a comma with a byte after it
        if comma == NULL:
            break
        i = comma - a
        if a[i + 1] == c' ':
            seps[count % 4] = i
            count += 1
            i += 2
        else:
            i += 1
    if count == 0:
        return -1
    while tail < 3 and tail < count:
        start = seps[(count - tail - 1) % 4] + 2  # the part before the tail
        if not _is_unit(a + start, seps[(count - tail) % 4] - start):
            break
        tail += 1
    return seps[(count - tail) % 4]


cdef Py_ssize_t compact_record(const uint8_t* p, Py_ssize_t n, uint8_t* buf,
                               Interner strings, bint made_here=False) except -1:
    """Write the version-1 record p[:n] (what the validator makes) as version 2 into buf, which
    holds n bytes (version 2 is never longer); return its size. `made_here`: the validator made
    it just now, so its fields need no second check (the build's read loop)."""
    cdef RecordView r
    cdef bint sound
    cdef Py_ssize_t cut
    cdef uint8_t* out
    cdef bint renumbered
    cdef uint32_t locality, facility, issuer
    sound = _read_wide(p, n, &r, True) if made_here else read_record(p, n, NULL, &r)
    if n < 1 or p[0] != 1 or not sound:
        raise ValueError("compact_records: not a sound version-1 record")
    cut = _split_address(r.address, r.address_len)
    locality = strings.number(r.address + cut + 2 if cut >= 0 else NULL,
                              r.address_len - cut - 2 if cut >= 0 else 0, 0)
    facility = strings.number(r.facility, 5, 1)
    issuer = strings.number(r.issuer if r.issuer_len else NULL, r.issuer_len, 2)
    renumbered = r.prev_card_no != NULL and memcmp(r.prev_card_no + 5, r.card_no + 5, 10) != 0
    buf[0] = 2
    buf[1] = (r.gender | r.managed_by << 2 | r.region << 4 | (r.prev_card_no != NULL) << 6
              | renumbered << 7)
    buf[2] = r.status | (r.five_year != 0) << 3 | (r.prev_valid_to != 0) << 4
    out = _date24(_date24(_date24(buf + 3, r.dob), r.valid_from), r.valid_to)
    if r.five_year:
        out = _date24(out, r.five_year)
    if r.prev_valid_to:
        out = _date24(out, r.prev_valid_to)
    out = _card(out, r.card_no, True)
    if r.prev_card_no != NULL:
        out = _card(out, r.prev_card_no, renumbered)
    out = _varint(out, r.name_len)
    memcpy(out, r.full_name, r.name_len)
    out += r.name_len
    out = _varint(out, cut if cut >= 0 else r.address_len)
    memcpy(out, r.address, cut if cut >= 0 else r.address_len)
    out += cut if cut >= 0 else r.address_len
    out = _varint(_varint(_varint(out, locality), facility), issuer)
    return out - buf


def compact_records(items, strings):
    """Yield (key, record) for each (key, version-1 record) of items, the record as version 2,
    its repeated texts added to `strings` (lookup.store.strings.Strings)."""
    cdef Interner interner = Interner(strings)
    cdef bytearray buf
    cdef Py_ssize_t n
    for key, value in items:
        n = PyBytes_GET_SIZE(<bytes?>value)
        buf = bytearray(n)  # version 2 is never longer
        n = compact_record(<const uint8_t*>PyBytes_AS_STRING(value), n,
                           <uint8_t*>PyByteArray_AS_STRING(buf), interner)
        yield key, PyBytes_FromStringAndSize(PyByteArray_AS_STRING(buf), n)


# --- renumbering: a worker's records, in the numbers of the whole build ------------------------
cdef Py_ssize_t texts_at(const uint8_t* p, size_t n) noexcept:
    """Where a version-2 record's three text numbers start; -1 when it is cut short."""
    cdef size_t at = 3 + 9
    cdef uint32_t length
    cdef int _
    if n < 3:
        return -1
    at += 3 * ((p[2] >> 3) & 1) + 3 * ((p[2] >> 4) & 1)  # five-year date, previous card's end
    at += 10  # the card
    if p[1] & 0x40:  # a previous card: its head, and its number when renumbered
        at += 10 if p[1] & 0x80 else 5
    for _ in range(2):  # name, then the address's own part
        if not read_varint(p, n, &at, &length) or at + length > n:
            return -1
        at += length
    return at


cdef Py_ssize_t renumber_record(const uint8_t* p, size_t n, const uint32_t* numbers,
                                size_t count, uint8_t* out) except -1:
    """Copy the version-2 record p[:n] into out (n + 12 bytes) with its text numbers replaced
    by numbers[number] (count of them); return the new size."""
    cdef Py_ssize_t start = texts_at(p, n)
    cdef size_t at
    cdef uint32_t number
    cdef uint8_t* end
    cdef int _
    if start < 0:
        raise ValueError("renumber_records: not a sound version-2 record")
    memcpy(out, p, start)
    end = out + start
    at = start
    for _ in range(3):
        if not read_varint(p, n, &at, &number):
            raise ValueError("renumber_records: not a sound version-2 record")
        if number >= count:
            raise ValueError("renumber_records: a text number outside the process's table")
        end = _varint(end, numbers[number])
    if at != n:
        raise ValueError("renumber_records: bytes after the record's text numbers")
    return end - out


def renumber_records(items, maps):
    """Return an iterator of (key, record) for each (key, origin byte + version-2 record) of
    items: the origin's record with its text numbers looked up in maps[origin], a list (0, then
    each text's number in the whole build), or as it is when maps[origin] is None."""
    return _Renumbered(items, maps)


@cython.final
cdef class _Renumbered:
    """renumber_records' iterator; SnapshotWriter.append pulls it in C (next_entry) when it
    renumbers a sorter's merge."""

    def __cinit__(self, items, maps):
        cdef Py_ssize_t i, j
        cdef list numbers
        self.merged = items if type(items) is _Items else None
        self.items = iter(items)
        self.origins = len(maps)
        self.numbers = <uint32_t**>calloc(max(self.origins, 1), sizeof(uint32_t*))
        self.counts = <size_t*>calloc(max(self.origins, 1), sizeof(size_t))
        if self.numbers == NULL or self.counts == NULL:
            raise MemoryError()
        for i in range(self.origins):
            if maps[i] is None:
                continue
            numbers = list(maps[i])
            self.numbers[i] = <uint32_t*>malloc(max(len(numbers), 1) * sizeof(uint32_t))
            if self.numbers[i] == NULL:
                raise MemoryError()
            for j in range(len(numbers)):
                self.numbers[i][j] = numbers[j]
            self.counts[i] = len(numbers)

    def __dealloc__(self):
        cdef Py_ssize_t i
        if self.numbers != NULL:
            for i in range(self.origins):
                free(self.numbers[i])
        free(self.numbers)
        free(self.counts)
        free(self.buf)

    def __iter__(self):
        return self

    def __next__(self):
        cdef Entry e
        key, value = next(self.items)
        e.key_size = 0
        e.value = <const uint8_t*>PyBytes_AS_STRING(<bytes?>value)
        e.value_size = PyBytes_GET_SIZE(value)
        self.renumber(&e)
        return key, PyBytes_FromStringAndSize(<const char*>e.value, e.value_size)

    cdef bint next_entry(self, Entry* e) except -1:
        """Point e at the next entry, renumbered (valid until the next call)."""
        if not self.merged.next_entry(e):
            return False
        self.renumber(e)
        return True

    cdef int renumber(self, Entry* e) except -1:
        cdef uint8_t origin
        cdef void* p
        if e.value_size < 1:
            raise ValueError("renumber_records: an empty value has no origin")
        origin = e.value[0]
        if origin >= self.origins:
            raise ValueError(f"renumber_records: origin {origin}; {self.origins} maps given")
        e.value += 1
        e.value_size -= 1
        if self.numbers[origin] == NULL:
            return 0  # numbered as the whole build numbers: as it is
        if e.value_size + 12 > self.cap:
            p = realloc(self.buf, e.value_size + 512)
            if p == NULL:
                raise MemoryError()
            self.buf, self.cap = <uint8_t*>p, e.value_size + 512
        e.value_size = renumber_record(e.value, e.value_size, self.numbers[origin],
                                       self.counts[origin], self.buf)
        e.value = self.buf
        return 0
