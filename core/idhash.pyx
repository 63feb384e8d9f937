"""Keyed hashes of looked-up ids for the audit log (lookup/audit.py): the compiled twin of
lookup/reference/idhash.py, giving the same hex digits and the same JSON bytes.

    hash_id(id) == blake2b(fold(id).encode("utf-8", "surrogatepass"),
                           key=key, digest_size=16).hexdigest()

where fold deletes ' ', '\\t', '\\r', '\\n' and upper-cases ASCII a-z only (DESIGN 2 step 1, the
`_ID_FOLD` table of lookup/audit.py).

BLAKE2b is written here from RFC 7693, in C so gcc unrolls and schedules it: no library. In
keyed mode the key, zero-padded to 128 bytes, is the first block, so the state after it depends
on the key alone: it is computed once per IdHasher and every id then costs one compression
(ids are short; a folded id over 128 bytes takes more blocks, of any number). When the folded
id is empty the key block is itself the last block, so that digest is precomputed too.

The str is folded and encoded to UTF-8 in the same pass that fills the message block, read
through PyUnicode_KIND/DATA with one loop per kind (what PyUnicode_READ does, its switch taken
once per id, not per character). Lone surrogates U+D800-U+DFFF become 3-byte sequences as
Python's "surrogatepass" makes them.

hash_ids_json writes the JSON array straight into the bytes it returns. One compression is a
chain of dependent operations that leaves most of a core idle, so when the CPU has AVX2 (checked
at import) a batch's ids are hashed four at a time, one per 64-bit lane: about twice as fast per
id again. Ids that fold to nothing or to more than a block are hashed alone, in the same pass.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.object cimport PyObject
from cpython.sequence cimport PySequence_Fast_GET_SIZE, PySequence_Fast_ITEMS
from cpython.unicode cimport PyUnicode_Check, PyUnicode_DATA, PyUnicode_GET_LENGTH, PyUnicode_KIND
from libc.stdint cimport uint8_t, uint64_t

__all__ = ("IdHasher",)

cdef extern from "Python.h":
    # Python 3.11 may still hold a str in its legacy form; 3.12+ makes this a no-op.
    int PyUnicode_READY(object text) except -1
    str PyUnicode_FromKindAndData(int kind, const void* buffer, Py_ssize_t size)
    enum:
        PyUnicode_1BYTE_KIND
    const Py_ssize_t PY_SSIZE_T_MAX

cdef extern from *:
    """
    #ifndef LOOKUP_IDHASH_H
    #define LOOKUP_IDHASH_H
    #include <stdint.h>
    #include <string.h>

    /* ---- BLAKE2b (RFC 7693) --------------------------------------------------------------- */

    #define IDH_DIGEST 16          /* digest length nn, bytes */
    #define IDH_BLOCK 128          /* block length, bytes */
    #define IDH_MAX_KEY 64         /* key length kk, bytes */

    static const uint64_t idh_iv[8] = {          /* RFC 7693 2.6: as SHA-512's */
        0x6A09E667F3BCC908ULL, 0xBB67AE8584CAA73BULL, 0x3C6EF372FE94F82BULL,
        0xA54FF53A5F1D36F1ULL, 0x510E527FADE682D1ULL, 0x9B05688C2B3E6C1FULL,
        0x1F83D9ABFB41BD6BULL, 0x5BE0CD19137E2179ULL,
    };

    static inline uint64_t idh_load64(const uint8_t *p) {   /* little-endian */
        uint64_t v;
        memcpy(&v, p, 8);
    #if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        v = __builtin_bswap64(v);
    #endif
        return v;
    }

    #define IDH_ROTR(x, n) (((x) >> (n)) | ((x) << (64 - (n))))

    /* RFC 7693 3.1, the mixing function G. */
    #define IDH_G(a, b, c, d, x, y)                   \\
        do {                                          \\
            v[a] = v[a] + v[b] + (x);                 \\
            v[d] = IDH_ROTR(v[d] ^ v[a], 32);         \\
            v[c] = v[c] + v[d];                       \\
            v[b] = IDH_ROTR(v[b] ^ v[c], 24);         \\
            v[a] = v[a] + v[b] + (y);                 \\
            v[d] = IDH_ROTR(v[d] ^ v[a], 16);         \\
            v[c] = v[c] + v[d];                       \\
            v[b] = IDH_ROTR(v[b] ^ v[c], 63);         \\
        } while (0)

    /* One round, with G the quarter-round (IDH_G on words, IDH_X_G on four ids' vectors) and
       the message permutation SIGMA[r mod 10] (RFC 7693 2.7), written out so every message
       word index is a constant and v[] lives in registers. */
    #define IDH_ROUND(G, s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14, s15) \\
        do {                                                                         \\
            G(0, 4,  8, 12, m[s0],  m[s1]);                                          \\
            G(1, 5,  9, 13, m[s2],  m[s3]);                                          \\
            G(2, 6, 10, 14, m[s4],  m[s5]);                                          \\
            G(3, 7, 11, 15, m[s6],  m[s7]);                                          \\
            G(0, 5, 10, 15, m[s8],  m[s9]);                                          \\
            G(1, 6, 11, 12, m[s10], m[s11]);                                         \\
            G(2, 7,  8, 13, m[s12], m[s13]);                                         \\
            G(3, 4,  9, 14, m[s14], m[s15]);                                         \\
        } while (0)

    /* BLAKE2b's twelve rounds. */
    #define IDH_ROUNDS(G)                                                            \\
        do {                                                                         \\
            IDH_ROUND(G,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15);  \\
            IDH_ROUND(G, 14, 10,  4,  8,  9, 15, 13,  6,  1, 12,  0,  2, 11,  7,  5,  3);  \\
            IDH_ROUND(G, 11,  8, 12,  0,  5,  2, 15, 13, 10, 14,  3,  6,  7,  1,  9,  4);  \\
            IDH_ROUND(G,  7,  9,  3,  1, 13, 12, 11, 14,  2,  6,  5, 10,  4,  0, 15,  8);  \\
            IDH_ROUND(G,  9,  0,  5,  7,  2,  4, 10, 15, 14,  1, 11, 12,  6,  8,  3, 13);  \\
            IDH_ROUND(G,  2, 12,  6, 10,  0, 11,  8,  3,  4, 13,  7,  5, 15, 14,  1,  9);  \\
            IDH_ROUND(G, 12,  5,  1, 15, 14, 13,  4, 10,  0,  7,  6,  3,  9,  2,  8, 11);  \\
            IDH_ROUND(G, 13, 11,  7, 14, 12,  1,  3,  9,  5,  0, 15,  4,  8,  6,  2, 10);  \\
            IDH_ROUND(G,  6, 15, 14,  9, 11,  3,  0,  8, 12,  2, 13,  7,  1,  4, 10,  5);  \\
            IDH_ROUND(G, 10,  2,  8,  4,  7,  6,  1,  5, 15, 11,  9, 14,  3, 12, 13,  0);  \\
            IDH_ROUND(G,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15);  \\
            IDH_ROUND(G, 14, 10,  4,  8,  9, 15, 13,  6,  1, 12,  0,  2, 11,  7,  5,  3);  \\
        } while (0)

    /* RFC 7693 3.2, the compression function F: h is updated with one 128-byte block; t is the
       byte count so far including this block (its high 64 bits are always 0 here: no str
       is 2**64 bytes long); last marks the final block. */
    static void idh_compress(uint64_t h[8], const uint8_t block[IDH_BLOCK], uint64_t t, int last) {
        uint64_t v[16], m[16];
        int i;
        for (i = 0; i < 16; i++)
            m[i] = idh_load64(block + 8 * i);
        for (i = 0; i < 8; i++) {
            v[i] = h[i];
            v[i + 8] = idh_iv[i];
        }
        v[12] ^= t;                  /* low word of the offset counter; the high word is 0 */
        if (last)
            v[14] = ~v[14];
        IDH_ROUNDS(IDH_G);
        for (i = 0; i < 8; i++)
            h[i] ^= v[i] ^ v[i + 8];
    }

    /* The state after the key block (RFC 7693 3.3, parameter block of digest length 16 and key
       length kk): `after_key` to continue with a message, `empty` the final state when the
       message is empty (then the key block is the last block). */
    static void idh_key_states(const uint8_t *key, size_t kk, uint64_t after_key[8],
                               uint64_t empty[8]) {
        uint8_t block[IDH_BLOCK];
        int i;
        for (i = 0; i < 8; i++)
            after_key[i] = idh_iv[i];
        after_key[0] ^= 0x01010000ULL ^ ((uint64_t)kk << 8) ^ IDH_DIGEST;
        memset(block, 0, sizeof block);
        memcpy(block, key, kk);
        memcpy(empty, after_key, 8 * sizeof(uint64_t));
        idh_compress(after_key, block, IDH_BLOCK, 0);
        idh_compress(empty, block, IDH_BLOCK, 1);
    }

    /* ---- folding, UTF-8 and the message blocks -------------------------------------------- */

    /* Append one folded code point c as UTF-8 (surrogates too: "surrogatepass") at buf + pos,
       which has room for 4 more bytes; return the new pos. ' ', \\t, \\r, \\n are dropped. */
    static inline size_t idh_put(uint8_t *buf, size_t pos, uint32_t c) {
        if (c < 0x80) {
            if (c == ' ' || c == '\\t' || c == '\\r' || c == '\\n')
                return pos;
            if (c - 'a' < 26u)
                c -= 32;
            buf[pos] = (uint8_t)c;
            return pos + 1;
        }
        if (c < 0x800) {
            buf[pos] = (uint8_t)(0xC0 | (c >> 6));
            buf[pos + 1] = (uint8_t)(0x80 | (c & 0x3F));
            return pos + 2;
        }
        if (c < 0x10000) {
            buf[pos] = (uint8_t)(0xE0 | (c >> 12));
            buf[pos + 1] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
            buf[pos + 2] = (uint8_t)(0x80 | (c & 0x3F));
            return pos + 3;
        }
        buf[pos] = (uint8_t)(0xF0 | (c >> 18));
        buf[pos + 1] = (uint8_t)(0x80 | ((c >> 12) & 0x3F));
        buf[pos + 2] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
        buf[pos + 3] = (uint8_t)(0x80 | (c & 0x3F));
        return pos + 4;
    }

    /* The folded id as one zero-padded message block (buf: IDH_BLOCK + 4 bytes); return its
       length in bytes, or -1 when it is longer than a block (nothing is compressed). */
    #define IDH_FOLD_BLOCK(TYPE)                                                        \\
        do {                                                                            \\
            const TYPE *s = (const TYPE *)data;                                         \\
            for (i = 0; i < n; i++) {                                                   \\
                pos = idh_put(buf, pos, s[i]);                                          \\
                if (pos > IDH_BLOCK)                                                    \\
                    return -1;                                                          \\
            }                                                                           \\
        } while (0)

    static inline int idh_fold_block(int kind, const void *data, Py_ssize_t n, uint8_t *buf) {
        size_t pos = 0;
        Py_ssize_t i;
        if (kind == PyUnicode_1BYTE_KIND)
            IDH_FOLD_BLOCK(uint8_t);
        else if (kind == PyUnicode_2BYTE_KIND)
            IDH_FOLD_BLOCK(uint16_t);
        else
            IDH_FOLD_BLOCK(uint32_t);
        memset(buf + pos, 0, IDH_BLOCK - pos);
        return (int)pos;
    }

    /* Any length, streamed: a block is compressed as not last only once a byte beyond it
       exists, so the block holding the message's last byte, full or not, is the one marked
       last. buf holds the block being filled plus up to 3 bytes of a character that ran
       over its end. */
    #define IDH_FEED(TYPE)                                                              \\
        do {                                                                            \\
            const TYPE *s = (const TYPE *)data;                                         \\
            for (i = 0; i < n; i++) {                                                   \\
                pos = idh_put(buf, pos, s[i]);                                          \\
                if (pos > IDH_BLOCK) {                                                  \\
                    t += IDH_BLOCK;                                                     \\
                    idh_compress(h, buf, t, 0);                                         \\
                    pos -= IDH_BLOCK;                                                   \\
                    memcpy(buf, buf + IDH_BLOCK, pos);                                  \\
                }                                                                       \\
            }                                                                           \\
        } while (0)

    static void idh_hash_long(const uint64_t after_key[8], int kind, const void *data,
                              Py_ssize_t n, uint64_t out[2]) {
        uint64_t h[8];
        uint64_t t = IDH_BLOCK;               /* the key block is counted */
        uint8_t buf[IDH_BLOCK + 4];
        size_t pos = 0;
        Py_ssize_t i;
        memcpy(h, after_key, sizeof h);
        if (kind == PyUnicode_1BYTE_KIND)
            IDH_FEED(uint8_t);
        else if (kind == PyUnicode_2BYTE_KIND)
            IDH_FEED(uint16_t);
        else
            IDH_FEED(uint32_t);
        memset(buf + pos, 0, IDH_BLOCK - pos);   /* pos >= 1: the id is over a block long */
        idh_compress(h, buf, t + pos, 1);
        out[0] = h[0];
        out[1] = h[1];
    }

    /* The 16-byte digest (h[0], h[1]) of the folded id held by a ready str's contents. */
    static void idh_hash(const uint64_t after_key[8], const uint64_t empty[8], int kind,
                         const void *data, Py_ssize_t n, uint64_t out[2]) {
        uint8_t buf[IDH_BLOCK + 4];
        uint64_t h[8];
        int len = idh_fold_block(kind, data, n, buf);
        if (len < 0) {
            idh_hash_long(after_key, kind, data, n, out);
            return;
        }
        if (len == 0) {                       /* nothing kept: the key block was the last */
            out[0] = empty[0];
            out[1] = empty[1];
            return;
        }
        memcpy(h, after_key, sizeof h);
        idh_compress(h, buf, IDH_BLOCK + (uint64_t)len, 1);
        out[0] = h[0];
        out[1] = h[1];
    }

    /* The digest as 32 lower-case hex digits: its bytes are h[0], h[1] little-endian. */
    static char idh_hex_pairs[256][2];

    static inline void idh_hex(const uint64_t d[2], char *out) {
        int i, j;
        for (i = 0; i < 2; i++)
            for (j = 0; j < 8; j++)
                memcpy(out + 16 * i + 2 * j, idh_hex_pairs[(d[i] >> (8 * j)) & 0xFF], 2);
    }

    /* ---- four ids at once (AVX2) ---------------------------------------------------------- */

    /* One compression is a chain of dependent additions, xors and rotations that leaves most
       of a core idle; a batch has many independent ids, so with AVX2 each 256-bit register
       holds one state word of four ids and the four compressions run side by side: the
       same rounds as idh_compress, on vectors. Chosen at import when the CPU has AVX2. */
    static int idh_lanes = 1;

    #if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    #define IDH_HAVE_X4 1
    #include <immintrin.h>

    #define IDH_X_ROT32(x) _mm256_shuffle_epi32((x), _MM_SHUFFLE(2, 3, 0, 1))
    #define IDH_X_ROT24(x) _mm256_shuffle_epi8((x), rot24)
    #define IDH_X_ROT16(x) _mm256_shuffle_epi8((x), rot16)
    #define IDH_X_ROT63(x) _mm256_or_si256(_mm256_srli_epi64((x), 63), _mm256_add_epi64((x), (x)))

    #define IDH_X_G(a, b, c, d, x, y)                                                   \\
        do {                                                                            \\
            v[a] = _mm256_add_epi64(_mm256_add_epi64(v[a], v[b]), (x));                 \\
            v[d] = IDH_X_ROT32(_mm256_xor_si256(v[d], v[a]));                           \\
            v[c] = _mm256_add_epi64(v[c], v[d]);                                        \\
            v[b] = IDH_X_ROT24(_mm256_xor_si256(v[b], v[c]));                           \\
            v[a] = _mm256_add_epi64(_mm256_add_epi64(v[a], v[b]), (y));                 \\
            v[d] = IDH_X_ROT16(_mm256_xor_si256(v[d], v[a]));                           \\
            v[c] = _mm256_add_epi64(v[c], v[d]);                                        \\
            v[b] = IDH_X_ROT63(_mm256_xor_si256(v[b], v[c]));                           \\
        } while (0)


    /* The last (and only) message block of four ids after the same key block: lane k is
       block[k], of len[k] bytes (1..128); out[k] gets its digest. */
    __attribute__((target("avx2")))
    static void idh_compress_x4(const uint64_t h[8], uint8_t block[4][IDH_BLOCK + 4],
                                const int len[4], uint64_t out[4][2]) {
        const __m256i rot24 = _mm256_setr_epi8(
            3, 4, 5, 6, 7, 0, 1, 2, 11, 12, 13, 14, 15, 8, 9, 10,
            3, 4, 5, 6, 7, 0, 1, 2, 11, 12, 13, 14, 15, 8, 9, 10);
        const __m256i rot16 = _mm256_setr_epi8(
            2, 3, 4, 5, 6, 7, 0, 1, 10, 11, 12, 13, 14, 15, 8, 9,
            2, 3, 4, 5, 6, 7, 0, 1, 10, 11, 12, 13, 14, 15, 8, 9);
        __m256i v[16], m[16];
        uint64_t lo[4], hi[4];
        int i;
        for (i = 0; i < 16; i++)              /* word i of each lane's block */
            m[i] = _mm256_setr_epi64x(
                (long long)idh_load64(block[0] + 8 * i), (long long)idh_load64(block[1] + 8 * i),
                (long long)idh_load64(block[2] + 8 * i), (long long)idh_load64(block[3] + 8 * i));
        for (i = 0; i < 8; i++) {
            v[i] = _mm256_set1_epi64x((long long)h[i]);
            v[i + 8] = _mm256_set1_epi64x((long long)idh_iv[i]);
        }
        v[12] = _mm256_xor_si256(v[12], _mm256_setr_epi64x(
            IDH_BLOCK + len[0], IDH_BLOCK + len[1], IDH_BLOCK + len[2], IDH_BLOCK + len[3]));
        v[14] = _mm256_xor_si256(v[14], _mm256_set1_epi64x(-1));     /* the last block */
        IDH_ROUNDS(IDH_X_G);
        /* Only h[0] and h[1] make the 16-byte digest. */
        _mm256_storeu_si256((__m256i *)lo, _mm256_xor_si256(
            _mm256_set1_epi64x((long long)h[0]), _mm256_xor_si256(v[0], v[8])));
        _mm256_storeu_si256((__m256i *)hi, _mm256_xor_si256(
            _mm256_set1_epi64x((long long)h[1]), _mm256_xor_si256(v[1], v[9])));
        for (i = 0; i < 4; i++) {
            out[i][0] = lo[i];
            out[i][1] = hi[i];
        }
    }
    #endif

    static void idh_init(void) {
        static const char digits[] = "0123456789abcdef";
        int b;
        for (b = 0; b < 256; b++) {
            idh_hex_pairs[b][0] = digits[b >> 4];
            idh_hex_pairs[b][1] = digits[b & 15];
        }
    #ifdef IDH_HAVE_X4
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx2"))
            idh_lanes = 4;
    #endif
    }

    /* Use four lanes (AVX2) when on is 1, if the CPU has them, one when 0; keep as it is when
       -1. Return whether four are in use. */
    static int idh_set_x4(int on) {
    #ifdef IDH_HAVE_X4
        if (on >= 0)
            idh_lanes = on && __builtin_cpu_supports("avx2") ? 4 : 1;
    #endif
        return idh_lanes == 4;
    }

    /* ---- a batch as a JSON array ---------------------------------------------------------- */

    /* Write `"<32 hex>",` for each of the n ready strs of items at out (35 bytes each). */
    static void idh_hash_json(const uint64_t after_key[8], const uint64_t empty[8],
                              PyObject *const *items, Py_ssize_t n, char *out) {
        Py_ssize_t i;
        uint64_t digest[2];
    #ifdef IDH_HAVE_X4
        uint8_t block[4][IDH_BLOCK + 4];
        uint64_t digests[4][2];
        int len[4];
        char *dest[4];
        int k = 0, j;
    #endif
        for (i = 0; i < n; i++, out += 35) {
            PyObject *id = items[i];
            int kind = PyUnicode_KIND(id);
            const void *data = PyUnicode_DATA(id);
            Py_ssize_t chars = PyUnicode_GET_LENGTH(id);
            out[0] = '"';
            out[33] = '"';
            out[34] = ',';
    #ifdef IDH_HAVE_X4
            if (idh_lanes == 4) {
                len[k] = idh_fold_block(kind, data, chars, block[k]);
                if (len[k] > 0) {             /* one block: a lane */
                    dest[k] = out + 1;
                    if (++k == 4) {
                        idh_compress_x4(after_key, block, len, digests);
                        for (j = 0; j < 4; j++)
                            idh_hex(digests[j], dest[j]);
                        k = 0;
                    }
                    continue;
                }                             /* empty, or longer than a block: alone */
            }
    #endif
            idh_hash(after_key, empty, kind, data, chars, digest);
            idh_hex(digest, out + 1);
        }
    #ifdef IDH_HAVE_X4
        if (k > 0) {                          /* the last lanes repeat the first */
            for (j = k; j < 4; j++) {
                memcpy(block[j], block[0], IDH_BLOCK);
                len[j] = len[0];
            }
            idh_compress_x4(after_key, block, len, digests);
            for (j = 0; j < k; j++)
                idh_hex(digests[j], dest[j]);
        }
    #endif
    }
    #endif
    """
    enum:
        IDH_MAX_KEY
    void idh_init() noexcept
    bint idh_set_x4(int on) noexcept
    void idh_key_states(const uint8_t* key, size_t kk, uint64_t* after_key,
                        uint64_t* empty) noexcept
    void idh_hash(const uint64_t* after_key, const uint64_t* empty, int kind, const void* data,
                  Py_ssize_t n, uint64_t* out) noexcept
    void idh_hex(const uint64_t* digest, char* out) noexcept
    void idh_hash_json(const uint64_t* after_key, const uint64_t* empty, PyObject** items,
                       Py_ssize_t n, char* out) noexcept

idh_init()


def _x4(on=None):
    """Return whether hash_ids_json hashes four ids at once (AVX2), after turning that on (if
    the CPU can) or off when `on` is given. For tests and benchmarks: both give the same bytes."""
    return idh_set_x4(-1 if on is None else 1 if on else 0)


cdef enum:
    # `"` + 32 hex digits + `"`, and `,` between two: a list of n hashes is 35 * n + 1 bytes.
    _QUOTED = 34


@cython.auto_pickle(False)      # the state is key material: never pickled
@cython.final
cdef class IdHasher:
    """BLAKE2b-128 keyed with `key` (1-64 bytes) over folded ids; see the module docstring."""

    cdef uint64_t _after_key[8]
    cdef uint64_t _empty[8]

    def __cinit__(self, key):
        if not isinstance(key, bytes):
            raise TypeError(f"key must be bytes, not {type(key).__name__}")
        cdef Py_ssize_t kk = len(<bytes>key)
        if not 1 <= kk <= IDH_MAX_KEY:
            raise ValueError(f"key must be 1 to 64 bytes, not {kk}")
        idh_key_states(<const uint8_t*>PyBytes_AS_STRING(key), <size_t>kk, self._after_key,
                       self._empty)

    cdef inline int _digest(self, object id, uint64_t* out) except -1:
        PyUnicode_READY(id)
        idh_hash(self._after_key, self._empty, PyUnicode_KIND(id), PyUnicode_DATA(id),
                 PyUnicode_GET_LENGTH(id), out)
        return 0

    def hash_id(self, id):
        """Return the keyed hash of an id as 32 lower-case hex digits."""
        cdef uint64_t digest[2]
        cdef char text[32]
        if not PyUnicode_Check(id):
            raise TypeError(f"id must be str, not {type(id).__name__}")
        self._digest(id, digest)
        idh_hex(digest, text)
        return PyUnicode_FromKindAndData(PyUnicode_1BYTE_KIND, text, 32)

    def hash_ids_json(self, ids):
        """Return the JSON array of the ids' hashes: orjson.dumps([hash_id(i) for i in ids])."""
        cdef Py_ssize_t i, n
        cdef PyObject** items
        cdef object item
        cdef bytes result
        cdef char* out
        seq = ids if type(ids) is list or type(ids) is tuple else list(ids)
        n = PySequence_Fast_GET_SIZE(seq)
        if n == 0:
            return b"[]"
        if n > (PY_SSIZE_T_MAX - 1) // (_QUOTED + 1):
            raise MemoryError()
        result = PyBytes_FromStringAndSize(NULL, (_QUOTED + 1) * n + 1)
        out = PyBytes_AS_STRING(result)
        out[0] = c'['
        # From here on no Python code runs (nothing is called on the items, a str subclass's
        # methods included), so `seq` cannot change while C holds its items.
        items = PySequence_Fast_ITEMS(seq)
        for i in range(n):
            item = <object>items[i]
            if not PyUnicode_Check(item):
                raise TypeError(f"ids[{i}] must be str, not {type(item).__name__}")
            PyUnicode_READY(item)
        idh_hash_json(self._after_key, self._empty, items, n, out + 1)
        # The last hash's `,` becomes the closing `]`.
        out[(_QUOTED + 1) * n] = c']'
        return result
