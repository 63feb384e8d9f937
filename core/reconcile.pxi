# The reconciliation with the population register (SPEC.md 4; lookup.sync, DESIGN 8): part of
# core/reader.pyx, which includes it (one module, one C file) and whose SnapshotReader.reconcile
# and .missing call these. Why apart: the answers are the reader's concern, this is another.

# --- names as the reconciliation compares them (core/names.pxd) ---------------------------------
FIELD_NAMES = ("full_name", "full_name_diacritics", "dob", "dob_precision", "gender")
# The five tones as combining marks, in code point order (the reference sorts them so), and the
# apostrophes read as "'": lookup/reference/reconcile.py TONES and APOSTROPHES.
cdef str TONES = "\u0300\u0301\u0303\u0309\u0323"
APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})
cdef Letter LETTERS[LETTER_LIMIT]
cdef bint letters_filled = False


cdef int _fill_letters() except -1:
    """Fill LETTERS from unicodedata, once: what the reference's fold_name and bare_name make
    of each character (the Latin blocks only; any other character is left to the reference)."""
    global letters_filled
    cdef Py_ssize_t cp
    cdef Letter* letter
    if letters_filled:
        return 0
    for cp in range(LETTER_LIMIT):
        letter = &LETTERS[cp]
        letter.base = letter.mark = letter.tone = letter.flags = 0
        ch = chr(cp)
        if not (0x20 <= cp < 0x7F or 0xA0 <= cp < 0x250 or 0x1E00 <= cp):
            continue
        if (unicodedata.normalize("NFC", ch) != ch or unicodedata.combining(ch)
                or (ch.isspace() and ch != " ") or unicodedata.category(ch) == "Cc"):
            continue
        letter.flags = LETTER_PLAIN
        parts = unicodedata.normalize("NFD", ch.casefold().translate(APOSTROPHES))
        marks = parts[1:]
        if unicodedata.combining(parts[0]) or not all(unicodedata.combining(c) for c in marks):
            continue
        tones = [c for c in marks if c in TONES]
        others = [c for c in marks if c not in TONES]
        if len(tones) > 1 or len(others) > 1:
            continue
        letter.base = ord(parts[0])
        letter.mark = ord(others[0]) if others else 0
        letter.tone = TONES.index(tones[0]) + 1 if tones else 0
        letter.flags |= LETTER_FOLDS
    letters_filled = True
    return 0


cdef tuple _reconcile(SnapshotReader self, Rows rows, tuple columns, slow, write, uint32_t today,
                      bint mismatches, tick, Py_ssize_t every):
    """SnapshotReader.reconcile: rows 64 at a time, read from their bytes, looked up together,
    judged in C where the rules need no more (DESIGN 8)."""
    cdef Columns at
    cdef KeyList found
    cdef Out out
    cdef Arena arena
    cdef RegisterRow group[REGISTER_GROUP]
    cdef Walk walks[WALK_GROUP]
    cdef Py_ssize_t counted[VERDICT_DECEASED + 1]   # rows of each verdict
    cdef Py_ssize_t differ[FIELDS]                 # mismatches of each field
    cdef Py_ssize_t read = 0, m, i, n
    cdef const uint8_t* text
    cdef RegisterRow* row
    cdef int status, verdict
    cdef long long slow_key
    cdef list quoted = [None] * REGISTER_GROUP  # the rows read as Python values
    self._check_open()
    _fill_letters()
    at.count = len(columns)
    at.cccd, at.name = columns.index("cccd"), columns.index("full_name")
    at.dob, at.gender = columns.index("dob"), columns.index("gender")
    at.death = columns.index("death_date") if "death_date" in columns else -1
    memset(counted, 0, sizeof(counted))
    memset(differ, 0, sizeof(differ))
    keys_init(&found)
    out_init(&out)
    arena_init(&arena)
    try:
        while True:
            # A group at a time: read, then looked up together (their cache misses overlap,
            # as a batch's do), then judged in order.
            arena.used = 0
            m = 0
            while m < REGISTER_GROUP:
                row = &group[m]
                status = rows.next_plain(&text, &n)
                if status == END:
                    break
                if status == RECORD:
                    row.at, row.n = arena_add(&arena, text, n), n
                else:  # QUOTED: any other row, for the CSV parser
                    quoted[m] = rows.next_record(True)
                    if quoted[m] is None:
                        break  # only blank lines were left
                    row.n, row.candidate = -1, False
                row.line = rows.record_line
                read += 1
                if tick is not None and read % every == 0:
                    tick(read)
                m += 1
            if m == 0:
                break
            for i in range(m):
                if group[i].n >= 0:
                    register_parse(arena.buf + group[i].at, group[i].n, &at, LETTERS,
                                   &group[i])
            _register_look_up(self, group, m, walks)
            for i in range(m):
                row = &group[i]
                verdict = register_verdict(row, arena.buf + row.at, today, mismatches,
                                           LETTERS, &self.string_table)
                if verdict == VERDICT_SLOW:
                    values = quoted[i] if row.n < 0 else plain_values(arena.buf + row.at,
                                                                      row.n)
                    quoted[i] = None
                    line_text, slow_key = slow(row.line, values)
                    if slow_key >= 0:
                        keys_add(&found, <uint64_t>slow_key)
                    out_bytes(&out, line_text)
                else:
                    counted[verdict] += 1
                    if verdict == VERDICT_MATCH:
                        out_status(&out, row.number, b",match,\n", 8)
                    elif verdict == VERDICT_NOT_INSURED:
                        out_status(&out, row.number, b",not_insured,\n", 14)
                    elif verdict == VERDICT_DECEASED:
                        out_status(&out, row.number, b",deceased,\n", 11)
                    else:
                        out_mismatch(&out, row)
                        count_fields(row, differ)
                    if verdict != VERDICT_NOT_INSURED:
                        keys_add(&found, row.number)
                if out.used >= OUT_FLUSH:
                    out_flush(&out, write)
        out_flush(&out, write)
        counts = {"match": counted[VERDICT_MATCH], "not_insured": counted[VERDICT_NOT_INSURED],
                  "mismatch": counted[VERDICT_MISMATCH], "deceased": counted[VERDICT_DECEASED]}
        fields = {name: differ[i] for i, name in enumerate(FIELD_NAMES)}
        return counts, fields, (<char*>found.keys)[:found.n * sizeof(uint64_t)]
    finally:
        free(found.keys)
        free(out.buf)
        free(arena.buf)

cdef int _register_look_up(SnapshotReader self, RegisterRow* group, Py_ssize_t m,
                           Walk* walks) except -1:
    """Find the stored record of each candidate row, WALK_GROUP descents in flight."""
    cdef Py_ssize_t i = 0, n, j
    cdef Py_ssize_t at[WALK_GROUP]
    cdef bint busy
    cdef int said
    if not self.walking:
        for i in range(m):
            if group[i].candidate:
                group[i].found = self._get(self.people, self.people_root, group[i].key,
                                           KEY_LEN, &group[i].record)
        return 0
    while i < m:
        n = 0
        while i < m and n < WALK_GROUP:
            said = OVERLAY_NONE
            if group[i].candidate:
                said = self._overlaid(self.people, group[i].key, KEY_LEN, &group[i].record)
                group[i].found = said == OVERLAY_VALUE
            if said == OVERLAY_NONE and group[i].candidate:
                self._start_person(&walks[n], group[i].key)
                at[n] = i
                n += 1
            i += 1
        busy = True
        while busy:
            busy = False
            for j in range(n):
                if walk_busy(&walks[j]):
                    walk_step(&self.pages, &walks[j])
                    busy = busy or walk_busy(&walks[j])
        for j in range(n):
            if walks[j].state == WALK_DAMAGED:
                raise _StoreError("snapshot store: a damaged page")
            group[at[j]].found = walks[j].state == WALK_FOUND
            group[at[j]].record = walks[j].data
    return 0


cdef bytes _missing(SnapshotReader self, bytes found):
    """SnapshotReader.missing: the base's people not found, less those the overlay changed,
    plus the overlay's own."""
    cdef bytearray seen = bytearray(found)
    cdef Py_ssize_t n = len(seen) // sizeof(uint64_t)
    cdef KeyList out
    cdef int rc
    cdef KeyList changed, kept
    cdef Py_ssize_t i, j = 0
    self._check_open()
    sort_keys(<uint64_t*><char*>seen, n)
    keys_init(&out)
    keys_init(&changed)
    keys_init(&kept)
    try:
        rc = unseen_people(self.txn, self.people, <uint64_t*><char*>seen, n, NULL, &out)
        if rc != MDB_NOTFOUND:
            _store_failure(rc, "read the people")
        if self.overlay_txn == NULL:
            return (<char*>out.keys)[:out.n * sizeof(uint64_t)]
        # With an overlay: the base's unseen people but those it changed or deleted, and
        # the overlay's own unseen people (an empty record is a deletion).
        rc = unseen_people(self.overlay_txn, self.overlay_dbs[0], <uint64_t*><char*>seen,
                           n, &changed, &kept)
        if rc != MDB_NOTFOUND:
            _store_failure(rc, "read the overlay's people")
        for i in range(out.n):
            while j < changed.n and changed.keys[j] < out.keys[i]:
                j += 1
            if j == changed.n or changed.keys[j] != out.keys[i]:
                keys_add(&kept, out.keys[i])
        sort_keys(kept.keys, kept.n)
        return (<char*>kept.keys)[:kept.n * sizeof(uint64_t)]
    finally:
        free(out.keys)
        free(changed.keys)
        free(kept.keys)
