# A small JSON writer for the read path (docs/DESIGN.md 6). Header-only: every function is inline.
#
# The buffer starts in a block inside the struct, so a writer declared as a local variable holds
# a whole single answer on the stack; longer output (answer_many) moves to the heap. Appending
# never raises: when memory runs out the writer marks itself failed and ignores further writes,
# and jw_bytes() raises MemoryError. That keeps the appends plain C that the compiler inlines
# (a literal's strlen and memcpy fold into a few moves), with no error check per call.
#
# Strings are escaped exactly as orjson escapes them, since the reference encodes with orjson and
# both must give the same bytes: `"` and `\` escaped, \b \t \n \f \r short, other controls as
# \u00xx with lower-case hex, everything else (DEL, non-ASCII) written as UTF-8.
#
# Usage: `cdef JsonWriter w; jw_init(&w); try: ... return jw_bytes(&w) finally: jw_free(&w)`.
# A caller that writes large outputs often (answer_many) can keep the heap buffer between calls:
# jw_adopt() starts on it, jw_detach() takes it back, so the next output reuses warm memory.

from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.mem cimport PyMem_Free
from cpython.unicode cimport PyUnicode_DATA, PyUnicode_GET_LENGTH, PyUnicode_KIND, PyUnicode_READ
from libc.stdint cimport uint8_t, uint64_t
from libc.string cimport memcpy, strlen

cdef extern from *:
    """
    #ifndef LOOKUP_JSONW_H
    #define LOOKUP_JSONW_H
    #include <string.h>

    #define JW_STACK_SIZE 2048  /* a single answer is under 1 KB */

    typedef struct {
        char *buf;              /* `stack`, or a PyMem heap block the writer owns */
        Py_ssize_t len;
        Py_ssize_t cap;
        int failed;             /* memory ran out; the output is incomplete */
        char stack[JW_STACK_SIZE];
    } JsonWriter;

    /* Growing is rare and kept out of line on purpose, in C because Cython cannot say so:
       every append then inlines into its caller as a "room left?" test and a memcpy whose
       length the compiler knows, instead of a call. */
    #if defined(__GNUC__) || defined(__clang__)
    __attribute__((noinline, cold, unused))
    #endif
    static int jw_grow(JsonWriter *w, Py_ssize_t extra) {
        Py_ssize_t cap = w->cap * 2;
        char *buf;
        if (w->failed)
            return 0;
        if (cap < w->len + extra)
            cap = w->len + extra;
        if (w->buf == w->stack) {
            buf = (char *)PyMem_Malloc((size_t)cap);
            if (buf != NULL)
                memcpy(buf, w->stack, (size_t)w->len);
        } else {
            buf = (char *)PyMem_Realloc(w->buf, (size_t)cap);
        }
        if (buf == NULL) {
            w->failed = 1;
            return 0;
        }
        w->buf = buf;
        w->cap = cap;
        return 1;
    }

    /* The appends themselves, forced inline: left to itself gcc stops inlining in a unit as
       large as reader.c (its inline-unit-growth budget runs out) and calls jw_raw, with a libc
       memcpy, for each of the ~40 pieces an answer is made of. */
    #if defined(__GNUC__) || defined(__clang__)
    #define JW_INLINE static inline __attribute__((always_inline, unused))
    #else
    #define JW_INLINE static inline
    #endif

    /* Make room for `extra` more bytes; 0 when there is none (the writer has failed). */
    JW_INLINE int jw_reserve(JsonWriter *w, Py_ssize_t extra) {
        return extra <= w->cap - w->len || jw_grow(w, extra);
    }

    /* Append bytes that are already JSON. */
    JW_INLINE void jw_raw(JsonWriter *w, const char *s, Py_ssize_t n) {
        if (jw_reserve(w, n)) {
            memcpy(w->buf + w->len, s, (size_t)n);
            w->len += n;
        }
    }

    /* Append a NUL-terminated literal that is already JSON (its length folds to a constant). */
    JW_INLINE void jw_lit(JsonWriter *w, const char *s) {
        jw_raw(w, s, (Py_ssize_t)strlen(s));
    }
    #endif
    """
    enum:
        JW_STACK_SIZE
    ctypedef struct JsonWriter:
        char* buf
        Py_ssize_t len
        Py_ssize_t cap
        bint failed
        char stack[JW_STACK_SIZE]
    bint jw_grow(JsonWriter* w, Py_ssize_t extra) noexcept
    bint jw_reserve(JsonWriter* w, Py_ssize_t extra) noexcept
    void jw_raw(JsonWriter* w, const char* s, Py_ssize_t n) noexcept
    void jw_lit(JsonWriter* w, const char* s) noexcept


cdef inline void jw_init(JsonWriter* w) noexcept:
    w.buf = w.stack
    w.len = 0
    w.cap = JW_STACK_SIZE
    w.failed = False


cdef inline void jw_adopt(JsonWriter* w, char* heap, Py_ssize_t cap) noexcept:
    """Start on a PyMem block (NULL: on the stack); the writer owns it from now on."""
    jw_init(w)
    if heap != NULL and cap > JW_STACK_SIZE:
        w.buf = heap
        w.cap = cap
    elif heap != NULL:
        PyMem_Free(heap)


cdef inline char* jw_detach(JsonWriter* w, Py_ssize_t* cap) noexcept:
    """Take back the heap block (NULL when the output stayed on the stack); reset the writer."""
    cdef char* heap = NULL
    if w.buf != w.stack:
        heap = w.buf
        cap[0] = w.cap
    jw_init(w)
    return heap


cdef inline void jw_free(JsonWriter* w) noexcept:
    if w.buf != w.stack:
        PyMem_Free(w.buf)
    jw_init(w)


cdef inline void jw_int(JsonWriter* w, long long value) noexcept:
    cdef char digits[24]
    cdef int n = 0
    cdef unsigned long long v = <unsigned long long>(-value if value < 0 else value)
    if not jw_reserve(w, 21):
        return
    if value < 0:
        w.buf[w.len] = c'-'
        w.len += 1
    while True:
        digits[n] = <char>(48 + v % 10)
        n += 1
        v //= 10
        if v == 0:
            break
    while n > 0:
        n -= 1
        w.buf[w.len] = digits[n]
        w.len += 1


cdef inline char* _jw_put_ascii(char* out, unsigned int c) noexcept:
    """Write one character below 0x80, escaped as needed (room for 6 bytes); return the end."""
    cdef const char* hex_digits = b"0123456789abcdef"
    if c >= 0x20 and c != 0x22 and c != 0x5C:
        out[0] = <char>c
        return out + 1
    out[0] = c'\\'
    if c == 0x22 or c == 0x5C:
        out[1] = <char>c
    elif c == 0x08:
        out[1] = c'b'
    elif c == 0x09:
        out[1] = c't'
    elif c == 0x0A:
        out[1] = c'n'
    elif c == 0x0C:
        out[1] = c'f'
    elif c == 0x0D:
        out[1] = c'r'
    else:
        out[1] = c'u'
        out[2] = c'0'
        out[3] = c'0'
        out[4] = hex_digits[c >> 4]
        out[5] = hex_digits[c & 15]
        return out + 6
    return out + 2


cdef inline char* _jw_put_utf8(char* out, unsigned int c) noexcept:
    """Write one code point of U+0080 or above as UTF-8 (room for 4 bytes); return the end."""
    if c < 0x800:
        out[0] = <char>(0xC0 | (c >> 6))
        out[1] = <char>(0x80 | (c & 0x3F))
        return out + 2
    if c < 0x10000:
        out[0] = <char>(0xE0 | (c >> 12))
        out[1] = <char>(0x80 | ((c >> 6) & 0x3F))
        out[2] = <char>(0x80 | (c & 0x3F))
        return out + 3
    out[0] = <char>(0xF0 | (c >> 18))
    out[1] = <char>(0x80 | ((c >> 12) & 0x3F))
    out[2] = <char>(0x80 | ((c >> 6) & 0x3F))
    out[3] = <char>(0x80 | (c & 0x3F))
    return out + 4


# The loops below write through a local pointer and store the length once: a store through a
# char* could alias w.len, so writing w.buf[w.len] would reload and store w.len per byte.

cdef inline bint _jw_plain8(uint64_t x) noexcept:
    """Whether none of 8 bytes needs escaping (a control character, `"` or `\\`): the
    has-less-than and has-zero-byte tests of "Bit Twiddling Hacks", exact for any bytes."""
    cdef uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL
    cdef uint64_t quote = x ^ (ones * 0x22), backslash = x ^ (ones * 0x5C)
    return ((x - ones * 0x20) & ~x
            | (quote - ones) & ~quote
            | (backslash - ones) & ~backslash) & highs == 0


cdef inline char* _jw_utf8_body(char* out, const char* s, Py_ssize_t n) noexcept:
    """Write UTF-8 bytes (already known to be valid UTF-8) escaped for a JSON string.

    Bytes of 0x80 and above pass through as they are, so names with tone marks copy 8 bytes
    at a time like plain ASCII does; only a word holding a byte to escape goes byte by byte.
    """
    cdef Py_ssize_t i = 0, stop
    cdef uint8_t c
    cdef uint64_t word
    while i < n:
        stop = n
        if i + 8 <= n:
            memcpy(&word, s + i, 8)
            if _jw_plain8(word):
                memcpy(out, &word, 8)
                out += 8
                i += 8
                continue
            stop = i + 8
        while i < stop:
            c = <uint8_t>s[i]
            if c >= 0x80 or (c >= 0x20 and c != 0x22 and c != 0x5C):
                out[0] = <char>c
                out += 1
            else:
                out = _jw_put_ascii(out, c)
            i += 1
    return out


cdef inline void jw_utf8_string(JsonWriter* w, const char* s, Py_ssize_t n) noexcept:
    """Append a quoted JSON string from UTF-8 bytes (already known to be valid UTF-8)."""
    cdef char* out
    if not jw_reserve(w, 6 * n + 2):
        return
    out = w.buf + w.len
    out[0] = c'"'
    out = _jw_utf8_body(out + 1, s, n)
    out[0] = c'"'
    w.len = out + 1 - w.buf


cdef inline void jw_utf8_joined(JsonWriter* w, const char* a, Py_ssize_t an, const char* b,
                                Py_ssize_t bn) noexcept:
    """Append one quoted JSON string of a, ", " and b (valid UTF-8 both)."""
    cdef char* out
    if not jw_reserve(w, 6 * (an + bn) + 4):
        return
    out = w.buf + w.len
    out[0] = c'"'
    out = _jw_utf8_body(out + 1, a, an)
    out[0], out[1] = c',', c' '
    out = _jw_utf8_body(out + 2, b, bn)
    out[0] = c'"'
    w.len = out + 1 - w.buf


cdef inline void jw_ascii_string(JsonWriter* w, const char* s, Py_ssize_t n) noexcept:
    """Append a quoted string of ASCII letters and digits (codes, ids): nothing to escape."""
    cdef char* out
    if jw_reserve(w, n + 2):
        out = w.buf + w.len
        out[0] = c'"'
        memcpy(out + 1, s, n)
        out[n + 1] = c'"'
        w.len += n + 2


cdef inline void jw_unicode_string(JsonWriter* w, str s) noexcept:
    """Append a quoted JSON string from a Python str, lone surrogates replaced by U+FFFD.

    `s` must be a ready str (every str made since Python 3.3 APIs is).
    """
    cdef Py_ssize_t i, n = PyUnicode_GET_LENGTH(s)
    cdef int kind = PyUnicode_KIND(s)
    cdef void* data = PyUnicode_DATA(s)
    cdef unsigned int c
    cdef char* out
    # At most 6 bytes per code point (an escaped control character); UTF-8 needs at most 4.
    if not jw_reserve(w, 6 * n + 2):
        return
    out = w.buf + w.len
    out[0] = c'"'
    out += 1
    for i in range(n):
        c = PyUnicode_READ(kind, data, i)
        if 0x20 <= c < 0x80 and c != 0x22 and c != 0x5C:
            out[0] = <char>c            # the common case: printable ASCII needs no escape
            out += 1
        elif c < 0x80:
            out = _jw_put_ascii(out, c)
        elif 0xD800 <= c <= 0xDFFF:
            out = _jw_put_utf8(out, 0xFFFD)    # DESIGN 6: "lone surrogates replaced by U+FFFD"
        else:
            out = _jw_put_utf8(out, c)
    out[0] = c'"'
    w.len = out + 1 - w.buf


cdef inline bytes jw_bytes(JsonWriter* w):
    """Copy the output into a new bytes object; MemoryError if the writer ran out of memory."""
    if w.failed:
        raise MemoryError()
    return PyBytes_FromStringAndSize(w.buf, w.len)
