# A read-only walker over LMDB 0.9 pages (data format v1), for core/reader.pyx.
#
# Why: a batch of ids is bound by memory latency, not by instructions. mdb_get descends one key
# at a time, so each of its ~6 cache misses on a large store waits for the one before. The
# walker is a descent advanced one binary-search probe per step, prefetching what the next step
# reads; answer_many keeps WALK_GROUP descents in flight and steps them in turn, so their misses
# overlap (measured on a 1M-person snapshot: half the time per key of mdb_get). Sorting the keys
# first, so that a cursor finds the next key on its current page, brought nothing there: 1000
# random keys among 1M rarely share a leaf.
#
# The layout is LMDB 0.9's (mdb.c: MDB_page, MDB_node, MDB_db). SnapshotReader checks the
# walker against mdb_get on the first and last key of every database before trusting it, and
# uses mdb_get otherwise. Every page number, offset and length read from the file is
# bounds-checked: a damaged file gives WALK_DAMAGED, never a read outside the map.

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcmp, memcpy

from core.lmdb cimport MDB_val

cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define lookup_prefetch(p) __builtin_prefetch((const void *)(p))
    #else
    #define lookup_prefetch(p) ((void)(p))
    #endif
    /* An 8-byte key as the integer whose order is its byte order (memcmp order). */
    #if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    #define lookup_key64(x) __builtin_bswap64(x)
    #elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    #define lookup_key64(x) (x)
    #else
    #define LOOKUP_NO_KEY64 1
    #define lookup_key64(x) (x)
    #endif
    #ifndef LOOKUP_NO_KEY64
    #define LOOKUP_NO_KEY64 0
    #endif
    """
    void lookup_prefetch(const void* p) noexcept nogil
    uint64_t lookup_key64(uint64_t x) noexcept nogil
    bint LOOKUP_NO_KEY64

cdef enum:
    PAGEHDRSZ = 16          # MDB_page header: pgno (8), pad (2), flags (2), lower (2), upper (2)
    NODESIZE = 8            # MDB_node header: lo (2), hi (2), flags (2), ksize (2)
    P_BRANCH = 0x01
    P_LEAF = 0x02
    P_OVERFLOW = 0x04
    P_META = 0x08
    P_LEAF2 = 0x20
    F_BIGDATA = 0x01        # the node holds the page number of its overflow pages
    MDB_MAGIC = 0xBEEFC0DE
    MDB_DB_SIZE = 48        # MDB_db: the value a named database has in the main database
    MDB_DB_FLAGS = 4        # offset of md_flags (key order, duplicates)
    MDB_DB_ROOT = 40        # offset of md_root
    WALK_MAX_PAGES = 32     # deeper than any real tree: stops a loop in a damaged file
    WALK_GROUP = 16         # descents in flight (measured: 8 is slower, 24 and 32 no faster)

cdef enum WalkState:
    WALK_ENTER = 0          # `pgno` is the next page; its header has been prefetched
    WALK_PROBE = 1          # `mid` is the next node to compare; it has been prefetched
    WALK_FOUND = 2          # `data` is the value
    WALK_MISSING = 3
    WALK_DAMAGED = 4
    WALK_POINTERS = 5       # a branch page was entered; its node pointers are being prefetched
    WALK_LEAF_TABLE = 6     # starting from a LeafIndex: the key's table entry is prefetched
    WALK_LEAF_KEYS = 7      # starting from a LeafIndex: the keys to search are prefetched

cdef struct PageMap:
    const uint8_t* base     # the environment's memory map (page 0)
    size_t psize
    size_t npages           # pages in use: last_pgno + 1

# The first key and page of every leaf of a tree of 8-byte keys, with a radix table over the
# keys' top bits (built by core/leafindex.pxd, which says why). A descent can start from it at
# the key's leaf (walk_start_leaf), skipping the branch pages.
cdef struct LeafIndex:
    uint64_t* keys          # keys[i]: the least key leaf i can hold (keys[0] is 0); ascending
    uint32_t* pgnos         # pgnos[i]: leaf i's page
    size_t n
    size_t cap
    uint32_t* table         # table[b]: the leaf that holds key b << shift; nb + 1 entries
    size_t nb
    unsigned int shift

cdef struct Walk:
    const uint8_t* key
    size_t ksize
    WalkState state
    size_t pgno
    const uint8_t* page
    unsigned int lo          # binary search window [lo, hi) over the page's nodes
    unsigned int hi
    unsigned int mid
    unsigned int pages       # pages entered so far
    bint leaf
    MDB_val data
    const LeafIndex* leaves  # while starting from a leaf index


cdef inline unsigned int _u16(const uint8_t* p) noexcept nogil:
    cdef uint16_t v
    memcpy(&v, p, 2)        # pages are in host byte order; memcpy because unaligned is allowed
    return v


cdef inline uint32_t _u32(const uint8_t* p) noexcept nogil:
    cdef uint32_t v
    memcpy(&v, p, 4)
    return v


cdef inline size_t _u64(const uint8_t* p) noexcept nogil:
    cdef uint64_t v
    memcpy(&v, p, 8)
    return <size_t>v


cdef inline int _compare(const uint8_t* a, size_t an, const uint8_t* b, size_t bn) noexcept nogil:
    """LMDB's default key order (mdb_cmp_memn): bytes, then the shorter first."""
    cdef uint64_t x, y
    cdef int c
    if an == 8 and bn == 8 and not LOOKUP_NO_KEY64:
        # people and bhxh keys: two loads instead of a call to memcmp
        memcpy(&x, a, 8)
        memcpy(&y, b, 8)
        x = lookup_key64(x)
        y = lookup_key64(y)
        return (x > y) - (x < y)
    c = memcmp(a, b, an if an < bn else bn)
    if c:
        return c
    return (an > bn) - (an < bn)


cdef inline const uint8_t* _node(const PageMap* m, const uint8_t* page,
                                 unsigned int i) noexcept nogil:
    """Node i of a page, or NULL when its header would leave the page. Reads only the page's
    pointer array: the node itself is prefetched now and read (its key checked) a step later."""
    cdef size_t offset = _u16(page + PAGEHDRSZ + 2 * i)
    if offset < PAGEHDRSZ or offset + NODESIZE > m.psize:
        return NULL
    return page + offset


cdef inline void walk_start(const PageMap* m, Walk* w, const uint8_t* key, size_t ksize,
                            size_t root) noexcept nogil:
    """Begin a descent from a tree's root (all ones: the tree is empty)."""
    w.key = key
    w.ksize = ksize
    w.pages = 0
    if root == <size_t>-1:
        w.state = WALK_MISSING
    else:
        _walk_goto(m, w, root)


cdef inline void walk_start_leaf(const PageMap* m, Walk* w, const LeafIndex* x,
                                 const uint8_t* key) noexcept nogil:
    """Begin a descent for an 8-byte key at its leaf, found in the index `x` in two steps (the
    table entry, then a few keys), each prefetched for the next, as the walker's probes are."""
    cdef uint64_t bucket = _key_value(key) >> x.shift
    w.key = key
    w.ksize = 8
    # The branch pages skipped count as one entered, so that walk_step does not take the leaf
    # for a root and search it in one go: its probes overlap other descents'.
    w.pages = 1
    w.leaves = x
    if bucket >= x.nb:
        _walk_goto(m, w, x.pgnos[x.n - 1])
        return
    w.mid = <unsigned int>bucket
    lookup_prefetch(&x.table[bucket])
    w.state = WALK_LEAF_TABLE


cdef inline uint64_t _key_value(const uint8_t* key) noexcept nogil:
    cdef uint64_t raw
    memcpy(&raw, key, 8)
    return lookup_key64(raw)


cdef inline void _walk_leaf_table(const PageMap* m, Walk* w) noexcept nogil:
    """The leaf is among leaves table[b]..table[b + 1]: fetch their keys and pages."""
    cdef const LeafIndex* x = w.leaves
    cdef size_t lo = x.table[w.mid], hi = x.table[w.mid + 1], i
    if lo == hi:
        _walk_goto(m, w, x.pgnos[lo])
        return
    w.lo = <unsigned int>lo
    w.hi = <unsigned int>hi
    for i in range(lo, min(hi + 1, lo + 64), 8):     # 8 keys a line; a bucket holds a few
        lookup_prefetch(&x.keys[i])
    lookup_prefetch(&x.pgnos[lo])
    w.state = WALK_LEAF_KEYS


cdef inline void _walk_leaf_keys(const PageMap* m, Walk* w) noexcept nogil:
    """The last leaf whose least key is <= the key (keys[table[b]] <= b << shift <= key)."""
    cdef const LeafIndex* x = w.leaves
    cdef uint64_t key = _key_value(w.key)
    cdef size_t lo = w.lo, hi = w.hi, mid
    while lo < hi:
        mid = (lo + hi + 1) >> 1
        if x.keys[mid] <= key:
            lo = mid
        else:
            hi = mid - 1
    _walk_goto(m, w, x.pgnos[lo])


cdef inline void _walk_goto(const PageMap* m, Walk* w, size_t pgno) noexcept nogil:
    if pgno >= m.npages or w.pages == WALK_MAX_PAGES:
        w.state = WALK_DAMAGED
        return
    w.pgno = pgno
    w.state = WALK_ENTER
    lookup_prefetch(m.base + pgno * m.psize)
    lookup_prefetch(m.base + pgno * m.psize + 64)   # the first node pointers


cdef inline void _walk_enter(const PageMap* m, Walk* w) noexcept nogil:
    cdef const uint8_t* page = m.base + w.pgno * m.psize
    cdef unsigned int kind = _u16(page + 10) & (P_BRANCH | P_LEAF | P_OVERFLOW | P_META | P_LEAF2)
    cdef size_t lower = _u16(page + 12)
    if (kind != P_BRANCH and kind != P_LEAF) or lower < PAGEHDRSZ or lower > m.psize:
        w.state = WALK_DAMAGED
        return
    w.page = page
    w.pages += 1
    w.leaf = kind == P_LEAF
    # A branch page's node 0 stands for "everything below node 1": it is never compared.
    w.lo = 0 if w.leaf else 1
    w.hi = <unsigned int>((lower - PAGEHDRSZ) >> 1)
    if w.leaf or w.pages == 1:
        # A leaf's few pointers share the header's lines; the root is in cache anyway.
        _walk_next_probe(m, w)
        return
    # A branch page has ~200 nodes: its pointer array spans ~7 lines, and each probe reads one
    # before it can prefetch the node. Fetch them all now, probe from the next step.
    cdef size_t line
    for line in range(128, lower, 64):
        lookup_prefetch(page + line)
    w.state = WALK_POINTERS


cdef inline void _walk_next_probe(const PageMap* m, Walk* w) noexcept nogil:
    """Prefetch the next node to compare, or finish with this page when the window is empty."""
    cdef const uint8_t* node
    if w.lo < w.hi:
        w.mid = (w.lo + w.hi) >> 1
        node = _node(m, w.page, w.mid)
        if node == NULL:
            w.state = WALK_DAMAGED
            return
        lookup_prefetch(node)
        w.state = WALK_PROBE
        return
    if w.leaf:
        w.state = WALK_MISSING
        return
    # The child of the last node whose key is <= the key (node 0 if none is).
    node = _node(m, w.page, w.lo - 1)
    if node == NULL:
        w.state = WALK_DAMAGED
        return
    _walk_goto(m, w, _u16(node) | (<size_t>_u16(node + 2) << 16) | (<size_t>_u16(node + 4) << 32))


cdef inline void _walk_found(const PageMap* m, Walk* w, const uint8_t* node) noexcept nogil:
    cdef size_t size = _u16(node) | (<size_t>_u16(node + 2) << 16)
    cdef size_t start = <size_t>(node - w.page) + NODESIZE + _u16(node + 6)
    cdef unsigned int flags = _u16(node + 4)
    cdef size_t first
    cdef const uint8_t* page
    if flags == F_BIGDATA:
        # The value lives on its own pages, after a page header (OVPAGES in mdb.c).
        if start + 8 > m.psize:
            w.state = WALK_DAMAGED
            return
        first = _u64(w.page + start)
        if first >= m.npages or m.npages - first < (PAGEHDRSZ - 1 + size) // m.psize + 1:
            w.state = WALK_DAMAGED
            return
        page = m.base + first * m.psize
        if not (_u16(page + 10) & P_OVERFLOW):
            w.state = WALK_DAMAGED
            return
        w.data.mv_data = <void*>(page + PAGEHDRSZ)
    elif flags == 0 and start + size <= m.psize:
        w.data.mv_data = <void*>(w.page + start)
    else:
        w.state = WALK_DAMAGED      # duplicates or sub-databases: not a snapshot's layout
        return
    w.data.mv_size = size
    w.state = WALK_FOUND
    # The answer reads the whole record (~250 bytes over 4-5 lines; the first is in cache).
    cdef size_t line
    for line in range(64, min(size, 512) + 64, 64):
        lookup_prefetch(<const uint8_t*>w.data.mv_data + line)


cdef inline void _walk_probe(const PageMap* m, Walk* w) noexcept nogil:
    cdef const uint8_t* node = w.page + _u16(w.page + PAGEHDRSZ + 2 * w.mid)  # checked before
    cdef unsigned int ksize = _u16(node + 6)
    cdef int c
    if <size_t>(node - w.page) + NODESIZE + ksize > m.psize:
        w.state = WALK_DAMAGED      # the key would leave the page
        return
    c = _compare(w.key, w.ksize, node + NODESIZE, ksize)
    if c == 0 and w.leaf:
        _walk_found(m, w, node)
        return
    if c >= 0:
        w.lo = w.mid + 1
    else:
        w.hi = w.mid
    _walk_next_probe(m, w)


cdef inline void walk_step(const PageMap* m, Walk* w) noexcept nogil:
    """Advance a descent by one page entry or one probe; the root page, which every descent
    shares and so is always in cache, is searched in one go."""
    if w.state == WALK_ENTER:
        _walk_enter(m, w)
        while w.state == WALK_PROBE and w.pages == 1:
            _walk_probe(m, w)
    elif w.state == WALK_PROBE:
        _walk_probe(m, w)
    elif w.state == WALK_POINTERS:
        _walk_next_probe(m, w)
    elif w.state == WALK_LEAF_TABLE:
        _walk_leaf_table(m, w)
    elif w.state == WALK_LEAF_KEYS:
        _walk_leaf_keys(m, w)


cdef inline bint walk_busy(const Walk* w) noexcept nogil:
    """Whether a descent still has steps to take."""
    return (w.state == WALK_ENTER or w.state == WALK_PROBE or w.state == WALK_POINTERS
            or w.state == WALK_LEAF_TABLE or w.state == WALK_LEAF_KEYS)


cdef inline void walk_one(const PageMap* m, Walk* w) noexcept nogil:
    """Finish one descent alone (a single lookup has nothing to overlap with)."""
    while walk_busy(w):
        walk_step(m, w)
