# The C side of core/sorter.pyx, for units that feed a sorter without a Python call per entry
# (core/csvrows.pyx feed_build). The Python API is in sorter.pyi.
cimport cython
from libc.stdint cimport uint8_t, uint64_t
from libc.stdio cimport FILE


cdef struct Slot:
    # The key's first 8 bytes as a big-endian integer (zero-padded): sorting keys of up to 8
    # bytes (the build's but one) never reads the arena, and a slot is 16 bytes.
    uint64_t key
    size_t offset    # of the entry in the arena; entries are appended in insertion order


@cython.final
cdef class ExternalSorter:
    cdef readonly Py_ssize_t key_size
    cdef readonly Py_ssize_t memory_limit
    cdef object folder          # our temporary folder, None once closed
    cdef list runs              # run file paths, oldest first
    cdef Py_ssize_t count       # entries added
    cdef uint8_t* arena         # buffered entries, laid out as in a run file
    cdef size_t arena_used, arena_cap
    cdef Slot* slots            # one per buffered entry
    cdef size_t nslots, slots_cap
    cdef uint64_t generation    # changes on every add/spill/close: live iterators then refuse
    cdef Py_ssize_t files_made  # names run files uniquely

    # add(key, value) on C bytes: the same checks, errors and effect.
    cdef int add_entry(self, const uint8_t* key, Py_ssize_t key_size, const uint8_t* value,
                       Py_ssize_t size) except -1
    cdef int check_open(self) except -1
    cdef int reserve(self, size_t need) except -1
    cdef int sort_buffer(self) except -1
    cdef int spill(self) except -1
    cdef int compact(self) except -1
    cdef object new_run_path(self)


@cython.final
cdef class _Out:
    # A run file being written, in blocks.
    cdef FILE* f
    cdef uint8_t* block
    cdef size_t used
    cdef object path

    cdef void write(self, const uint8_t* entry, size_t size) noexcept
    cdef void write_parts(self, const uint8_t* key, size_t key_size, const uint8_t* value,
                          size_t value_size) noexcept
    cdef int close(self) except -1


cdef struct Source:
    FILE* file            # NULL for the in-memory buffer
    uint8_t* buf          # a window on a run file; entries are read in place
    size_t cap, pos, end  # its size, the next entry, the end of what was read
    bint eof
    bint done             # at its end: it comes after every other source
    const uint8_t* entry  # the current entry: [length][key][value]
    uint64_t head         # its key's first 8 bytes, big-endian: most comparisons end there
    size_t next_slot      # the buffer's next slot


cdef struct Entry:
    # A merged entry, read in place.
    const uint8_t* key
    size_t key_size
    const uint8_t* value
    size_t value_size


@cython.final
cdef class _Items:
    # What items() returns. Units that consume it entry by entry (core/writer.pyx) call
    # next_entry() and make no Python object per entry.
    cdef ExternalSorter sorter
    cdef uint64_t generation
    cdef Source* sources
    cdef Py_ssize_t nsources
    cdef int* tree              # a tree of losers: tree[0] the next source, tree[1:] losers
    cdef uint64_t* heads        # heads[k]: the head of tree[k]'s entry (a loser stays put)
    cdef bint ended             # every source is at its end
    cdef list paths
    cdef bint handed_out        # next_entry() handed out the tree's winner: pop it first

    cdef bint next_entry(self, Entry* e) except -1
    cdef int write_all(self, _Out out) except -1
    cdef int pop(self) except -1
    cdef bint advance(self, Py_ssize_t i) except -1
    cdef bint read_entry(self, Source* s, path) except -1
    cdef int fill(self, Source* s, size_t need, path) except -1
    cdef void end_source(self, int i) noexcept
    cdef int build_tree(self) except -1
    cdef inline bint first(self, int a, uint64_t head_a, int b, uint64_t head_b) noexcept
    cdef bint tie_first(self, int a, int b) noexcept
    cdef void replay(self, int s) noexcept
