"""CSV rows of an extract or delta (SPEC.md 1.1), compiled.

The twin of lookup/reference/csvrows.py, which is csv.reader(strict=False) over the stream
decoded as UTF-8 with surrogateescape: the same records, values, physical line numbers and
errors. The csv module was the biggest cost of a build (decoding the whole text, then a
per-character state machine and a Python object per line); here the bytes are read in large
chunks and split in C, and each value is decoded on its own, which gives the same str because
the bytes that split values (comma, quote, CR, LF) are ASCII: never inside a UTF-8 sequence,
and where the bytes are not UTF-8, the decoder's error ranges (surrogateescape: one lone
surrogate per bad byte) stop before an ASCII byte, so cutting there changes nothing.

A record is parsed from its first byte whenever it is complete in the buffer; when the buffer
ends inside it, the record is dropped, the buffer refilled and the record parsed again from its
start (once per chunk), so no parser state lives across chunks. csv.reader(strict=False) rules
kept: a quote inside an unquoted value is a literal character; after a closing quote, text up
to the next comma or line end is appended to the value (quotes included); a quote left open at
the end of the file ends the value there; \\n, \\r\\n and a lone \\r all end a line (as
io.TextIOWrapper(newline="") splits lines, which csv.reader's line_num counts).

A stream may be a piece of a file that starts at a line end (a range of a build's extract, read
by a worker): `first_line` numbers its lines, a BOM there is content, and stop_at() ends the rows
at a byte offset, where the next piece starts, so that the pieces read the file's rows once each.

feed_build() is the build's read loop (lookup/build.py _read) in C: rows go from the buffer
through RowValidator.check into ExternalSorter.add_entry with no Python call per row.
"""

cimport cython
from cpython.buffer cimport PyBUF_WRITE
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.memoryview cimport PyMemoryView_FromMemory
from cpython.unicode cimport PyUnicode_DecodeUTF8, PyUnicode_GET_LENGTH
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, realloc
from libc.string cimport memcmp, memcpy, memmove

from core.bigendian cimport be_store
from core.compact cimport Interner, compact_record
from core.record cimport CARD_LEN, HEAD_BITS, HEAD_LEN, KEY_LEN
from core.sorter cimport ExternalSorter
from core.validate cimport RECORD_MAX, Checked, RowValidator, Span

import csv

from lookup.errors import RowError
from lookup.schema import QUALITY_FLAGS

if len(QUALITY_FLAGS) != QUALITY_COUNT:
    raise ImportError("core.csvrows: QUALITY_COUNT differs from lookup.schema.QUALITY_FLAGS")

__all__ = ("FIELD_LIMIT", "PROGRESS_EVERY", "Rows", "count_line_ends", "feed_build")

cdef extern from "Python.h":
    object PyUnicode_New(Py_ssize_t size, Py_UCS4 maxchar)
    void* PyUnicode_DATA(object o)

cdef enum:
    QUALITY_COUNT = 7               # len(lookup.schema.QUALITY_FLAGS): checked at import
    # Bytes asked of the stream at a time: more than the extract's buffer (lookup.ingest.extract),
    # so that a BufferedReader reads them straight into ours (readinto1), not through its own.
    CHUNK = 4 << 20
    LIMIT = 64 * 1024               # FIELD_LIMIT, in characters as csv.field_size_limit counts
    MAX_UTF8 = 4                    # a value of more bytes than LIMIT * 4 is surely over LIMIT
    TAG_LEN = 5                     # a row's tag in the sorters: its line, then its origin

FIELD_LIMIT = LIMIT
PROGRESS_EVERY = 65536

# Bytes that end an unquoted value: comma, CR, LF; and those that end a plain record's scan:
# a line end, or a quote (then the record is not plain).
cdef bint ENDS_VALUE[256]
cdef bint ENDS_PLAIN[256]
cdef bint ENDS_SPAN[256]  # an unquoted value in next_spans: a comma, or a line end or quote
for _c in range(256):
    ENDS_VALUE[_c] = _c in (44, 13, 10)
    ENDS_PLAIN[_c] = _c in (34, 13, 10)
    ENDS_SPAN[_c] = _c in (44, 34, 13, 10)
del _c

cdef str TOO_LARGE = f"field larger than field limit ({LIMIT})"  # csv.reader's message

cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define csvrows_lowest_byte(m) (__builtin_ctzll(m) >> 3)
    #else
    static int csvrows_lowest_byte(unsigned long long m) {
        int i = 0;
        while (!(m & 0x80)) { m >>= 8; i++; }
        return i;
    }
    #endif
    """
    # The place of the lowest marked byte of a nonzero has_byte() mask.
    int lowest_byte "csvrows_lowest_byte"(uint64_t m) noexcept nogil

cdef inline uint64_t has_byte(uint64_t word, uint8_t c) noexcept:
    """Mark (0x80) the bytes of word equal to c: exactly at the lowest one, maybe above it."""
    cdef uint64_t x = word ^ (0x0101010101010101ULL * c)
    return (x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL


cdef inline Py_ssize_t value_end(const uint8_t* buf, Py_ssize_t q, Py_ssize_t end,
                                 bint quoted) noexcept:
    """The first place from q, before end, of a byte of ENDS_PLAIN (quoted) or ENDS_SPAN, else
    end: eight bytes a step, as a value is mostly scanned byte by byte for nothing."""
    cdef uint64_t word, found
    while q + 8 <= end:
        memcpy(&word, buf + q, 8)
        found = has_byte(word, 34) | has_byte(word, 13) | has_byte(word, 10)
        if not quoted:
            found |= has_byte(word, 44)
        if found:
            return q + lowest_byte(found)
        q += 8
    if quoted:
        while q < end and not ENDS_PLAIN[buf[q]]:
            q += 1
    else:
        while q < end and not ENDS_SPAN[buf[q]]:
            q += 1
    return q


cdef inline str decode(const uint8_t* p, Py_ssize_t n, uint8_t high):
    """The str of n bytes; `high` is their bitwise or (below 0x80: all ASCII)."""
    cdef str s
    if high < 0x80:
        s = PyUnicode_New(n, 127)  # 1 byte per character: the bytes are the string
        memcpy(PyUnicode_DATA(s), p, n)
        return s
    return PyUnicode_DecodeUTF8(<const char*>p, n, "surrogateescape")


cdef inline str within_limit(str s, Py_ssize_t nbytes):
    """s, unless it has more characters than the limit (only possible past LIMIT bytes)."""
    if nbytes > LIMIT and PyUnicode_GET_LENGTH(s) > LIMIT:
        raise csv.Error(TOO_LARGE)
    return s


@cython.final
@cython.auto_pickle(False)  # C state: nothing to pickle
cdef class Rows:
    """The records of one CSV stream; see lookup/reference/csvrows.py (attributes: csvrows.pxd)."""

    def __cinit__(self):
        self.buf = NULL
        self.scratch = NULL

    def __init__(self, stream, Py_ssize_t first_line=1):
        self.read = getattr(stream, "read1", None) or stream.read
        self.read_into = getattr(stream, "readinto1", None)  # one copy fewer than read1
        self.line = first_line
        self.skip_bom = first_line == 1  # past line 1 the stream is a piece of a file
        self.error = None
        self.stop = -1

    @property
    def offset(self):
        """Bytes of the stream taken by the records returned and the blank lines skipped."""
        return self.consumed - (self.end - self.pos)

    def stop_at(self, Py_ssize_t offset):
        """End the rows before any record or blank line starting at or past byte `offset`."""
        self.stop = offset

    def __dealloc__(self):
        free(self.buf)
        free(self.scratch)

    def first(self):
        """The first record's values (the header): [] for a blank line, None for no record."""
        return self.next_record(False)

    def __iter__(self):
        return self

    def __next__(self):
        values = self.next_record(True)
        if values is None:
            raise StopIteration
        return self.record_line, values

    def close(self):
        """Let go of the stream (which the caller closes) and the buffers."""
        self.read = self.read_into = None
        free(self.buf)
        free(self.scratch)
        self.buf = self.scratch = NULL
        self.consumed -= self.end - self.pos  # offset stays as it was
        self.cap = self.pos = self.end = 0
        self.eof = True

    cdef list next_record(self, bint skip_blank):
        """The next record's values (its line in record_line), or None at the end."""
        cdef int status
        if not self.started:
            self.start()
        while True:
            status = self.parse(skip_blank)
            if status == RECORD:
                values = self.values
                self.values = None
                return values
            if status == END:
                return None
            self.refill()

    cdef int next_plain(self, const uint8_t** text, Py_ssize_t* n) except -1:
        """Read the next record when it is one line without a quote: RECORD with its bytes
        (the line end left out) in text[0][:n[0]], valid until the next read, and its line in
        record_line. QUOTED, reading nothing, when it may be anything else (a quote, a blank
        line before it, a value over the limit): next_record() reads it then. END at the end.
        Such a record's values are its bytes split at the commas (plain_values), as parse
        gives them."""
        cdef const uint8_t* buf
        cdef Py_ssize_t p, q, end
        if not self.started:
            self.start()
        while True:
            buf, p, end = self.buf, self.pos, self.end
            if self.stop >= 0 and self.consumed - end + p >= self.stop:
                return END  # the next piece of the file starts here
            if p == end:
                if self.eof:
                    return END
                self.refill()
                continue
            q = p
            while q < end and not ENDS_PLAIN[buf[q]]:
                q += 1
            if q - p > LIMIT or (q < end and buf[q] == 34) or q == p:
                return QUOTED
            if q == end and not self.eof or q + 1 == end and buf[q] == 13 and not self.eof:
                self.refill()  # the line, or its CR LF, goes on in the next chunk
                continue
            text[0], n[0] = buf + p, q - p
            self.take_line(q)
            return RECORD

    cdef int next_spans(self, Span* spans, Py_ssize_t most, Py_ssize_t* count) except -1:
        """Read the next record when its values lie in the buffer as they are: RECORD with
        spans[:count[0]] pointing at them (valid until the next read) and its line in
        record_line. Each value is unquoted, or quoted with no quote or line end inside and
        nothing after its closing quote. QUOTED, reading nothing, when it may be anything
        else (a value to unescape, a multi-line or blank line, more than `most` values or a
        value over the limit): next_record() reads it then. END at the end."""
        cdef const uint8_t* buf
        cdef Py_ssize_t p, q, end, k
        cdef bint eof
        if not self.started:
            self.start()
        while True:
            buf, p, end, eof = self.buf, self.pos, self.end, self.eof
            if self.stop >= 0 and self.consumed - end + p >= self.stop:
                return END  # the next piece of the file starts here
            if p == end:
                if eof:
                    return END
                self.refill()
                continue
            if buf[p] == 10 or buf[p] == 13:
                return QUOTED  # a blank line: next_record() skips it
            q, k = p, 0
            while True:  # one value per turn; q ends at what follows it (or at end)
                if k == most:
                    return QUOTED
                if q < end and buf[q] == 34:
                    spans[k].p = buf + q + 1
                    q = value_end(buf, q + 1, end, True)
                    if q == end:
                        if eof:
                            return QUOTED  # a quote open at the end of the file
                        break
                    if buf[q] != 34:
                        return QUOTED  # a quoted line end
                    spans[k].n = buf + q - spans[k].p
                    q += 1  # the closing quote
                    if q < end and not ENDS_VALUE[buf[q]]:
                        return QUOTED  # "" inside, or text after the closing quote
                else:
                    spans[k].p = buf + q
                    q = value_end(buf, q, end, False)
                    if q < end and buf[q] == 34:
                        return QUOTED  # a quote inside an unquoted value
                    spans[k].n = buf + q - spans[k].p
                if spans[k].n > LIMIT:
                    return QUOTED  # may be over csv's limit, counted in characters
                k += 1
                if q == end or buf[q] != 44:
                    break
                q += 1
            if q == end and not eof or q + 1 == end and buf[q] == 13 and not eof:
                if q - p > LIMIT * MAX_UTF8:
                    return QUOTED  # next_record() reads it, or says it is too large
                self.refill()  # the record, or its CR LF, goes on in the next chunk
                continue
            count[0] = k
            self.take_line(q)
            return RECORD

    cdef void take_line(self, Py_ssize_t q) noexcept:
        """Take the one-line record that ends at buf[q] (its line end, or the end of the file)."""
        self.record_line = self.line
        if q < self.end:
            q += 2 if self.buf[q] == 13 and q + 1 < self.end and self.buf[q + 1] == 10 else 1
            self.line += 1
        self.pos = q

    cdef int start(self) except -1:
        """Skip a leading UTF-8 BOM, as the utf-8-sig codec does."""
        while self.end < 3 and not self.eof:
            self.refill()
        if (self.skip_bom and self.end >= 3
                and self.buf[0] == 0xEF and self.buf[1] == 0xBB and self.buf[2] == 0xBF):
            self.pos = 3
        self.started = True
        return 0

    cdef int refill(self) except -1:
        """Keep the unparsed bytes, read the next chunk after them; at the end set eof."""
        cdef Py_ssize_t n, cap
        cdef void* p
        if self.read is None:
            raise ValueError("rows: closed")
        if self.pos:
            memmove(self.buf, self.buf + self.pos, self.end - self.pos)
            self.end -= self.pos
            self.pos = 0
        if self.end + CHUNK > self.cap:
            cap = self.cap or CHUNK
            while cap < self.end + CHUNK:
                cap *= 2
            p = realloc(self.buf, cap)
            if p == NULL:
                raise MemoryError()
            self.buf = <uint8_t*>p
            # A quoted value unquoted is never longer than the bytes it came from.
            p = realloc(self.scratch, cap)
            if p == NULL:
                raise MemoryError()
            self.scratch = <uint8_t*>p
            self.cap = cap
        try:
            if self.read_into is not None:
                n = self.read_into(
                    PyMemoryView_FromMemory(<char*>self.buf + self.end, CHUNK, PyBUF_WRITE)
                ) or 0
            else:
                chunk = self.read(CHUNK)
                if type(chunk) is not bytes:
                    chunk = bytes(chunk)  # a raw stream's read1 may give a bytearray
                n = PyBytes_GET_SIZE(chunk)
                memcpy(self.buf + self.end, PyBytes_AS_STRING(chunk), n)
        except BaseException as exc:
            self.error = exc
            raise
        if n == 0:
            self.eof = True
            return 0
        self.end += n
        self.consumed += n
        return 0

    cdef int parse(self, bint skip_blank) except -1:
        """Parse the record at pos into values; NEED_MORE when the buffer ends inside it.

        Nothing is committed (pos, line) until the record is complete, except blank lines.
        """
        cdef const uint8_t* buf = self.buf
        cdef Py_ssize_t p = self.pos, end = self.end, q
        cdef Py_ssize_t lines = 0   # line ends inside the record (quoted) and the one after it
        cdef Py_ssize_t base = self.consumed - end  # the stream offset of buf[0]
        cdef bint eof = self.eof
        cdef uint8_t c, high
        cdef list values
        while True:  # blank lines
            if self.stop >= 0 and base + p >= self.stop:
                return END  # the next piece of the file starts here
            if p == end:
                return END if eof else NEED_MORE
            c = buf[p]
            if c != 10 and c != 13:
                break
            if c == 13 and p + 1 == end and not eof:
                return NEED_MORE  # is it CR LF?
            p += 2 if c == 13 and p + 1 < end and buf[p + 1] == 10 else 1
            self.line += 1
            self.pos = p
            if not skip_blank:
                self.record_line = self.line - 1
                self.values = []
                return RECORD
        values = []
        while True:  # one value per turn
            if p < end and buf[p] == 34:  # "
                if self.quoted(&p, &lines, values) == NEED_MORE:
                    return NEED_MORE
            else:
                q = p
                high = 0
                while q < end and not ENDS_VALUE[buf[q]]:
                    high |= buf[q]
                    q += 1
                if q == end and not eof:
                    if q - p > LIMIT * MAX_UTF8:
                        raise csv.Error(TOO_LARGE)
                    return NEED_MORE
                values.append(within_limit(decode(buf + p, q - p, high), q - p))
                p = q
            # p is at a comma, a line end or the end of the file
            if p == end:
                break  # the last line has no line end
            c = buf[p]
            p += 1
            if c == 44:  # ,
                continue
            if c == 13:
                if p == end and not eof:
                    return NEED_MORE  # is it CR LF?
                if p < end and buf[p] == 10:
                    p += 1
            lines += 1
            break
        self.record_line = self.line
        self.line += lines
        self.pos = p
        self.values = values
        return RECORD

    cdef int quoted(self, Py_ssize_t* at, Py_ssize_t* lines, list values) except -1:
        """Parse the quoted value at buf[at]; leave `at` at what follows it."""
        cdef const uint8_t* buf = self.buf
        cdef uint8_t* out = self.scratch
        cdef Py_ssize_t p = at[0] + 1, end = self.end, n = 0
        cdef Py_ssize_t closed = -1  # n at the closing quote, when text follows it
        cdef bint eof = self.eof
        cdef uint8_t c, high = 0
        cdef str value
        while True:
            if p == end:
                if eof:
                    break  # a quote open at the end of the file: the value ends there
                if n > LIMIT * MAX_UTF8:
                    raise csv.Error(TOO_LARGE)
                return NEED_MORE
            c = buf[p]
            if c == 34:
                if p + 1 == end and not eof:
                    return NEED_MORE  # a closing quote or the first of ""?
                if p + 1 < end and buf[p + 1] == 34:
                    out[n] = 34
                    n += 1
                    p += 2
                    continue
                p += 1
                # Text after the closing quote is part of the value, quotes and all.
                if p < end and not ENDS_VALUE[buf[p]]:
                    closed = n
                while p < end and not ENDS_VALUE[buf[p]]:
                    out[n] = buf[p]
                    high |= buf[p]
                    n += 1
                    p += 1
                if p == end and not eof:
                    if n > LIMIT * MAX_UTF8:
                        raise csv.Error(TOO_LARGE)
                    return NEED_MORE
                break
            if c == 10:
                lines[0] += 1
            elif c == 13:
                if p + 1 == end and not eof:
                    return NEED_MORE  # is it CR LF?
                if p + 1 == end or buf[p + 1] != 10:
                    lines[0] += 1  # a lone CR ends a line; CR LF is counted at its LF
            out[n] = c
            high |= c
            n += 1
            p += 1
        if closed < 0 or high < 0x80:
            value = decode(out, n, high)
        else:
            # Decoded apart: in the file the closing quote stands between these bytes, and bad
            # UTF-8 must not pair up across it (b'"\xc3"\xa9' is "\udcc3\udca9", not "é").
            value = decode(out, closed, high) + decode(out + closed, n - closed, high)
        values.append(within_limit(value, n))
        at[0] = p
        return RECORD


cdef list plain_values(const uint8_t* text, Py_ssize_t n):
    """The values of a record next_plain() read, as parse gives them."""
    cdef list values = []
    cdef Py_ssize_t p = 0, q
    cdef uint8_t high
    while True:
        q, high = p, 0
        while q < n and text[q] != 44:
            high |= text[q]
            q += 1
        values.append(decode(text + p, q - p, high))
        if q == n:
            return values
        p = q + 1


cdef inline uint32_t card_head(const uint8_t* code) noexcept:
    """A card code's group, level and province as one number: lookup/reference/csvrows.py."""
    return ((((code[0] - 65) * 26 + (code[1] - 65)) * 5 + (code[2] - 49)) * 10
            + (code[3] - 48)) * 10 + (code[4] - 48)


cdef const uint8_t* card_key(const uint8_t* code, uint8_t* out) noexcept:
    """Write the card code (validated: ^[A-Z]{2}[1-5][0-9]{12}$) as the 8-byte key the cards
    sorter orders it by, and return out: see lookup/reference/csvrows.py card_key."""
    cdef uint64_t v = 0
    cdef int i
    for i in range(5, CARD_LEN):
        v = v * 10 + (code[i] - 48)
    be_store(v << HEAD_BITS | card_head(code), out, KEY_LEN)
    return out


def feed_build(Rows rows not None, RowValidator validator not None,
               ExternalSorter people not None, ExternalSorter bhxh not None,
               ExternalSorter cards not None, ExternalSorter renumbered not None, strings,
               int origin, reject, tick):
    """Validate every row and add the valid ones to the build's sorters (lookup/build.py).

    See lookup/reference/csvrows.py feed_build: the same sorter entries in the same order, the
    same reject and tick calls, the same result.
    """
    cdef list values
    cdef Span* spans = validator.spans  # one per column
    cdef Py_ssize_t most = len(validator.columns), found = 0
    cdef Checked row            # ~2 KB: the record is built in place
    cdef uint8_t person[1 + RECORD_MAX]  # origin, then the record as version 2
    cdef Interner texts = Interner(strings)
    cdef Py_ssize_t person_len
    # cccd key, line (4 bytes little-endian), origin, then the card's head or the bhxh key
    cdef uint8_t tagged[KEY_LEN + TAG_LEN + KEY_LEN]
    cdef uint8_t* tag = tagged + KEY_LEN
    cdef uint8_t packed[KEY_LEN]  # a card code as the cards sorter's key
    cdef Py_ssize_t count = 0, invalid = 0, record_bytes = 0, line
    cdef Py_ssize_t quality[QUALITY_COUNT]
    cdef int i, status
    if validator.delta:
        raise ValueError("feed_build: takes an extract's validator, not a delta's")
    if not 0 <= origin <= 255:
        raise ValueError(f"feed_build: origin {origin}; 0-255")
    person[0] = tag[4] = origin
    texts.use_table()
    for i in range(QUALITY_COUNT):
        quality[i] = 0
    while True:
        # Most records are validated where they lie in the read buffer; the others (escaped
        # quotes, quoted line ends, a wrong number of values) as the strs next_record() makes.
        values = None
        status = rows.next_spans(spans, most, &found)
        if status == END:
            break
        if status == QUOTED:
            values = rows.next_record(True)
            if values is None:
                break
        count += 1
        if count % PROGRESS_EVERY == 0:
            tick(count)
        line = rows.record_line
        try:
            if values is None:
                validator.check_spans(spans, found, &row)
            else:
                validator.check(values, &row)
        except RowError as exc:
            invalid += 1
            reject(line, exc.field, exc.message)
            continue
        if line > 0xFFFFFFFF:
            raise OverflowError("int too big to convert")  # as line.to_bytes(4, "little")
        memcpy(tagged, row.cccd_key, KEY_LEN)
        for i in range(4):
            tag[i] = (line >> (8 * i)) & 0xFF
        person_len = 1 + compact_record(row.record, row.record_len, person + 1, texts, True)
        people.add_entry(row.cccd_key, KEY_LEN, person, person_len)
        be_store(card_head(row.card_no), tag + TAG_LEN, HEAD_LEN)
        bhxh.add_entry(row.bhxh_key, KEY_LEN, tagged, KEY_LEN + TAG_LEN + HEAD_LEN)
        if row.has_prev:
            memcpy(tag + TAG_LEN, row.bhxh_key, KEY_LEN)
            cards.add_entry(card_key(row.prev_card_no, packed), KEY_LEN, tagged,
                            KEY_LEN + TAG_LEN + KEY_LEN)
            if memcmp(row.prev_card_no + 5, row.card_no + 5, CARD_LEN - 5) != 0:
                renumbered.add_entry(row.prev_card_no, CARD_LEN, tagged, KEY_LEN + TAG_LEN)
        record_bytes += person_len - 1
        for i in range(QUALITY_COUNT):
            if row.quality & (1 << i):
                quality[i] += 1
    return count, invalid, record_bytes, tuple([quality[i] for i in range(QUALITY_COUNT)])


def count_line_ends(const uint8_t[::1] data not None):
    """The line ends in data as Rows counts them: \\n, \\r\\n and a lone \\r (a \\r at the end too).

    See lookup/reference/csvrows.py; here loops the compiler vectorises, over a memory map of
    the file: a reconciliation worker counts the lines before its range first, and a build
    worker when a message names a line (lookup/ingest/parallel.py line_at).
    """
    cdef Py_ssize_t i, n = data.shape[0], lf = 0, cr = 0, crlf = 0
    cdef const uint8_t* p
    if n == 0:
        return 0
    p = &data[0]
    with nogil:
        for i in range(n):
            lf += p[i] == 10
            cr += p[i] == 13
        if cr:
            for i in range(n - 1):
                crlf += p[i] == 13 and p[i + 1] == 10
    return lf + cr - crlf
