"""Test helpers: valid rows and small snapshots (`rows`), real extract files (`files`), a live
server on loopback (`server`), and switching the implementation under test (`twins`)."""
