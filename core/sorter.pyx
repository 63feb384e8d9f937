"""External merge sort of (fixed-size key, value) pairs for the build (docs/DESIGN.md 1), compiled.

The twin of lookup/reference/sorter.py, with the same results and errors. The build feeds it
several entries per person (~100 million people), so nothing here makes a Python object per
buffered entry: entries are copied into a C arena laid out like a run file; a slot array (the
key's first 8 bytes + the entry's arena offset) is sorted with a stable LSD radix sort (a
merge sort for longer keys); a run is written in blocks of 1 MB; items() merges the
runs, read in large chunks, and the sorted buffer through a C tree of losers. Only items() makes
objects, the pairs it yields, and only when iterated from Python: core/writer.pyx reads the
merged entries in place (_Items.next_entry).
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.errno cimport errno
from libc.stdint cimport UINT64_MAX, uint8_t, uint32_t, uint64_t
from libc.stdio cimport FILE, fclose, ferror, fopen, fread, fwrite, setvbuf
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcmp, memcpy, memmove, memset, strerror

import os
import shutil
import tempfile

__all__ = ("ExternalSorter",)

cdef extern from "stdio.h":
    enum:
        _IOFBF
        _IONBF

cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define sorter_prefetch(p) __builtin_prefetch(p)
    #else
    #define sorter_prefetch(p) ((void)(p))
    #endif
    #include <string.h>
    /* 8 bytes as the big-endian number they spell: one load (and a byte swap) where the
       compiler and byte order allow it. */
    static inline uint64_t sorter_load_be64(const uint8_t *p) {
    #if (defined(__GNUC__) || defined(__clang__)) && defined(__BYTE_ORDER__) \
        && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        uint64_t v;
        memcpy(&v, p, 8);
        return __builtin_bswap64(v);
    #else
        uint64_t v = 0;
        for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
        return v;
    #endif
    }
    """
    # Buffered entries are visited in key order, i.e. at random places in the arena: asking for
    # them a few slots ahead hides most of the memory latency (spill and merge were bound by it).
    void prefetch "sorter_prefetch"(const void* p) noexcept nogil
    uint64_t load_be64 "sorter_load_be64"(const uint8_t* p) noexcept nogil

cdef enum:
    LEN_SIZE = 4              # run entry: <I value length, key, value (as the reference)
    IO_BUFFER = 1 << 20       # per run file, reading and writing
    FIRST_ARENA = 1 << 20
    # More runs than this are merged into one before the next is written, so items() never
    # holds more open files (and read buffers) than this, plus as many per adopt()ed sorter.
    MAX_RUNS = 64
    PREFETCH_AHEAD = 16       # slots
    DIGIT_BITS = 11           # radix_sort: 2048 counters a digit stay in the L2 cache
    RADIX = 1 << DIGIT_BITS
    MAX_DIGITS = 6            # 64 bits

# Slot (a buffered entry's key prefix and place) and the class's fields are in sorter.pxd.


cdef inline uint64_t big_endian_u64(const uint8_t* key, Py_ssize_t key_size) noexcept nogil:
    """The key's first 8 bytes (zero-padded) as a number in the keys' order."""
    cdef uint64_t v = 0
    cdef Py_ssize_t i
    if key_size >= 8:
        return load_be64(key)
    for i in range(8):
        v = (v << 8) | (key[i] if i < key_size else 0)
    return v


cdef inline uint32_t read_u32(const uint8_t* p) noexcept:
    return p[0] | (<uint32_t>p[1] << 8) | (<uint32_t>p[2] << 16) | (<uint32_t>p[3] << 24)


cdef inline void write_u32(uint8_t* p, uint32_t v) noexcept:
    p[0] = v & 0xFF
    p[1] = (v >> 8) & 0xFF
    p[2] = (v >> 16) & 0xFF
    p[3] = v >> 24


cdef inline size_t entry_size(const uint8_t* entry, Py_ssize_t key_size) noexcept:
    return LEN_SIZE + key_size + read_u32(entry)


# --- Stable sorts of slots -----------------------------------------------------------------------
# Stability (ties in insertion order) comes from the slots being in insertion order before the
# sort and both sorts below being stable.


cdef void radix_sort(Slot* slots, Slot* tmp, size_t n, size_t* counts) noexcept nogil:
    """Sort slots[0:n] on their keys (of at most 8 bytes, all in `key`): LSD radix, stable.

    Digits are DIGIT_BITS wide and span only the bits that differ between keys: a CCCD key's
    40 of 64 take four passes. counts holds MAX_DIGITS * RADIX counters; tmp holds n slots.
    """
    cdef size_t i, total, c
    cdef uint64_t ones = 0, zeros = 0, differ
    cdef int low = 0, width = 64, shift, d, digits
    cdef size_t* count
    cdef Slot* src = slots
    cdef Slot* dst = tmp
    cdef Slot* swap
    for i in range(n):
        ones |= slots[i].key
        zeros |= ~slots[i].key
    differ = ones & zeros  # the bits set in some key and clear in another
    if differ == 0:
        return  # all keys equal: in insertion order already
    while not (differ >> low) & 1:
        low += 1
    while not (differ >> (width - 1)) & 1:
        width -= 1
    digits = (width - low + DIGIT_BITS - 1) // DIGIT_BITS
    memset(counts, 0, digits * RADIX * sizeof(size_t))
    for i in range(n):
        for d in range(digits):
            counts[d * RADIX + ((slots[i].key >> (low + d * DIGIT_BITS)) & (RADIX - 1))] += 1
    for d in range(digits):
        count = counts + d * RADIX
        shift = low + d * DIGIT_BITS
        if count[(slots[0].key >> shift) & (RADIX - 1)] == n:
            continue  # this digit is the same in every key
        total = 0
        for c in range(RADIX):  # counts become each digit value's first position
            total += count[c]
            count[c] = total - count[c]
        for i in range(n):
            c = (src[i].key >> shift) & (RADIX - 1)
            dst[count[c]] = src[i]
            count[c] += 1
        swap = src
        src = dst
        dst = swap
    if src != slots:
        memcpy(slots, src, n * sizeof(Slot))


cdef inline bint slot_after(const Slot* a, const Slot* b, const uint8_t* arena,
                            Py_ssize_t key_size) noexcept nogil:
    """Whether a sorts strictly after b (ties are not after: that keeps the sort stable)."""
    if a.key != b.key:
        return a.key > b.key
    if key_size <= 8:
        return False
    return memcmp(arena + a.offset + LEN_SIZE + 8, arena + b.offset + LEN_SIZE + 8,
                  key_size - 8) > 0


cdef void merge_sort(Slot* slots, Slot* tmp, size_t n, const uint8_t* arena,
                     Py_ssize_t key_size) noexcept nogil:
    """Sort slots[0:n] stably, for keys longer than 8 bytes; tmp holds n slots."""
    cdef size_t i, j, k, mid
    cdef Slot s
    if n <= 24:
        for i in range(1, n):
            s = slots[i]
            j = i
            while j > 0 and slot_after(&slots[j - 1], &s, arena, key_size):
                slots[j] = slots[j - 1]
                j -= 1
            slots[j] = s
        return
    mid = n // 2
    merge_sort(slots, tmp, mid, arena, key_size)
    merge_sort(slots + mid, tmp, n - mid, arena, key_size)
    if not slot_after(&slots[mid - 1], &slots[mid], arena, key_size):
        return  # already in order
    memcpy(tmp, slots, mid * sizeof(Slot))
    i = 0
    j = mid
    k = 0
    while i < mid and j < n:
        # Take from the left on ties: stability.
        if slot_after(&tmp[i], &slots[j], arena, key_size):
            slots[k] = slots[j]
            j += 1
        else:
            slots[k] = tmp[i]
            i += 1
        k += 1
    while i < mid:
        slots[k] = tmp[i]
        i += 1
        k += 1


cdef void* grow(void* block, size_t size) except NULL:
    """Resize a malloc'd block (keeping its contents) or raise MemoryError."""
    cdef void* p = realloc(block, size)
    if p == NULL:
        raise MemoryError()
    return p


cdef object os_error(str what, object path):
    return OSError(errno, f"sorter: {what} {path}: {strerror(errno).decode()}")


cdef FILE* open_file(object path, const char* mode, size_t buffer_size) except NULL:
    """Open a run file with a stdio buffer of buffer_size bytes (0: unbuffered)."""
    cdef bytes name = os.fsencode(path)
    cdef FILE* f = fopen(name, mode)
    if f == NULL:
        raise os_error("cannot open", path)
    if buffer_size:
        setvbuf(f, NULL, _IOFBF, buffer_size)
    else:
        setvbuf(f, NULL, _IONBF, 0)
    return f


@cython.final
@cython.auto_pickle(False)  # C state: nothing to pickle
cdef class ExternalSorter:
    """Sort (key, value) byte pairs by key, stably, spilling sorted runs to files."""

    def __cinit__(self):
        self.arena = NULL
        self.slots = NULL

    def __init__(self, Py_ssize_t key_size, directory, Py_ssize_t memory_limit=256 * 2**20):
        """Make an empty sorter whose run files go in a new temporary folder in directory."""
        if key_size <= 0:
            raise ValueError(f"key_size: {key_size}; must be positive")
        self.key_size = key_size
        self.memory_limit = memory_limit
        self.folder = tempfile.mkdtemp(prefix="sort-", dir=directory)
        self.runs = []

    def __dealloc__(self):
        free(self.arena)
        free(self.slots)

    def __len__(self):
        return self.count

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def add(self, bytes key not None, bytes value not None):
        """Add one entry; a run file is written when the buffer passes memory_limit."""
        self.add_entry(<const uint8_t*>PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key),
                       <const uint8_t*>PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value))

    cdef int add_entry(self, const uint8_t* key, Py_ssize_t key_size, const uint8_t* value,
                       Py_ssize_t size) except -1:
        """add() of C bytes, for the build's loop (core/csvrows.pyx feed_build)."""
        cdef size_t need
        cdef uint8_t* entry
        self.check_open()
        if key_size != self.key_size:
            raise ValueError(
                f"key: {key_size} bytes; this sorter sorts {self.key_size}-byte keys"
            )
        if size > 0xFFFFFFFF:
            raise ValueError(f"value: {size} bytes; at most 4 GiB - 1")
        need = LEN_SIZE + self.key_size + size
        self.reserve(need)
        entry = self.arena + self.arena_used
        write_u32(entry, <uint32_t>size)
        memcpy(entry + LEN_SIZE, key, self.key_size)
        memcpy(entry + LEN_SIZE + self.key_size, value, size)
        self.slots[self.nslots].key = big_endian_u64(entry + LEN_SIZE, self.key_size)
        self.slots[self.nslots].offset = self.arena_used
        self.nslots += 1
        self.arena_used += need
        self.count += 1
        self.generation += 1
        # The sort needs as many slots again as scratch space.
        if self.arena_used + 2 * self.nslots * sizeof(Slot) > <size_t>self.memory_limit:
            self.spill()
        return 0

    def items(self):
        """Iterate over all entries in key order, ties in insertion order; callable again."""
        self.check_open()
        self.sort_buffer()
        return _Items(self, True)

    def hand_over(self):
        """Spill the buffer and give up the run files, for another sorter's adopt(): returns
        (entries, run paths, oldest first). The sorter is closed; its folder, which held them,
        is left for the caller to remove."""
        self.check_open()
        if self.nslots:
            self.spill()
        handed = (self.count, self.runs)
        self.folder = None  # so that close() leaves the runs alone
        self.close()
        return handed

    def flush(self):
        """Write the buffered entries as a run now: the build does so while it waits for its
        workers, so that adopt() has nothing left to write then."""
        self.check_open()
        if self.nslots:
            self.spill()

    def adopt(self, Py_ssize_t entries, paths, *, bint move=True):
        """Take over the run files another sorter of this key size handed over, moving them
        into this sorter's folder; their entries count as added after every entry so far.

        With move=False the paths stay where they are and are not removed: a pipe, say, that
        another process writes a merge into (core/writer.pyx write_run), to be read once.
        """
        self.check_open()
        if not paths:
            return
        if self.nslots:
            self.spill()  # the merge takes ties from the older runs first: the buffer is older
        for path in paths:
            if move:
                run = self.new_run_path()
                os.rename(path, run)
            else:
                run = path
            self.runs.append(run)
        self.count += entries
        self.generation += 1

    def close(self):
        """Remove the run files and free the buffer; the sorter cannot be used afterwards."""
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
        self.runs = []
        free(self.arena)
        free(self.slots)
        self.arena = NULL
        self.slots = NULL
        self.arena_used = self.arena_cap = self.nslots = self.slots_cap = 0
        self.generation += 1

    cdef int check_open(self) except -1:
        if self.folder is None:
            raise ValueError("sorter: closed")
        return 0

    cdef int reserve(self, size_t need) except -1:
        """Make room in the arena for `need` bytes and in the slot array for one slot."""
        cdef size_t cap
        if self.arena_used + need > self.arena_cap:
            cap = self.arena_cap or FIRST_ARENA
            while cap < self.arena_used + need:
                cap *= 2
            self.arena = <uint8_t*>grow(self.arena, cap)
            self.arena_cap = cap
        if self.nslots == self.slots_cap:
            cap = self.slots_cap * 2 or 4096
            self.slots = <Slot*>grow(self.slots, cap * sizeof(Slot))
            self.slots_cap = cap
        return 0

    cdef int sort_buffer(self) except -1:
        cdef Slot* tmp
        cdef size_t* counts
        if self.nslots < 2:
            return 0
        tmp = <Slot*>malloc(self.nslots * sizeof(Slot))
        counts = <size_t*>malloc(MAX_DIGITS * RADIX * sizeof(size_t))
        if tmp == NULL or counts == NULL:
            free(tmp)
            free(counts)
            raise MemoryError()
        # The GIL stays held: another thread's add() must not move the arena under the sort.
        if self.key_size <= 8:
            radix_sort(self.slots, tmp, self.nslots, counts)
        else:
            merge_sort(self.slots, tmp, self.nslots, self.arena, self.key_size)
        free(tmp)
        free(counts)
        return 0

    cdef int spill(self) except -1:
        """Write the sorted buffer as a new run file and empty it (merging runs past MAX_RUNS)."""
        cdef size_t i
        cdef const uint8_t* entry
        cdef _Out out
        if len(self.runs) >= MAX_RUNS:
            self.compact()
        self.sort_buffer()
        path = self.new_run_path()
        out = _Out(path)
        for i in range(self.nslots):
            if i + PREFETCH_AHEAD < self.nslots:
                prefetch(self.arena + self.slots[i + PREFETCH_AHEAD].offset)
            entry = self.arena + self.slots[i].offset
            out.write(entry, entry_size(entry, self.key_size))
        out.close()
        self.runs.append(path)
        self.arena_used = 0
        self.nslots = 0
        self.generation += 1
        return 0

    cdef int compact(self) except -1:
        """Merge every run into one (the buffer stays), keeping their order for stability."""
        path = self.new_run_path()
        cdef _Out out = _Out(path)
        _Items(self, False).write_all(out)
        out.close()
        for old in self.runs:
            os.remove(old)
        self.runs = [path]
        return 0

    cdef object new_run_path(self):
        self.files_made += 1
        return os.path.join(self.folder, f"run-{self.files_made:06d}")


@cython.final
@cython.auto_pickle(False)  # C state: nothing to pickle
cdef class _Out:
    """A run file being written: entries are gathered into blocks (an fwrite per entry cost
    more than copying them)."""

    def __cinit__(self, path):
        self.path = path
        self.block = <uint8_t*>malloc(IO_BUFFER)
        if self.block == NULL:
            raise MemoryError()
        self.f = open_file(path, b"wb", 0)

    def __dealloc__(self):
        if self.f != NULL:
            fclose(self.f)  # not closed: an error is on its way already
        free(self.block)

    cdef void write(self, const uint8_t* entry, size_t size) noexcept:
        """Add an entry, or `size` bytes of one (a write error shows in close())."""
        if self.used + size > IO_BUFFER:
            fwrite(self.block, self.used, 1, self.f)
            self.used = 0
        if size > IO_BUFFER:
            fwrite(entry, size, 1, self.f)
        else:
            memcpy(self.block + self.used, entry, size)
            self.used += size

    cdef void write_parts(self, const uint8_t* key, size_t key_size, const uint8_t* value,
                          size_t value_size) noexcept:
        """Add an entry given as its key and value."""
        cdef uint8_t length[LEN_SIZE]
        write_u32(length, <uint32_t>value_size)
        self.write(length, LEN_SIZE)
        self.write(key, key_size)
        self.write(value, value_size)

    cdef int close(self) except -1:
        fwrite(self.block, self.used, 1, self.f)
        cdef bint failed = ferror(self.f) != 0
        cdef int closed = fclose(self.f)
        self.f = NULL
        if closed != 0 or failed:
            raise os_error("cannot write", self.path)
        return 0


@cython.final
@cython.auto_pickle(False)  # C state: nothing to pickle
cdef class _Items:
    """A k-way merge of a sorter's runs (oldest first) and, optionally, its sorted buffer."""

    def __cinit__(self, ExternalSorter sorter, bint with_buffer):
        cdef Py_ssize_t i, n = len(sorter.runs) + (1 if with_buffer else 0)
        self.sorter = sorter
        self.generation = sorter.generation
        self.paths = list(sorter.runs)
        self.sources = <Source*>malloc(max(n, 1) * sizeof(Source))
        self.tree = <int*>malloc(max(n, 1) * sizeof(int))
        self.heads = <uint64_t*>malloc(max(n, 1) * sizeof(uint64_t))
        if self.sources == NULL or self.tree == NULL or self.heads == NULL:
            raise MemoryError()
        for i in range(n):
            self.sources[i].file = NULL
            self.sources[i].buf = NULL
            self.sources[i].cap = 0
            self.sources[i].pos = 0
            self.sources[i].end = 0
            self.sources[i].eof = False
            self.sources[i].done = False
            self.sources[i].entry = NULL
            self.sources[i].next_slot = 0
        self.nsources = n
        for i in range(len(self.paths)):
            self.sources[i].file = open_file(self.paths[i], b"rb", 0)  # read in big chunks
        for i in range(n):
            if not self.advance(i):
                self.end_source(<int>i)
        self.build_tree()
        self.ended = n == 0 or self.sources[self.tree[0]].done

    def __dealloc__(self):
        cdef Py_ssize_t i
        if self.sources != NULL:
            for i in range(self.nsources):
                if self.sources[i].file != NULL:
                    fclose(self.sources[i].file)
                free(self.sources[i].buf)
        free(self.sources)
        free(self.tree)
        free(self.heads)

    def __iter__(self):
        return self

    def __next__(self):
        cdef Entry e
        if not self.next_entry(&e):
            raise StopIteration
        return (
            PyBytes_FromStringAndSize(<const char*>e.key, self.sorter.key_size),
            PyBytes_FromStringAndSize(<const char*>e.value, e.value_size),
        )

    cdef bint next_entry(self, Entry* e) except -1:
        """Point e at the next entry (valid until the next call); False at the end.

        The entry handed out is popped on the next call: a source's window may move when it
        advances, so the previous entry stays readable until then.
        """
        cdef const uint8_t* entry
        if self.ended:
            return False
        if self.generation != self.sorter.generation:
            raise RuntimeError("sorter changed during iteration")
        if self.handed_out:
            self.handed_out = False
            self.pop()
            if self.ended:
                return False
        entry = self.sources[self.tree[0]].entry
        e.key = entry + LEN_SIZE
        e.key_size = self.sorter.key_size
        e.value = e.key + e.key_size
        e.value_size = read_u32(entry)
        self.handed_out = True
        return True

    cdef int write_all(self, _Out out) except -1:
        """Write every remaining entry to out, in order, without making Python objects."""
        cdef const uint8_t* entry
        while not self.ended:
            entry = self.sources[self.tree[0]].entry
            out.write(entry, entry_size(entry, self.sorter.key_size))
            self.pop()
        return 0

    cdef int pop(self) except -1:
        """Move the winning source to its next entry and find the next winner."""
        cdef int winner = self.tree[0]
        if not self.advance(winner):
            self.end_source(winner)
        self.replay(winner)
        self.ended = self.sources[self.tree[0]].done
        return 0

    cdef bint advance(self, Py_ssize_t i) except -1:
        """Load source i's next entry; False at its end."""
        cdef Source* s = &self.sources[i]
        cdef ExternalSorter sorter = self.sorter
        if s.file == NULL:
            if s.next_slot == sorter.nslots:
                return False
            if s.next_slot + PREFETCH_AHEAD < sorter.nslots:
                prefetch(sorter.arena + sorter.slots[s.next_slot + PREFETCH_AHEAD].offset)
            s.entry = sorter.arena + sorter.slots[s.next_slot].offset
            s.head = sorter.slots[s.next_slot].key
            s.next_slot += 1
            return True
        if not self.read_entry(s, self.paths[i]):
            return False
        s.head = big_endian_u64(s.entry + LEN_SIZE, sorter.key_size)
        return True

    cdef bint read_entry(self, Source* s, path) except -1:
        """Point s.entry at the run's next entry, in the window; False at the end of the run."""
        cdef size_t need
        if s.end - s.pos < LEN_SIZE:
            self.fill(s, LEN_SIZE, path)
            if s.end == s.pos:
                return False
            if s.end - s.pos < LEN_SIZE:
                raise OSError(f"sorter: run file {path} is truncated")
        need = entry_size(s.buf + s.pos, self.sorter.key_size)
        if s.end - s.pos < need:
            self.fill(s, need, path)
            if s.end - s.pos < need:
                raise OSError(f"sorter: run file {path} is truncated")
        s.entry = s.buf + s.pos
        s.pos += need
        # A run's entries are read in order, but a hundred runs interleave: ask for the next
        # one now, while the merge turns to the other sources.
        prefetch(s.buf + s.pos)
        return True

    cdef int fill(self, Source* s, size_t need, path) except -1:
        """Slide the unread bytes to the window's start and read until `need` bytes are there.

        Only called when the source advances, so its previous entry is no longer in use.
        """
        cdef size_t got, avail = s.end - s.pos
        cdef void* p
        memmove(s.buf, s.buf + s.pos, avail)
        s.pos = 0
        s.end = avail
        if need > s.cap:
            p = realloc(s.buf, max(need, <size_t>IO_BUFFER))
            if p == NULL:
                raise MemoryError()
            s.buf = <uint8_t*>p
            s.cap = max(need, <size_t>IO_BUFFER)
        while s.end < need and not s.eof:
            got = fread(s.buf + s.end, 1, s.cap - s.end, s.file)
            if got == 0:
                if ferror(s.file):
                    raise os_error("cannot read", path)
                s.eof = True
            s.end += got
        return 0

    cdef void end_source(self, int i) noexcept:
        """Mark source i as at its end: the highest head, so that it loses (nearly) every match
        without a look at its flag."""
        self.sources[i].done = True
        self.sources[i].head = UINT64_MAX

    cdef int build_tree(self) except -1:
        """Play every match once, bottom up: each node keeps its loser, tree[0] the winner.

        Leaves are nodes n..2n-1 (source i at n + i), matches nodes 1..n-1, node k's players the
        winners at 2k and 2k+1: a complete binary tree for any n."""
        cdef Py_ssize_t node, n = self.nsources
        cdef int a, b
        cdef int* winners
        if n == 0:
            return 0
        winners = <int*>malloc(2 * n * sizeof(int))
        if winners == NULL:
            raise MemoryError()
        for node in range(n, 2 * n):
            winners[node] = <int>(node - n)
        for node in range(n - 1, 0, -1):
            a, b = winners[2 * node], winners[2 * node + 1]
            if self.first(b, self.sources[b].head, a, self.sources[a].head):
                a, b = b, a
            winners[node], self.tree[node] = a, b
            self.heads[node] = self.sources[b].head
        self.tree[0] = winners[1] if n > 1 else 0
        free(winners)
        return 0

    cdef inline bint first(self, int a, uint64_t head_a, int b, uint64_t head_b) noexcept:
        """Whether source a's entry (its key starting head_a) comes out before source b's: by
        key, then by source (older first); a source at its end after every other."""
        if head_a != head_b:
            return head_a < head_b
        return self.tie_first(a, b)

    cdef bint tie_first(self, int a, int b) noexcept:
        """first() for equal heads."""
        cdef Source* sa = &self.sources[a]
        cdef Source* sb = &self.sources[b]
        cdef Py_ssize_t key_size = self.sorter.key_size
        cdef int c
        if sa.done != sb.done:
            return sb.done
        if key_size > 8 and not sa.done:
            c = memcmp(sa.entry + LEN_SIZE + 8, sb.entry + LEN_SIZE + 8, key_size - 8)
            if c != 0:
                return c < 0
        return a < b

    @cython.cdivision(True)  # node >= 0
    cdef void replay(self, int s) noexcept:
        """Play source s's new entry up from its leaf: at each match the loser stays, the
        winner goes on; the last winner is the next source (tree[0]). One comparison a level,
        half what a binary heap's sift-down makes, on heads kept in the tree beside the losers
        (no load that waits on the one before), and no branch on its outcome."""
        cdef Py_ssize_t node = (s + self.nsources) // 2
        cdef int held
        cdef uint64_t head = self.sources[s].head, held_head
        cdef bint s_first
        while node > 0:
            held, held_head = self.tree[node], self.heads[node]
            s_first = self.first(s, head, held, held_head)
            self.tree[node] = held if s_first else s
            self.heads[node] = held_head if s_first else head
            s = s if s_first else held
            head = head if s_first else held_head
            node //= 2
        self.tree[0] = s
