# Included by core/reader.pyx.
# --- output buffers ---
#
# Batches are written into buffers kept from earlier batches: a fresh megabyte costs a page
# fault every 4 KB (writing into a new bytes object each time measured 40% slower). A batch
# answer is not copied out either: it leaves in its buffer (Answer), which the service writes
# to the socket, and the buffer comes back here when the answer is freed.

cdef enum:
    # Buffers kept: one per batch answer in flight in a worker (an answer lives until its
    # client has read most of it), so up to 32 MB when 32 clients send batches at once.
    POOL_SIZE = 32
    POOL_MAX_CAP = 4 << 20   # SPEC 3: at most 1000 ids per batch, under 1 MB of answers
    ANSWER_GUESS = 1024      # bytes an answer takes (they are ~800): a new buffer's size

cdef char* _pool[POOL_SIZE]
cdef Py_ssize_t _pool_caps[POOL_SIZE]
cdef int _pooled = 0


cdef void _adopt_pooled(JsonWriter* w, Py_ssize_t answers) noexcept:
    """Start the writer on a kept buffer if there is one, else on a new one sized for that
    many answers (growing one from nothing would copy it ~10 times)."""
    global _pooled
    if _pooled:
        _pooled -= 1
        jw_adopt(w, _pool[_pooled], _pool_caps[_pooled])
    else:
        jw_init(w)
        if answers > 1:
            jw_reserve(w, answers * ANSWER_GUESS)


cdef void _give_back(char* heap, Py_ssize_t cap) noexcept:
    global _pooled
    if heap == NULL:
        return
    if _pooled < POOL_SIZE and cap <= POOL_MAX_CAP:
        _pool[_pooled] = heap
        _pool_caps[_pooled] = cap
        _pooled += 1
    else:
        PyMem_Free(heap)


cdef void _give_back_writer(JsonWriter* w) noexcept:
    cdef Py_ssize_t cap = 0
    cdef char* heap = jw_detach(w, &cap)
    _give_back(heap, cap)


cdef class Answer:
    """A batch answer in the buffer it was written in, read through the buffer protocol
    (answer_batch hands out a memoryview of it); the buffer goes back to the pool when the
    answer is freed, once the service has written it."""

    cdef char* data
    cdef Py_ssize_t size
    cdef Py_ssize_t cap

    def __getbuffer__(self, Py_buffer* view, int flags):
        PyBuffer_FillInfo(view, self, self.data, self.size, 1, flags)

    def __releasebuffer__(self, Py_buffer* view):
        pass

    def __dealloc__(self):
        _give_back(self.data, self.cap)
        self.data = NULL


cdef object _take_answer(JsonWriter* w):
    """The writer's output as a read-only memoryview, without a copy when it is on the heap."""
    cdef Answer answer
    cdef Py_ssize_t size = w.len
    if w.failed:
        raise MemoryError()
    if w.buf == w.stack:
        return memoryview(jw_bytes(w))
    answer = Answer.__new__(Answer)
    answer.data = jw_detach(w, &answer.cap)
    answer.size = size
    return memoryview(answer)
