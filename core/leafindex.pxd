# Building the in-memory index of a tree's leaf pages (core/pagewalk.pxd LeafIndex, searched by
# the walker's walk_start_leaf), for 8-byte keys: the people database.
#
# Why: on a 10M-person store a descent from the root crosses three branch pages, ~20 dependent
# probes, before it reaches the leaf; the lowest branch level alone spans ~2,700 pages, too many
# to stay in cache. This index holds what those branch pages say, the first key and the page
# number of every leaf, in two flat arrays, with a radix table over the keys' top bits that
# narrows the search to a few neighbouring entries. A descent then starts at its leaf, and the
# walker searches only the leaf.
#
# Built at open from the branch pages alone (ms at 10M people: no leaf is read). It costs 12
# bytes per leaf plus the table (at most 16 MB); at 10M people, ~16 MB per process. A page that
# is not as a sound tree has it fails the build, and the reader walks from the root instead.

from libc.stdint cimport UINT32_MAX, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcpy

from core.pagewalk cimport (
    LOOKUP_NO_KEY64, NODESIZE, P_BRANCH, P_LEAF, P_LEAF2, P_META, P_OVERFLOW, PAGEHDRSZ,
    WALK_MAX_PAGES, LeafIndex, PageMap, _node, _u16, lookup_key64,
)

cdef enum:
    LEAF_TABLE_MAX_BITS = 22    # a radix table of at most 4M entries (16 MB)


cdef inline void leaf_index_free(LeafIndex* x) noexcept nogil:
    free(x.keys)
    free(x.pgnos)
    free(x.table)
    x.keys = NULL
    x.pgnos = NULL
    x.table = NULL
    x.n = x.cap = x.nb = 0


cdef inline bint leaf_index_build(const PageMap* m, size_t root, LeafIndex* x) noexcept nogil:
    """Index the leaves under `root`; False (and an empty index) when the tree has no branch
    page, a key is not 8 bytes, or a page is not sound."""
    x.keys = NULL
    x.pgnos = NULL
    x.table = NULL
    x.n = x.cap = x.nb = 0
    if (LOOKUP_NO_KEY64 or root == <size_t>-1 or _page_kind(m, root) != P_BRANCH
            or not _collect(m, x, root, 0, 1) or not _fill_table(x)):
        leaf_index_free(x)
        return False
    return True


cdef inline int _page_kind(const PageMap* m, size_t pgno) noexcept nogil:
    if pgno >= m.npages:
        return -1
    return _u16(m.base + pgno * m.psize + 10) & (P_BRANCH | P_LEAF | P_OVERFLOW | P_META | P_LEAF2)


cdef inline bint _collect(const PageMap* m, LeafIndex* x, size_t pgno, uint64_t low,
                          unsigned int depth) noexcept nogil:
    """Add the leaves under branch page `pgno`, all of whose keys are >= `low`."""
    cdef const uint8_t* page = m.base + pgno * m.psize
    cdef size_t lower = _u16(page + 12), count, i, child
    cdef const uint8_t* node
    cdef uint64_t key = low, raw
    cdef int kind
    if depth > WALK_MAX_PAGES or lower < PAGEHDRSZ + 2 or lower > m.psize:
        return False
    count = (lower - PAGEHDRSZ) >> 1
    for i in range(count):
        node = _node(m, page, <unsigned int>i)
        if node == NULL:
            return False
        if i:  # node 0's key is never stored: it stands for everything below node 1
            if (_u16(node + 6) != 8
                    or <size_t>(node - page) + NODESIZE + 8 > m.psize):
                return False
            memcpy(&raw, node + NODESIZE, 8)
            raw = lookup_key64(raw)
            if raw < key:
                return False
            key = raw
        child = _u16(node) | (<size_t>_u16(node + 2) << 16) | (<size_t>_u16(node + 4) << 32)
        kind = _page_kind(m, child)
        if kind == P_LEAF:
            if not _push(x, key, child):
                return False
        elif kind != P_BRANCH or not _collect(m, x, child, key, depth + 1):
            return False
    return True


cdef inline bint _push(LeafIndex* x, uint64_t key, size_t pgno) noexcept nogil:
    cdef size_t cap
    cdef void* grown
    if pgno > UINT32_MAX:
        return False
    if x.n == x.cap:
        cap = x.cap * 2 if x.cap else 4096
        grown = realloc(x.keys, cap * sizeof(uint64_t))
        if grown == NULL:
            return False
        x.keys = <uint64_t*>grown
        grown = realloc(x.pgnos, cap * sizeof(uint32_t))
        if grown == NULL:
            return False
        x.pgnos = <uint32_t*>grown
        x.cap = cap
    x.keys[x.n] = key
    x.pgnos[x.n] = <uint32_t>pgno
    x.n += 1
    return True


cdef inline bint _fill_table(LeafIndex* x) noexcept nogil:
    """About two buckets per leaf, each holding the leaf its first key falls in."""
    cdef unsigned int bits = 1
    cdef size_t b, i = 0
    cdef uint64_t start
    if x.n == 0:
        return False
    while bits < LEAF_TABLE_MAX_BITS and (<size_t>1 << bits) < 2 * x.n:
        bits += 1
    x.nb = <size_t>1 << bits
    x.shift = 0
    while (x.keys[x.n - 1] >> x.shift) >= x.nb:
        x.shift += 1
    x.table = <uint32_t*>malloc((x.nb + 1) * sizeof(uint32_t))
    if x.table == NULL:
        return False
    for b in range(x.nb):
        start = <uint64_t>b << x.shift
        while i + 1 < x.n and x.keys[i + 1] <= start:
            i += 1
        x.table[b] = <uint32_t>i
    x.table[x.nb] = <uint32_t>(x.n - 1)
    return True
