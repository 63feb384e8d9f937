# The C side of core/csvrows.pyx, for units that read an extract's records without a Python
# object per record (core/reader.pyx reconcile). The Python API is in csvrows.pyi.
cimport cython
from libc.stdint cimport uint8_t

from core.validate cimport Span


cdef enum:                          # what reading one record found
    RECORD, END, NEED_MORE, QUOTED


@cython.final
cdef class Rows:
    cdef object read                # the stream's read1 (one read of the file per call) or read
    cdef object read_into           # its readinto1, if it has one: used rather than read
    cdef uint8_t* buf               # buf[pos:end] is read and not yet parsed
    cdef Py_ssize_t cap, pos, end
    cdef uint8_t* scratch           # a quoted value without its quotes; as big as buf
    cdef bint eof, started, skip_bom
    cdef readonly Py_ssize_t line   # where the record being read (or the next one) starts
    cdef readonly object error      # the stream's exception that stopped reading, if any
    cdef Py_ssize_t record_line     # where the last record returned starts
    cdef list values                # the last record parsed
    cdef Py_ssize_t consumed        # bytes read from the stream; buf[end] is byte `consumed`
    cdef Py_ssize_t stop            # stop_at()'s offset, -1 for none

    cdef list next_record(self, bint skip_blank)
    cdef int next_plain(self, const uint8_t** text, Py_ssize_t* n) except -1
    cdef int next_spans(self, Span* spans, Py_ssize_t most, Py_ssize_t* count) except -1
    cdef void take_line(self, Py_ssize_t q) noexcept
    cdef int start(self) except -1
    cdef int refill(self) except -1
    cdef int parse(self, bint skip_blank) except -1
    cdef int quoted(self, Py_ssize_t* at, Py_ssize_t* lines, list values) except -1


cdef list plain_values(const uint8_t* text, Py_ssize_t n)
