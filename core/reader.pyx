# cython: cdivision=True
# distutils: sources = core/vendor/lmdb/mdb.c core/vendor/lmdb/midl.c
# distutils: include_dirs = core/vendor/lmdb
"""Answer entitlement lookups from a snapshot (docs/DESIGN.md 4 and 6): the compiled twin of
lookup/reference/reader.py and rules.py, giving the same bodies byte for byte.

Everything after the id string is C: the id is classified without Python objects, found in
the vendored LMDB's memory map (by the page walker of core/pagewalk.pxd, checked against mdb_get
at open, or by mdb_get itself), its record read in place, the rules applied and the body written
(core/answer.pxi) by the C JSON writer (core/jsonw.pxd) into the one bytes object returned.
A delta's overlay, when the snapshot has one, is asked first (DESIGN 4). The reconciliation
with the population register is core/reconcile.pxi, included at the end.
"""

cimport cython
from cpython.buffer cimport PyBuffer_FillInfo
from cpython.mem cimport PyMem_Free
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcmp, memcpy, memset

from core.bigendian cimport be_load, be_store
from core.ids cimport ID_BHXH, ID_CARD, ID_CCCD, ID_MALFORMED, classify_id
from core.jsonw cimport (
    JsonWriter, jw_adopt, jw_bytes, jw_detach, jw_free, jw_init, jw_lit, jw_raw, jw_reserve,
)
from core.leafindex cimport leaf_index_build, leaf_index_free
from core.lmdb cimport (
    MDB_FIRST, MDB_LAST, MDB_NOLOCK, MDB_NOTFOUND, MDB_NOTLS, MDB_RDONLY, MDB_SUCCESS,
    MDB_cursor, MDB_cursor_op, MDB_dbi, MDB_env, MDB_envinfo, MDB_stat, MDB_txn, MDB_val,
    mdb_cursor_close, mdb_cursor_get, mdb_cursor_open, mdb_dbi_open, mdb_env_close,
    mdb_env_create, mdb_env_info, mdb_env_open, mdb_env_set_mapsize, mdb_env_set_maxdbs,
    mdb_env_stat, mdb_get, mdb_strerror, mdb_txn_abort, mdb_txn_begin,
)
from core.pagewalk cimport (
    MDB_DB_FLAGS, MDB_DB_ROOT, MDB_DB_SIZE, MDB_MAGIC, P_META, PAGEHDRSZ, WALK_DAMAGED,
    WALK_FOUND, WALK_GROUP, WALK_MISSING, LeafIndex, PageMap, Walk, _u16, _u32, _u64, walk_busy,
    walk_one, walk_start, walk_start_leaf, walk_step,
)
from core.record cimport CARD_LEN, KEY_LEN
from core.csvrows cimport END, RECORD, Rows, plain_values
from core.names cimport LETTER_FOLDS, LETTER_LIMIT, LETTER_PLAIN, Letter
from core.register cimport (
    FIELDS, OUT_FLUSH, REGISTER_GROUP, VERDICT_DECEASED, VERDICT_MATCH, VERDICT_MISMATCH,
    VERDICT_NOT_INSURED, VERDICT_SLOW, Arena, Columns, KeyList, Out, RegisterRow, arena_add,
    arena_init, count_fields, keys_add, keys_init, out_bytes, out_flush, out_init,
    out_mismatch, out_status, register_parse, register_verdict, sort_keys, unseen_people,
)
from core.rules cimport N_RESULTS, Result, _is_utf8
from core.keyfilter cimport KeyFilter, filter_free, filter_keys, filter_may_hold
from core.strings cimport StringTable, strings_free, strings_load
from core.facilities cimport FacilityNames, facility_home, facility_key

import mmap
import os
from array import array
import unicodedata

import orjson

from lookup.errors import StoreError

__all__ = ("FacilityTable", "SnapshotReader")

cdef object _StoreError = StoreError
cdef size_t _SYSTEM_PAGE = mmap.PAGESIZE
OVERLAY = "overlay"  # a snapshot's overlay: DIR/overlay/data.mdb (DESIGN 4)

cdef enum:
    OVERLAY_NONE = 0    # the overlay does not have the key: the base answers
    OVERLAY_VALUE = 1   # it has the key's value now
    OVERLAY_GONE = 2    # the key was deleted since the base was built


# The result table, what a lookup found (Lookup) and the writers of the body; why an include:
# see there.
include "answer.pxi"
# The facility registry's names for answers (FacilityTable, the C table of core/facilities.pxd).
include "facilities.pxi"


# --- Lookups in the store --------------------------------------------------------------------

cdef str _lmdb_message(int rc):
    return mdb_strerror(rc).decode("utf-8", "replace")


cdef int _store_failure(int rc, str what) except -1:
    raise _StoreError(f"snapshot store: {what}: {_lmdb_message(rc)}")


# How a parsed id is sought in the indexes (its key, the suffix of a card code): storekeys.pxi.
include "storekeys.pxi"


# Batch answers are written into kept buffers and leave without a copy (Answer): answerbuf.pxi.
include "answerbuf.pxi"


@cython.final
cdef class SnapshotReader:
    """Answer lookups from one immutable snapshot directory (it holds data.mdb)."""

    cdef MDB_env* env
    cdef MDB_txn* txn
    cdef MDB_dbi people
    cdef MDB_dbi bhxh
    cdef MDB_dbi cards
    cdef str _snapshot_id
    cdef bytes tail                  # ,"snapshot":"<id>"}
    cdef StringTable string_table    # the texts version-2 records hold by number (DESIGN 4)
    # The page walker (core/pagewalk.pxd): used once checked against mdb_get, else mdb_get.
    cdef bint walking
    cdef PageMap pages
    cdef size_t people_root
    cdef size_t bhxh_root
    cdef size_t cards_root
    # The people tree's leaves (core/leafindex.pxd): a person's descent starts at the leaf.
    cdef bint people_indexed
    cdef LeafIndex people_leaves
    # A delta's overlay (DESIGN 4): looked in first; an empty value there is a deletion.
    cdef MDB_env* overlay_env
    cdef MDB_txn* overlay_txn
    cdef MDB_dbi overlay_dbs[3]      # people, bhxh, cards
    cdef KeyFilter overlay_keys      # what the overlay may hold: most lookups skip it
    # The facility registry's names and levels in answers (mask 0: none); the table owns them.
    cdef FacilityTable facility_table
    cdef FacilityNames facility_names

    def __cinit__(self, path):
        path = os.fspath(path)
        cdef bytes data_path = os.fsencode(os.path.join(path, "data.mdb"))
        if not os.path.isfile(data_path):
            raise _StoreError(f"snapshot {path}: no data.mdb here; not a published snapshot")
        try:
            self._open(path, os.path.getsize(data_path))
            self._open_overlay(path)
            self._snapshot_id = self._read_snapshot_id(path)
            self._read_strings(path)
            self.walking = self._start_walker()
            if self.walking:
                self.people_indexed = self._index_people()
        except BaseException:
            self._release()
            raise
        self.tail = b',"snapshot":' + orjson.dumps(self._snapshot_id) + b"}"

    # --- opening ---

    cdef int _open(self, object path, size_t file_size) except -1:
        cdef bytes encoded = os.fsencode(path)
        cdef int rc = mdb_env_create(&self.env)
        if rc:
            self.env = NULL
            _store_failure(rc, "cannot create an environment")
        # Map the file as it is: a snapshot never grows after publish (DESIGN 4).
        mdb_env_set_mapsize(self.env, file_size)
        mdb_env_set_maxdbs(self.env, 4)
        # No lock file and no reader table (DESIGN 4); NOTLS so the one read transaction is not
        # tied to the thread that opened it.
        rc = mdb_env_open(self.env, encoded, MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS, 0o644)
        if rc:
            raise _StoreError(f"snapshot {path}: cannot open the store: {_lmdb_message(rc)}")
        self._check_size(path, file_size)
        # The snapshot is immutable, so one read transaction can live as long as the reader and
        # every MDB_val it hands out stays valid until close().
        rc = mdb_txn_begin(self.env, NULL, MDB_RDONLY, &self.txn)
        if rc:
            self.txn = NULL
            _store_failure(rc, "cannot begin a read transaction")
        self.people = self._open_db(path, b"people")
        self.bhxh = self._open_db(path, b"bhxh")
        self.cards = self._open_db(path, b"cards")
        return 0

    cdef int _open_overlay(self, object path) except -1:
        """Open DIR/overlay/data.mdb when there is one: the changes of the deltas since the
        base was built, and the snapshot's own manifest and string table."""
        cdef bytes overlay = os.fsencode(os.path.join(path, OVERLAY))
        cdef MDB_dbi dbi
        cdef int rc, i
        if not os.path.isfile(os.path.join(path, OVERLAY, "data.mdb")):
            return 0
        rc = mdb_env_create(&self.overlay_env)
        if rc:
            self.overlay_env = NULL
            _store_failure(rc, "cannot create an environment")
        mdb_env_set_mapsize(self.overlay_env,
                            os.path.getsize(os.path.join(path, OVERLAY, "data.mdb")))
        mdb_env_set_maxdbs(self.overlay_env, 4)
        rc = mdb_env_open(self.overlay_env, overlay, MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS, 0o644)
        if rc == 0:
            rc = mdb_txn_begin(self.overlay_env, NULL, MDB_RDONLY, &self.overlay_txn)
            if rc:
                self.overlay_txn = NULL
        if rc:
            raise _StoreError(f"snapshot {path}: cannot open its overlay: {_lmdb_message(rc)}")
        for i, name in enumerate((b"people", b"bhxh", b"cards")):
            if mdb_dbi_open(self.overlay_txn, name, 0, &dbi):
                raise _StoreError(f"snapshot {path}: its overlay has no {name.decode()}")
            self.overlay_dbs[i] = dbi
        with nogil:
            rc = filter_keys(&self.overlay_keys, self.overlay_txn, self.overlay_dbs, 3)
        if rc == -2:
            raise MemoryError()
        if rc:
            _store_failure(rc, "read the overlay")
        return 0

    cdef int _overlaid(self, MDB_dbi dbi, const uint8_t* key, size_t size,
                       MDB_val* data) noexcept:
        """What the overlay says of a key of the base's `dbi`: OVERLAY_NONE (ask the base),
        OVERLAY_VALUE (data set) or OVERLAY_GONE (deleted since the base)."""
        cdef MDB_val k
        if self.overlay_txn == NULL or not filter_may_hold(&self.overlay_keys, key, size):
            return OVERLAY_NONE
        k.mv_data, k.mv_size = <void*>key, size
        if mdb_get(self.overlay_txn, self.overlay_dbs[0 if dbi == self.people else
                                                      1 if dbi == self.bhxh else 2],
                   &k, data) != MDB_SUCCESS:
            return OVERLAY_NONE
        return OVERLAY_VALUE if data.mv_size else OVERLAY_GONE

    cdef int _check_size(self, object path, size_t file_size) except -1:
        """Refuse a truncated file: reading a page past its end would kill the process."""
        cdef MDB_envinfo info
        cdef MDB_stat stat
        mdb_env_info(self.env, &info)
        mdb_env_stat(self.env, &stat)
        if (info.me_last_pgno + 1) * stat.ms_psize > file_size:
            raise _StoreError(f"snapshot {path}: data.mdb is truncated")
        self.pages.psize = stat.ms_psize
        self.pages.npages = info.me_last_pgno + 1
        return 0

    cdef MDB_dbi _open_db(self, object path, bytes name) except? 0:
        cdef MDB_dbi dbi = 0
        if mdb_dbi_open(self.txn, name, 0, &dbi):
            raise _StoreError(f"snapshot {path}: no {name.decode()} database")
        return dbi

    cdef MDB_txn* _meta_txn(self) noexcept:
        """Where the snapshot's own manifest and string table are: its overlay's, if any."""
        return self.overlay_txn if self.overlay_txn != NULL else self.txn

    cdef MDB_dbi _meta(self, object path) except? 0:
        cdef MDB_dbi dbi = 0
        if self.overlay_txn == NULL:
            return self._open_db(path, b"meta")
        if mdb_dbi_open(self.overlay_txn, b"meta", 0, &dbi):
            raise _StoreError(f"snapshot {path}: its overlay has no meta database")
        return dbi

    cdef int _read_strings(self, object path) except -1:
        """Index the string table (meta `strings`; none in a format-1 snapshot), checking its
        texts once so that records may trust them."""
        cdef MDB_dbi meta = self._meta(path)
        cdef MDB_val key, data
        cdef Py_ssize_t i
        cdef int rc
        key.mv_data = <void*><const char*>b"strings"
        key.mv_size = 7
        if mdb_get(self._meta_txn(), meta, &key, &data) != MDB_SUCCESS:
            return 0
        rc = strings_load(&self.string_table, <const uint8_t*>data.mv_data, data.mv_size)
        if rc == -2:
            raise MemoryError()
        for i in range(self.string_table.n):
            if not _is_utf8(self.string_table.text[i], self.string_table.size[i]):
                rc = -1
        if rc:
            raise _StoreError(f"snapshot {path}: the string table is damaged")
        return 0

    @property
    def strings(self):
        """The string table's texts (UTF-8), string n at index n - 1 (lookup.store.strings)."""
        self._check_open()
        return tuple([(<const char*>self.string_table.text[i])[:self.string_table.size[i]]
                      for i in range(self.string_table.n)])

    cdef str _read_snapshot_id(self, object path):
        cdef MDB_dbi meta = self._meta(path)
        cdef MDB_val key, data
        key.mv_data = <void*><const char*>b"manifest"
        key.mv_size = 8
        snapshot_id = None
        if mdb_get(self._meta_txn(), meta, &key, &data) == MDB_SUCCESS:
            try:
                snapshot_id = orjson.loads((<const char*>data.mv_data)[:data.mv_size])["id"]
            except (orjson.JSONDecodeError, TypeError, KeyError):
                pass
        if not isinstance(snapshot_id, str):
            raise _StoreError(f"snapshot {path}: the manifest is not JSON with an id")
        return snapshot_id

    cdef bint _start_walker(self) except -1:
        """Find the map and the three roots; True when the walker agrees with mdb_get."""
        cdef MDB_dbi main
        cdef MDB_val key, value
        cdef size_t psize = self.pages.psize, address
        cdef const uint8_t* page
        # Pages must tile the map from its start: a power of two no larger than the mmap
        # alignment (the system page), or the arithmetic below could leave the map.
        if (psize < 512 or psize > _SYSTEM_PAGE or psize & (psize - 1)
                or mdb_dbi_open(self.txn, NULL, 0, &main)):
            return False
        # A named database's value in the main database is its MDB_db: flags, root page.
        if not (self._root(main, b"people", &self.people_root)
                and self._root(main, b"bhxh", &self.bhxh_root)
                and self._root(main, b"cards", &self.cards_root)):
            return False
        # The map's base: the page holding that value names its own page number.
        key.mv_data = <void*><const char*>b"people"
        key.mv_size = 6
        if mdb_get(self.txn, main, &key, &value):
            return False
        address = <size_t>value.mv_data
        page = <const uint8_t*>(address & ~(psize - 1))
        if _u64(page) >= self.pages.npages:
            return False
        self.pages.base = page - _u64(page) * psize
        if not (_u16(self.pages.base + 10) & P_META
                and _u32(self.pages.base + PAGEHDRSZ) == MDB_MAGIC):
            return False
        return (self._agrees(self.people, self.people_root)
                and self._agrees(self.bhxh, self.bhxh_root)
                and self._agrees(self.cards, self.cards_root))

    cdef bint _index_people(self) except -1:
        """Build the people leaf index; keep it when it finds the first and last person."""
        cdef bint built
        with nogil:  # a national store's leaf index takes a while: let a worker's loop run
            built = leaf_index_build(&self.pages, self.people_root, &self.people_leaves)
        if not built:
            return False
        self.people_indexed = True
        if self._agrees(self.people, self.people_root):
            return True
        self.people_indexed = False
        leaf_index_free(&self.people_leaves)
        return False

    cdef inline void _start_person(self, Walk* w, const uint8_t* key) noexcept:
        """Begin a people descent: at its leaf when the leaves are indexed, else at the root."""
        if self.people_indexed:
            walk_start_leaf(&self.pages, w, &self.people_leaves, key)
        else:
            walk_start(&self.pages, w, key, KEY_LEN, self.people_root)

    cdef bint _root(self, MDB_dbi main, bytes name, size_t* root) except -1:
        cdef MDB_val key, value
        key.mv_data = <void*><const char*>name
        key.mv_size = len(name)
        if mdb_get(self.txn, main, &key, &value) or value.mv_size != MDB_DB_SIZE:
            return False
        if _u16(<const uint8_t*>value.mv_data + MDB_DB_FLAGS) != 0:
            return False        # not plain byte-ordered keys without duplicates
        root[0] = _u64(<const uint8_t*>value.mv_data + MDB_DB_ROOT)
        return True

    cdef bint _agrees(self, MDB_dbi dbi, size_t root) except -1:
        """Walk to the first and last keys LMDB's cursor reports: the same value, same place."""
        cdef MDB_cursor* cursor = NULL
        cdef MDB_val key, value
        cdef Walk w
        cdef int rc
        cdef MDB_cursor_op op
        if mdb_cursor_open(self.txn, dbi, &cursor):
            return False
        try:
            for op in (MDB_FIRST, MDB_LAST):
                rc = mdb_cursor_get(cursor, &key, &value, op)
                if rc == MDB_NOTFOUND:
                    return root == <size_t>-1
                if rc:
                    return False
                if dbi == self.people and self.people_indexed and key.mv_size == KEY_LEN:
                    self._start_person(&w, <const uint8_t*>key.mv_data)
                else:
                    walk_start(&self.pages, &w, <const uint8_t*>key.mv_data, key.mv_size, root)
                walk_one(&self.pages, &w)
                if (w.state != WALK_FOUND or w.data.mv_data != value.mv_data
                        or w.data.mv_size != value.mv_size):
                    return False
        finally:
            mdb_cursor_close(cursor)
        return True

    @property
    def snapshot_id(self):
        """The id of the snapshot (its manifest's "id")."""
        return self._snapshot_id

    @property
    def facilities(self):
        """The registry's code -> (name, level) that answers show (None: no registry)."""
        return None if self.facility_table is None else self.facility_table.table

    @facilities.setter
    def facilities(self, table):
        """Show a registry (a mapping, or a FacilityTable made once for many readers), or none;
        set between answers, on the thread that answers."""
        if table is None:
            self.facility_table = None
            memset(&self.facility_names, 0, sizeof(FacilityNames))
            return
        self.facility_table = table if isinstance(table, FacilityTable) else FacilityTable(table)
        self.facility_names = self.facility_table.names

    @property
    def _page_walker(self):
        """Whether lookups use the page walker (else mdb_get); for tests and diagnostics."""
        return self.walking

    @property
    def _people_leaf_index(self):
        """How many people leaf pages the leaf index holds (0: none, descents start at the
        root); for tests and diagnostics."""
        return self.people_leaves.n if self.people_indexed else 0

    def _use_lmdb_api(self):
        """Look up with mdb_get alone, as when the walker is not trusted (for tests)."""
        self.walking = False

    # --- lookups ---

    cdef int _check_open(self) except -1:
        if self.txn == NULL:
            raise _StoreError("snapshot reader is closed")
        return 0

    cdef int _get(self, MDB_dbi dbi, size_t root, const uint8_t* key, size_t size,
                  MDB_val* data) except -1:
        """One lookup, in the overlay then the base: 1 found, 0 not found; a damaged store
        raises StoreError."""
        cdef Walk w
        cdef MDB_val k
        cdef int rc = self._overlaid(dbi, key, size, data)
        if rc != OVERLAY_NONE:
            return rc == OVERLAY_VALUE
        if self.walking:
            if dbi == self.people:
                self._start_person(&w, key)
            else:
                walk_start(&self.pages, &w, key, size, root)
            walk_one(&self.pages, &w)
            if w.state == WALK_FOUND:
                data[0] = w.data
                return 1
            if w.state == WALK_MISSING:
                return 0
            raise _StoreError("snapshot store: a damaged page")
        k.mv_data = <void*>key
        k.mv_size = size
        rc = mdb_get(self.txn, dbi, &k, data)
        if rc == MDB_SUCCESS:
            return 1
        if rc == MDB_NOTFOUND:
            return 0
        return _store_failure(rc, "read failed")

    cdef int _find(self, Lookup* item) except -1:
        """Resolve one parsed id: the index (bhxh, cards) gives the people key, then people."""
        cdef MDB_val value
        cdef int kind = item.id.kind
        item.found = FOUND_NONE
        item.by_suffix = False
        item.strings = &self.string_table
        item.facilities = &self.facility_names
        if kind == ID_CCCD:
            item.cccd = item.id.number
        else:
            if not self._get(self.cards if _by_code(item) else self.bhxh,
                             self.cards_root if _by_code(item) else self.bhxh_root,
                             _key_of(item), _key_size(item), &value):
                if not _seek_suffix(item) or not self._get(self.bhxh, self.bhxh_root,
                                                           _key_of(item), KEY_LEN, &value):
                    return 0
            if not _index_value(item, &value):
                return 0
        be_store(item.cccd, item.key, KEY_LEN)
        if self._get(self.people, self.people_root, item.key, KEY_LEN, &item.record):
            item.found = FOUND_RECORD
        else:
            _people_missing(item)
        return 0

    cdef void _seek(self, Lookup* item, Walk* w) noexcept:
        """Start an id's first descent: its index for a number or code, else people."""
        item.by_suffix = False
        item.strings = &self.string_table
        item.facilities = &self.facility_names
        if item.id.kind == ID_CCCD:
            item.cccd = item.id.number
            self._seek_person(item, w)
        else:
            self._seek_index(item, w)

    cdef void _seek_index(self, Lookup* item, Walk* w) noexcept:
        cdef MDB_val value
        cdef int said = self._overlaid(self.cards if _by_code(item) else self.bhxh,
                                       _key_of(item), _key_size(item), &value)
        if said == OVERLAY_VALUE:
            if _index_value(item, &value):
                self._seek_person(item, w)
        elif said == OVERLAY_GONE:
            if _seek_suffix(item):
                self._seek_index(item, w)
            else:
                item.found = FOUND_NONE
        else:
            item.found = SEEKING_INDEX
            walk_start(&self.pages, w, _key_of(item), _key_size(item),
                       self.cards_root if _by_code(item) else self.bhxh_root)

    cdef void _seek_person(self, Lookup* item, Walk* w) noexcept:
        cdef int said
        be_store(item.cccd, item.key, KEY_LEN)
        said = self._overlaid(self.people, item.key, KEY_LEN, &item.record)
        if said == OVERLAY_VALUE:
            item.found = FOUND_RECORD
        elif said == OVERLAY_GONE:
            _people_missing(item)
        else:
            item.found = SEEKING_PERSON
            self._start_person(w, item.key)

    cdef int _walked(self, Lookup* item, Walk* w) except -1:
        """Take a finished descent: go on from the index to people, or settle the answer."""
        if w.state == WALK_DAMAGED:
            raise _StoreError("snapshot store: a damaged page")
        if item.found == SEEKING_INDEX:
            if w.state == WALK_MISSING:
                if _seek_suffix(item):
                    self._seek_index(item, w)
                else:
                    item.found = FOUND_NONE
            elif _index_value(item, &w.data):
                self._seek_person(item, w)
        elif w.state == WALK_FOUND:
            item.record = w.data
            item.found = FOUND_RECORD
        else:
            _people_missing(item)
        return 0

    cdef int _write_many(self, JsonWriter* out, list asked, Lookup* items, Walk* walks,
                         uint32_t date, const Facility* fac, char* codes) except -1:
        """Write the bodies in request order while up to WALK_GROUP ids are being looked up.

        The lookups wait on memory and the writing on the processor, so doing both at once
        overlaps them: each round advances every descent in the window by one probe (their
        cache misses overlap, see core/pagewalk.pxd), then writes the oldest ids that are
        settled and lets as many new ones in.
        """
        cdef Py_ssize_t n = len(asked), head = 0, tail = 0, i
        while head < n:
            while tail < n and tail - head < WALK_GROUP:
                if items[tail].id.kind != ID_MALFORMED:
                    self._seek(&items[tail], &walks[tail % WALK_GROUP])
                tail += 1
            for i in range(head, tail):
                if items[i].found == SEEKING_INDEX or items[i].found == SEEKING_PERSON:
                    walk_step(&self.pages, &walks[i % WALK_GROUP])
                    if not walk_busy(&walks[i % WALK_GROUP]):
                        self._walked(&items[i], &walks[i % WALK_GROUP])
            while head < tail and not (items[head].found == SEEKING_INDEX
                                       or items[head].found == SEEKING_PERSON):
                if head:
                    jw_lit(out, b",")
                _put_code(codes, head,
                          write_body(out, <str>asked[head], &items[head], date, fac, self.tail))
                head += 1
        return 0

    # --- answers ---

    def answer(self, str id not None, long long date, facility=None):
        """Answer one lookup as the SPEC 3 JSON body; date is packed yyyymmdd."""
        cdef Result result
        return self._answer(id, date, facility, &result)

    def answer_coded(self, str id not None, long long date, facility=None):
        """Return the SPEC 3 body of one lookup and its result code, `(b'{...}', "000")`.

        The service audits and counts the code, which would otherwise be searched for in the body.
        """
        cdef Result result
        body = self._answer(id, date, facility, &result)
        return body, _CODES[<int>result]

    cdef bytes _answer(self, str id, long long date, facility, Result* result):
        cdef Lookup item
        cdef Facility fac
        cdef JsonWriter w
        self._check_open()
        check_date(date)
        read_facility(facility, &fac)
        item.found = FOUND_NONE
        if classify_id(id, &item.id) != ID_MALFORMED:
            self._find(&item)
        jw_init(&w)
        try:
            result[0] = write_body(&w, id, &item, <uint32_t>date, &fac, self.tail)
            return jw_bytes(&w)
        finally:
            jw_free(&w)

    def answer_many(self, ids, long long date, facility=None):
        """Answer many lookups as a JSON array of bodies in request order."""
        cdef list asked = ids if type(ids) is list else list(ids)
        cdef JsonWriter w
        _adopt_pooled(&w, len(asked))
        try:
            self._write_answers(asked, date, facility, b"[", b"]", NULL, &w)
            return jw_bytes(&w)
        finally:
            _give_back_writer(&w)

    def answer_batch(self, ids, long long date, facility=None):
        """Return the SPEC 3 batch answer, `{"results": [...]}`, with the answers' result codes.

        The codes come in request order as a JSON array, `["000","050",...]` (for the audit
        record), and counted: how many answers gave each code, `{"000": 998, "050": 2}` (for the
        metrics).

        Finding the codes again in ~800 KB of JSON would cost as much as writing it, and
        turning 1000 of them into Python strings and back into JSON a tenth of that. The body is
        a read-only memoryview of the buffer it was written in (Answer): writing the whole body
        here, and not copying it out, spares the service two copies of it.
        """
        cdef list asked = ids if type(ids) is list else list(ids)
        cdef Py_ssize_t n = len(asked), i
        cdef bytearray results = bytearray(n)
        cdef const unsigned char* got
        cdef Py_ssize_t counts[<int>N_RESULTS]
        cdef JsonWriter w
        _adopt_pooled(&w, n)
        try:
            self._write_answers(asked, date, facility, b'{"results":[', b"]}", <char*>results, &w)
            body = _take_answer(&w)
        finally:
            _give_back_writer(&w)
        # ["000","050",...]: 6 bytes an answer, a bracket for the comma that is not written.
        cdef bytearray codes = bytearray(6 * n + 1 if n else 2)
        cdef char* out = <char*>codes
        got = <const unsigned char*>(<char*>results)
        for i in range(<int>N_RESULTS):
            counts[i] = 0
        out[0] = c"["
        for i in range(n):
            counts[got[i]] += 1
            memcpy(out + 6 * i + 1, _CODE_ITEMS + 6 * got[i], 6)
        out[len(codes) - 1] = c"]"
        cdef dict tally = {}
        for i in range(<int>N_RESULTS):
            if counts[i]:  # two Results may share a code (010 has two messages)
                tally[_CODES[i]] = tally.get(_CODES[i], 0) + counts[i]
        return body, bytes(codes), tally

    cdef int _write_answers(self, ids, long long date, facility, bytes head, bytes tail,
                            char* code_out, JsonWriter* out) except -1:
        """Write the bodies between `head` and `tail`; with `code_out`, note each answer's
        Result there (one byte per id)."""
        cdef list asked = ids if type(ids) is list else list(ids)
        cdef Py_ssize_t n = len(asked), i
        cdef Lookup* items
        cdef Walk walks[WALK_GROUP]
        cdef Facility fac
        self._check_open()
        check_date(date)
        read_facility(facility, &fac)
        for i in range(n):
            if not isinstance(asked[i], str):
                raise TypeError(f"ids[{i}]: expected str, got {type(asked[i]).__name__}")
        items = <Lookup*>malloc(max(n, 1) * sizeof(Lookup))
        if items == NULL:
            raise MemoryError()
        try:
            for i in range(n):
                items[i].found = FOUND_NONE
                classify_id(<str>asked[i], &items[i].id)
            jw_raw(out, <const char*>head, len(head))
            if self.walking:
                self._write_many(out, asked, items, walks, <uint32_t>date, &fac, code_out)
            else:
                for i in range(n):
                    if items[i].id.kind != ID_MALFORMED:
                        self._find(&items[i])
                    if i:
                        jw_lit(out, b",")
                    _put_code(code_out, i, write_body(out, <str>asked[i], &items[i],
                                                      <uint32_t>date, &fac, self.tail))
            jw_raw(out, <const char*>tail, len(tail))
        finally:
            free(items)
        return 0

    # --- reconciliation with the population register (SPEC.md 4; lookup.sync) ---

    def stored_record(self, cccd):
        """Return the stored record of the person whose CCCD is this number, or None."""
        cdef uint8_t key[8]
        cdef MDB_val v
        self._check_open()
        be_store(<uint64_t>cccd, key, KEY_LEN)
        if not self._get(self.people, self.people_root, key, KEY_LEN, &v):
            return None
        return (<const char*>v.mv_data)[:v.mv_size]

    def reconcile(self, Rows rows not None, tuple columns, slow, write, uint32_t today,
                  bint mismatches=False, tick=None, Py_ssize_t every=65536):
        """Report each population row of `rows` to `write` as CSV lines: the rows the core can
        judge here, any other by `slow(line, values)` -> (line, CCCD found or -1). Return the
        counts written here and the CCCDs found; core/reader.pyi says it at length."""
        return _reconcile(self, rows, columns, slow, write, today, mismatches, tick, every)

    def missing(self, bytes found):
        """Return the CCCDs of the stored people not among `found` (native uint64 bytes in any
        order: what `reconcile` returned, of one range or of several), sorted, the same way."""
        return _missing(self, found)

    # --- closing ---

    cdef void _release(self) noexcept:
        strings_free(&self.string_table)
        filter_free(&self.overlay_keys)
        if self.overlay_txn != NULL:
            mdb_txn_abort(self.overlay_txn)
            self.overlay_txn = NULL
        if self.overlay_env != NULL:
            mdb_env_close(self.overlay_env)
            self.overlay_env = NULL
        self.people_indexed = False
        leaf_index_free(&self.people_leaves)
        if self.txn != NULL:
            mdb_txn_abort(self.txn)
            self.txn = NULL
        if self.env != NULL:
            mdb_env_close(self.env)
            self.env = NULL

    def close(self):
        """Release the snapshot; later lookups raise StoreError."""
        self._release()

    def __dealloc__(self):
        self._release()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()


include "reconcile.pxi"
