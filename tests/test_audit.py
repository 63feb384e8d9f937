"""The audit log (SPEC.md 5, lookup/service/audit.py): one record per answer with keyed hashes,
grouped writes, daily files, failure and recovery, fsync policies. Runs on asyncio and uvloop."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import stat
from datetime import UTC, datetime

import pytest
import uvloop

from lookup.service import audit as audit_module
from lookup.service.audit import AuditLog, AuditUnavailable, load_secret

SECRET = b"s" * 32


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request):
    """Run a coroutine to completion on a fresh event loop of either kind."""

    def run(coro):
        loop = asyncio.new_event_loop() if request.param == "asyncio" else uvloop.new_event_loop()
        try:
            return loop.run_until_complete(coro)
        finally:
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    return run


def lines(directory) -> list[dict]:
    return [
        json.loads(line)
        for path in sorted(directory.glob("audit-*.jsonl"))
        for line in path.read_text().splitlines()
        if line
    ]


def new_log(tmp_path, **kwargs) -> AuditLog:
    return AuditLog(
        tmp_path / "audit",
        worker=kwargs.pop("worker", "w0"),
        secret=kwargs.pop("secret", SECRET),
        **kwargs,
    )


def test_one_record_per_call_with_hashed_ids(tmp_path, run):
    async def main():
        log = new_log(tmp_path)
        await log.record(
            client="bv-1",
            endpoint="entitlement",
            ids=["001085012345"],
            results=["000"],
            snapshot="snap-1",
        )
        await log.record(
            client="batcher",
            endpoint="batch",
            ids=["001085012345", "x-1", ""],
            results=["000", "205", "205"],
            snapshot="snap-1",
            officer="Nguyễn Văn An 001190000001",
        )
        await log.close()
        return log

    log = run(main())
    records = lines(tmp_path / "audit")
    assert len(records) == 2
    first, batch = records
    assert set(first) == {"time", "client", "officer", "endpoint", "ids", "results", "snapshot"}
    assert first["client"] == "bv-1" and first["endpoint"] == "entitlement"
    assert first["ids"] == [log.hash_id("001085012345")] and first["results"] == ["000"]
    assert first["officer"] is None and first["snapshot"] == "snap-1"
    assert datetime.fromisoformat(first["time"].replace("Z", "+00:00")).tzinfo is not None
    assert batch["ids"] == [log.hash_id(i) for i in ("001085012345", "x-1", "")]
    assert batch["results"] == ["000", "205", "205"]
    assert batch["officer"] == log.hash_id("Nguyễn Văn An 001190000001")
    text = "".join(p.read_text() for p in (tmp_path / "audit").iterdir())
    assert "001085012345" not in text and "Nguyễn" not in text and "001190000001" not in text
    (path,) = (tmp_path / "audit").iterdir()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_hash_id_is_keyed_and_folds_spacing_and_case():
    a, b = AuditLog.__new__(AuditLog), AuditLog.__new__(AuditLog)
    a.__init__("/nonexistent/a", worker="w", secret=b"a" * 32)
    b.__init__("/nonexistent/b", worker="w", secret=b"b" * 32)
    assert a.hash_id("001085012345") == a.hash_id(" 0010 8501\t2345\n")
    assert a.hash_id("dn4010112345678") == a.hash_id("DN4010112345678")
    assert a.hash_id("001085012345") != b.hash_id("001085012345")
    assert len(a.hash_id("x")) == 32 and int(a.hash_id("x"), 16) >= 0
    import hashlib

    assert a.hash_id("ABC") == hashlib.blake2b(b"ABC", key=b"a" * 32, digest_size=16).hexdigest()


def test_concurrent_records_share_writes(tmp_path, run):
    async def main():
        log = new_log(tmp_path, fsync="never")
        await asyncio.gather(
            *(
                log.record(
                    client="c",
                    endpoint="entitlement",
                    ids=[f"{n:012d}"],
                    results=["050"],
                    snapshot="s",
                )
                for n in range(500)
            )
        )
        assert log.backlog == 0
        await log.close()
        return log

    log = run(main())
    assert len(lines(tmp_path / "audit")) == 500
    assert 1 <= log.writes <= 5  # one os.write for a whole loop iteration's worth of records


def test_record_returns_after_the_write_and_backlog_counts_pending(tmp_path, run):
    async def main():
        log = new_log(tmp_path, fsync="never")
        done = log.record(client="c", endpoint="vneid", ids=["1"], results=["000"], snapshot="s")
        # The record is queued...
        assert log.backlog == 1 and lines(tmp_path / "audit") == [] and not done.done()
        await done  # ...and on disk (page cache) once the future completes
        assert log.backlog == 0 and len(lines(tmp_path / "audit")) == 1
        await log.close()

    run(main())


def test_a_cancelled_request_does_not_cancel_its_neighbours(tmp_path, run):
    async def main():
        log = new_log(tmp_path, fsync="never")
        calls = [
            asyncio.ensure_future(
                log.record(client="c", endpoint="e", ids=[str(n)], results=["000"], snapshot="s")
            )
            for n in range(3)
        ]
        await asyncio.sleep(0)
        calls[0].cancel()
        await asyncio.gather(calls[1], calls[2])
        await log.close()

    run(main())
    assert len(lines(tmp_path / "audit")) == 3  # the cancelled caller's record was written too


def test_files_rotate_at_midnight_utc(tmp_path, run):
    times = iter(
        [
            datetime(2026, 6, 1, 23, 59, 59, 500000, tzinfo=UTC).timestamp(),  # constructor open
            datetime(2026, 6, 1, 23, 59, 59, 600000, tzinfo=UTC).timestamp(),  # record
            datetime(2026, 6, 1, 23, 59, 59, 700000, tzinfo=UTC).timestamp(),  # its write
            datetime(2026, 6, 2, 0, 0, 0, 100000, tzinfo=UTC).timestamp(),
            datetime(2026, 6, 2, 0, 0, 0, 200000, tzinfo=UTC).timestamp(),
        ]
    )

    async def main():
        log = new_log(tmp_path, worker="3", clock=lambda: next(times), fsync="interval")
        for _ in range(2):
            await log.record(client="c", endpoint="e", ids=["1"], results=["000"], snapshot="s")
        await log.close()

    run(main())
    files = sorted(p.name for p in (tmp_path / "audit").iterdir())
    assert files == ["audit-2026-06-01-3.jsonl", "audit-2026-06-02-3.jsonl"]
    day1 = json.loads((tmp_path / "audit" / files[0]).read_text())
    day2 = json.loads((tmp_path / "audit" / files[1]).read_text())
    assert day1["time"] == "2026-06-01T23:59:59.600Z" and day2["time"].startswith("2026-06-02T")


def test_directory_replaced_by_a_file_fails_then_recovers(tmp_path, run):
    async def main():
        log = new_log(tmp_path)
        log.REOPEN_CHECK_S = 0.0  # check the file's identity on every write
        log.RETRY_S = 0.0
        args = dict(client="c", endpoint="e", ids=["1"], results=["000"], snapshot="s")
        await log.record(**args)
        os.rename(tmp_path / "audit", tmp_path / "audit.old")
        (tmp_path / "audit").write_text("not a directory")
        with pytest.raises(AuditUnavailable, match="not writable"):
            await log.record(**args)
        assert log.healthy is False and log.backlog == 0
        with pytest.raises(AuditUnavailable):  # still broken: every call says so
            await log.record(**args)
        (tmp_path / "audit").unlink()
        assert log.healthy is True  # recovers by itself, without traffic
        await log.record(**args)
        await log.close()

    run(main())
    assert len(lines(tmp_path / "audit.old")) == 1
    assert len(lines(tmp_path / "audit")) == 1


def test_closed_descriptor_fails_once_then_reopens(tmp_path, run):
    async def main():
        log = new_log(tmp_path)
        args = dict(client="c", endpoint="e", ids=["1"], results=["000"], snapshot="s")
        await log.record(**args)
        os.close(log._fd)  # as if something closed our fd (EBADF on the next write)
        with pytest.raises(AuditUnavailable, match="EBADF"):
            await log.record(**args)
        assert not log._healthy
        await log.record(**args)  # the next call reopens
        assert log.healthy
        await log.close()

    run(main())
    assert len(lines(tmp_path / "audit")) == 2


def test_disk_full_fails_every_waiter_and_recovers(tmp_path, run, monkeypatch):
    real_write = os.write
    full = True

    def write(fd, data):
        if full and fd > 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    async def main():
        nonlocal full
        log = new_log(tmp_path, fsync="never")
        monkeypatch.setattr(audit_module.os, "write", write)
        results = await asyncio.gather(
            *(
                log.record(client="c", endpoint="e", ids=[str(n)], results=["000"], snapshot="s")
                for n in range(10)
            ),
            return_exceptions=True,
        )
        assert all(isinstance(r, AuditUnavailable) for r in results)
        assert "ENOSPC" in str(results[0]) and log.backlog == 0 and not log._healthy
        full = False
        await log.record(client="c", endpoint="e", ids=["ok"], results=["000"], snapshot="s")
        assert log.healthy
        await log.close()

    run(main())
    assert [r["ids"] for r in lines(tmp_path / "audit")] == [[new_log(tmp_path).hash_id("ok")]]


def test_a_partial_last_line_left_by_a_killed_worker_is_closed(tmp_path, run):
    day = datetime.now(UTC).date().isoformat()
    (tmp_path / "audit").mkdir()
    (tmp_path / "audit" / f"audit-{day}-w0.jsonl").write_text('{"time": "x"}\n{"time": "hal')

    async def main():
        log = new_log(tmp_path)
        await log.record(client="c", endpoint="e", ids=["1"], results=["000"], snapshot="s")
        await log.close()

    run(main())
    text = (tmp_path / "audit" / f"audit-{day}-w0.jsonl").read_text().splitlines()
    assert text[1] == '{"time": "hal' and json.loads(text[2])["client"] == "c"


@pytest.fixture
def fsyncs(monkeypatch):
    calls = []
    real = os.fsync

    def fsync(fd):
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(audit_module.os, "fsync", fsync)
    return calls


def test_fsync_always_syncs_before_record_returns(tmp_path, run, fsyncs):
    async def main():
        log = new_log(tmp_path, fsync="always")
        for n in range(3):
            await log.record(client="c", endpoint="e", ids=[str(n)], results=["000"], snapshot="s")
            assert len(fsyncs) == n + 1
        await asyncio.gather(
            *(
                log.record(client="c", endpoint="e", ids=[str(n)], results=["000"], snapshot="s")
                for n in range(50)
            )
        )
        assert len(fsyncs) <= 3 + 5  # grouped writes share their fsync too
        await log.close()

    run(main())


def test_fsync_interval_syncs_in_the_background_at_most_once_a_second(tmp_path, run, fsyncs):
    async def main():
        log = new_log(tmp_path, fsync="interval")
        for n in range(20):
            await log.record(client="c", endpoint="e", ids=[str(n)], results=["000"], snapshot="s")
        assert fsyncs == []  # nothing waited for the disk
        await asyncio.sleep(1.3)
        assert len(fsyncs) == 1
        await asyncio.sleep(1.0)
        assert len(fsyncs) == 1  # nothing new written: nothing to sync
        await log.close()

    run(main())


def test_fsync_never_never_syncs(tmp_path, run, fsyncs):
    async def main():
        log = new_log(tmp_path, fsync="never")
        await log.record(client="c", endpoint="e", ids=["1"], results=["000"], snapshot="s")
        await log.close()

    run(main())
    assert fsyncs == []


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="fsync"):
        new_log(tmp_path, fsync="sometimes")
    with pytest.raises(ValueError, match="worker"):
        new_log(tmp_path, worker="../x")
    with pytest.raises(ValueError, match="secret"):
        new_log(tmp_path, secret=b"short")


def test_load_secret_creates_it_once_privately(tmp_path):
    first = load_secret(tmp_path)
    assert len(first) == 32 and load_secret(tmp_path) == first
    assert stat.S_IMODE((tmp_path / "audit.key").stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["audit.key"]  # no temporary left behind


def test_unwritable_directory_at_start_is_unhealthy_not_fatal(tmp_path, run):
    (tmp_path / "audit").write_text("a file where the directory should be")
    log = new_log(tmp_path)
    assert log.healthy is False and "EEXIST" in log.last_error

    async def main():
        with pytest.raises(AuditUnavailable):
            await log.record(client="c", endpoint="e", ids=["1"], results=["000"], snapshot="s")
        await log.close()

    run(main())
