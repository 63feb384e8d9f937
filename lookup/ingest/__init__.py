"""From an extract file to a published snapshot (SPEC.md 1, 2; docs/DESIGN.md 4, 5).

`extract` opens the file (gzip, BOM, header checks) and gives (line, values) rows; `build` feeds
them through the core's row validator into external sorters, rejects rows that share a key,
writes the sorted records and indexes into a staging LMDB environment and publishes it through
`lookup.store`; `parallel` reads a plain extract in N processes over byte ranges cut at line
ends; `delta` applies an upsert/delete file to a copy of the current snapshot, all or nothing.

Nothing is imported here, so `lookup --help` does not load the compiled core.
"""
