"""Snapshots to and from object storage: `lookup push URL` and `lookup pull URL`.

The builder pushes each published snapshot; every replica pulls the newest one, checks it and
publishes it through its own DataDir, so a replica's readers see snapshots exactly as a
builder's do (whole, or not at all). Under URL (s3://bucket/prefix, a directory or file://...;
pull also reads http(s)://, e.g. the same files behind nginx):

    latest.json          {"snapshot": "<id>"}: the pointer, written last by each push
    snapshots/<id>.json  the snapshot's manifest plus "files": {name: {"sha256", "size"}}
    blobs/<sha256>       each file's bytes, named by their checksum

Blobs are named by content so a delta's base, unchanged since the build (DESIGN 4), is pushed
once and pulled once: a daily delta moves only its overlay. The bytes move through fsspec, which
speaks s3:// (with s3fs installed), http(s):// (aiohttp) and local paths alike.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import fsspec
import orjson

from lookup._os import crash_point, fsync_path
from lookup.errors import StoreError
from lookup.store import DATA_FILE, DataDir
from lookup.store.manifest import MANIFEST, read_manifest

__all__ = ("LATEST", "describe_pull", "pull", "pull_every", "push")

LATEST = "latest.json"
CHUNK = 8 << 20  # bytes per read: few round trips, bounded memory
# What a pushed manifest may name, checked before a remote name becomes a local path.
_SNAPSHOT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?")
_SHA256 = re.compile(r"[0-9a-f]{64}")


# -- push ---------------------------------------------------------------------------------------
def push(data: DataDir, url: str) -> dict[str, Any]:
    """Push the current snapshot to `url` and point latest.json at it."""
    path = data.current_path()
    manifest = read_manifest(path)
    assert manifest is not None  # current_path checked it
    snapshot_id = path.name
    fs, root = _filesystem(url)
    files: dict[str, dict[str, Any]] = {}
    uploaded = 0
    for name, local in _snapshot_files(path):
        size = local.stat().st_size
        digest = _sha256_of(local)
        files[name] = {"sha256": digest, "size": size}
        blob = f"{root}/blobs/{digest}"
        with _remote(url):
            if _size_or_none(fs, blob) == size:
                continue  # pushed before (a delta's base): content-named, so the same bytes
            _put(fs, local, blob)
        uploaded += size
    pushed = {**manifest, "files": files}
    with _remote(url):
        # The pointer moves last: a puller never reads a manifest whose blobs are not all there.
        _put_bytes(fs, f"{root}/snapshots/{snapshot_id}.json", orjson.dumps(pushed))
        _put_bytes(fs, f"{root}/{LATEST}", orjson.dumps({"snapshot": snapshot_id}))
    return {
        "snapshot": snapshot_id,
        "url": url,
        "files": len(files),
        "bytes": sum(f["size"] for f in files.values()),
        "uploaded_bytes": uploaded,
    }


def _snapshot_files(path: Path) -> Iterator[tuple[str, Path]]:
    """Yield (name relative to the snapshot, path) of every data file of a snapshot."""
    for local in sorted(path.rglob("*")):
        name = local.relative_to(path).as_posix()
        # lock.mdb: LMDB's reader table, never part of the data; manifest: pushed as its own.
        if local.is_file() and local.name != "lock.mdb" and name != MANIFEST:
            yield name, local


def _put(fs: Any, local: Path, remote: str) -> None:
    """Upload a file so that it appears whole under its name, never half-written."""
    if _is_local(fs):
        # A served directory: copy beside, then rename, so nginx never serves a partial blob.
        tmp = f"{remote}.{secrets.token_hex(4)}.tmp"
        fs.makedirs(fs._parent(remote), exist_ok=True)
        fs.put_file(str(local), tmp)
        fs.mv(tmp, remote)
    else:
        fs.put_file(str(local), remote)  # an object store shows an object only once complete


def _put_bytes(fs: Any, remote: str, payload: bytes) -> None:
    """Write a small remote file (a manifest, the pointer) whole."""
    if _is_local(fs):
        tmp = f"{remote}.{secrets.token_hex(4)}.tmp"
        fs.makedirs(fs._parent(remote), exist_ok=True)
        fs.pipe_file(tmp, payload)
        fs.mv(tmp, remote)
    else:
        fs.pipe_file(remote, payload)


# -- pull ---------------------------------------------------------------------------------------
def pull(data: DataDir, url: str, *, keep: int | None = None) -> dict[str, Any]:
    """Make the snapshot latest.json names at `url` current here, fetching what is missing.

    Every fetched file is checked against the manifest's sha256 before anything is published;
    a snapshot already held is made current without a download, and the current one is left
    as it is (pulling twice is a no-op). With `keep`, older snapshots beyond the newest
    `keep` are deleted after a publish.
    """
    fs, root = _filesystem(url)
    with _remote(url):
        latest = _read_json(fs, f"{root}/{LATEST}", url)
    snapshot_id = latest.get("snapshot") if isinstance(latest, dict) else None
    if not isinstance(snapshot_id, str) or not _SNAPSHOT_ID.fullmatch(snapshot_id):
        raise StoreError(f"{url}/{LATEST} names no valid snapshot: {latest!r}")
    summary = {"snapshot": snapshot_id, "url": url, "changed": False, "downloaded_bytes": 0}
    if data.current_id() == snapshot_id:
        return summary
    with data.writer():
        if read_manifest(data.snapshots / snapshot_id) is not None:
            data.set_current(snapshot_id)  # held already: the builder rolled back to it
        else:
            with _remote(url):
                manifest = _read_json(fs, f"{root}/snapshots/{snapshot_id}.json", url)
            files = _checked_files(manifest, snapshot_id, url)
            fetched = _fetch(data, fs, root, url, snapshot_id, files)
            summary["downloaded_bytes"] = sum(files[name]["size"] for name in fetched)
            crash_point("pull-before-publish")
            # A linked base is cached already; a fetched one is read into 2 MB pages.
            data.publish(snapshot_id, manifest, new_data=DATA_FILE in fetched)
        summary["changed"] = True
        if keep is not None:
            summary["deleted"] = data.prune(keep)
    return summary


def pull_every(
    data: DataDir, url: str, seconds: float, *, keep: int | None, as_json: bool
) -> NoReturn:
    """Pull now and every `seconds` after, until stopped: a replica's sidecar.

    A failed pull (the store unreachable, a damaged push) is one line on stderr and is tried
    again next time: the replica keeps serving what it has.
    """
    while True:
        try:
            summary = pull(data, url, keep=keep)
        except Exception as exc:  # any failure: what a sidecar must outlive
            print(f"lookup pull: {exc}", file=sys.stderr, flush=True)
        else:
            if summary["changed"]:
                line = orjson.dumps(summary).decode() if as_json else describe_pull(summary)
                print(line, flush=True)
        time.sleep(seconds)


def describe_pull(summary: dict[str, Any]) -> str:
    """Return the one-line summary of a pull."""
    if not summary["changed"]:
        return f"snapshot {summary['snapshot']} from {summary['url']} is current already"
    return (
        f"published snapshot {summary['snapshot']} from {summary['url']} "
        f"({summary['downloaded_bytes']:,} bytes downloaded)"
    )


def _checked_files(manifest: Any, snapshot_id: str, url: str) -> dict[str, dict[str, Any]]:
    """Return the manifest's file list once every name, size and checksum in it is sound."""
    bad = StoreError(f"{url}: the manifest of snapshot {snapshot_id} is not a pushed manifest")
    if not isinstance(manifest, dict) or manifest.get("id") != snapshot_id:
        raise bad
    files = manifest.get("files")
    if not isinstance(files, dict) or DATA_FILE not in files:
        raise bad
    for name, entry in files.items():
        if (
            not _FILE_NAME.fullmatch(name)
            or name == MANIFEST
            or not isinstance(entry, dict)
            or not isinstance(entry.get("size"), int)
            or not _SHA256.fullmatch(str(entry.get("sha256")))
        ):
            raise bad
    return files


def _fetch(
    data: DataDir, fs: Any, root: str, url: str, snapshot_id: str, files: dict[str, Any]
) -> set[str]:
    """Fill staging/<id> with the snapshot's files; return the names downloaded (not linked)."""
    staged = data.staging / snapshot_id
    staged.mkdir(parents=True)
    held = _held_files(data)
    downloaded = set()
    for name, entry in files.items():
        target = staged / name
        target.parent.mkdir(parents=True, exist_ok=True)
        local = held.get(entry["sha256"])
        if local is not None and local.stat().st_size == entry["size"]:
            os.link(local, target)  # checked when it was pulled; snapshots never change
            continue
        with _remote(url):
            _download(fs, f"{root}/blobs/{entry['sha256']}", target, name, entry, url)
        downloaded.add(name)
        if target.parent != staged:
            fsync_path(target.parent)
    return downloaded


def _download(fs: Any, remote: str, target: Path, name: str, entry: Any, url: str) -> None:
    """Copy one blob into `target`, hashing as it goes; refuse bytes that are not the pushed."""
    digest = hashlib.sha256()
    size = 0
    with fs.open(remote, "rb", block_size=CHUNK, cache_type="none") as src, open(target, "wb") as f:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            f.write(chunk)
        f.flush()
        os.fsync(f.fileno())
    if size != entry["size"] or digest.hexdigest() != entry["sha256"]:
        raise StoreError(
            f"{name} of snapshot {target.parent.name} from {url} fails its checksum: "
            f"sha256 {digest.hexdigest()} ({size:,} bytes) where the manifest says "
            f"{entry['sha256']} ({entry['size']:,} bytes); nothing was published "
            "(the pushed copy is damaged or was replaced: push it again)"
        )


def _held_files(data: DataDir) -> dict[str, Path]:
    """Map the checksums recorded in the manifests of held (pulled) snapshots to their files."""
    held: dict[str, Path] = {}
    for info in data.list():
        for name, entry in (info.manifest.get("files") or {}).items():
            if isinstance(entry, dict) and _FILE_NAME.fullmatch(name):
                held.setdefault(str(entry.get("sha256")), info.path / name)
    return held


# -- plumbing -----------------------------------------------------------------------------------
def _filesystem(url: str) -> tuple[Any, str]:
    """Return the fsspec filesystem for `url` and the root path within it."""
    try:
        fs, root = fsspec.core.url_to_fs(url.rstrip("/"))
    except (ImportError, ValueError) as exc:  # s3:// without s3fs, an unknown protocol
        raise StoreError(f"cannot use {url}: {exc}") from None
    return fs, str(root).rstrip("/")


def _is_local(fs: Any) -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return "file" in protocol or "local" in protocol


def _size_or_none(fs: Any, path: str) -> int | None:
    try:
        return int(fs.size(path))
    except FileNotFoundError:
        return None


def _read_json(fs: Any, path: str, url: str) -> Any:
    try:
        payload = fs.cat_file(path)
    except FileNotFoundError:
        name = path.rsplit("/", 1)[-1]
        hint = f": run `lookup push {url}` on the builder" if name == LATEST else ""
        raise StoreError(f"nothing at {url}: {name} is missing{hint}") from None
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise StoreError(f"{url}: {path.rsplit('/', 1)[-1]} is not JSON") from None


def _sha256_of(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


@contextmanager
def _remote(url: str) -> Iterator[None]:
    """Turn a failure to reach `url` (refused, timed out, HTTP error) into one clear line."""
    try:
        yield
    except StoreError:
        raise
    except FileNotFoundError as exc:
        raise StoreError(f"{url}: not found: {exc}") from None
    except Exception as exc:
        # aiohttp, botocore and OSError types alike: the sidecar retries, the CLI says why.
        if isinstance(exc, OSError) and exc.errno is not None and not _is_network(exc):
            raise  # a local disk error: the CLI explains it (full disk, read-only)
        raise StoreError(f"cannot reach {url}: {type(exc).__name__}: {exc}") from None


def _is_network(exc: OSError) -> bool:
    return exc.errno in {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ETIMEDOUT,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
    }
