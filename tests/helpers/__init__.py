"""Test helpers: valid rows and small snapshots (`rows`), real extract files (`files`), a live
server on loopback (`server`), people and raw stores for the reader tests (`answers`), and
switching the implementation under test (`twins`)."""
