# Included by core/reader.pyx: the facility registry (SPEC 1.4) as a C table the answer writer
# reads (core/facilities.pxd), made once per registry version and shared by readers.

@cython.final
cdef class FacilityTable:
    """The facility registry (SPEC 1.4) as answers show it: code -> (name, level), each a
    str or None, laid out once as the C table core/facilities.pxd reads."""

    cdef FacilityNames names
    cdef readonly dict table
    cdef object _keys, _spans   # array('Q'), array('I'): the slots
    cdef bytes _json

    def __init__(self, table):
        cdef uint64_t size = 2, slot, key
        cdef uint64_t[::1] keys
        cdef uint32_t[::1] spans
        cdef list parts = []
        cdef Py_ssize_t at = 0
        self.table = dict(table)
        while size < 2 * len(self.table):  # at most half full: probes stay short
            size *= 2
        self._keys = array("Q", bytes(8 * size))
        self._spans = array("I", bytes(16 * size))
        keys, spans = self._keys, self._spans
        for code, (name, level) in self.table.items():
            code_bytes = code.encode("ascii") if isinstance(code, str) and code.isascii() else b""
            if len(code_bytes) != 5:
                raise ValueError(f"facilities: {code!r} is no 5-character facility code")
            key = facility_key(code_bytes)
            slot = facility_home(key, size - 1)
            while keys[slot] != 0 and keys[slot] != key:
                slot = (slot + 1) & (size - 1)
            name_json, level_json = orjson.dumps(name), orjson.dumps(level)
            keys[slot] = key
            spans[4 * slot], spans[4 * slot + 1] = at, len(name_json)
            spans[4 * slot + 2], spans[4 * slot + 3] = at + len(name_json), len(level_json)
            parts += (name_json, level_json)
            at += len(name_json) + len(level_json)
        self._json = b"".join(parts)
        self.names.keys, self.names.spans = &keys[0], &spans[0]
        self.names.json = self._json
        self.names.mask = size - 1
