"""The synthetic files as they are written (lookup.synth): each to a temporary name, renamed into
place when complete, so a killed `lookup synth` never leaves a file that looks finished."""

from __future__ import annotations

import csv
import gzip
import io
import os
import queue
import shutil
import threading

from lookup.synth.world import quote

__all__ = ("GZIP_LEVEL", "JoinedFile", "OutFile", "part_name")

GZIP_LEVEL = 3  # synthetic files are rewritten often: speed over the last percent of size


def part_name(path: str, shard: int) -> str:
    """Name the part file of one shard, beside the output (same file system) and as gzipped."""
    return f"{path}.{os.getpid()}.part{shard}" + (".gz" if path.endswith(".gz") else "")


class JoinedFile:
    """A final output file: the header, then the shards' part files in order."""

    def __init__(self, path: str, header: tuple[str, ...]) -> None:
        self.path = path
        self.tmp = f"{path}.tmp{os.getpid()}"
        self.raw = open(self.tmp, "wb")
        self.rows = 0
        line = io.StringIO()
        csv.writer(line, lineterminator="\n").writerow(header)
        data = line.getvalue().encode("utf-8")
        # Concatenated gzip members are one gzip file (RFC 1952); mtime=0: same bytes each run.
        self.raw.write(gzip.compress(data, GZIP_LEVEL, mtime=0) if path.endswith(".gz") else data)

    def append(self, part: tuple[str, int]) -> None:
        """Append a finished part file and delete it."""
        path, rows = part
        with open(path, "rb") as f:
            shutil.copyfileobj(f, self.raw, 1 << 20)
        os.unlink(path)
        self.rows += rows

    def close(self) -> None:
        """Move the finished file into place."""
        self.raw.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        """Drop the unfinished file."""
        self.raw.close()
        if os.path.exists(self.tmp):
            os.unlink(self.tmp)


class OutFile:
    """One output CSV: written to a temporary name, renamed into place when complete.

    A `.gz` name is compressed on a background thread (zlib releases the GIL), so compression
    overlaps with drawing the next rows.
    """

    def __init__(self, path: str, header: tuple[str, ...] | None = None) -> None:
        self.path = path
        self.tmp = f"{path}.tmp{os.getpid()}"
        self.raw = open(self.tmp, "wb")
        self.rows = 0
        self.gz: gzip.GzipFile | None = None
        self.queue: queue.Queue[bytes | None] | None = None
        self.error: BaseException | None = None
        if path.endswith(".gz"):
            # mtime=0 and no file name in the header: the same rows give the same bytes.
            self.gz = gzip.GzipFile(
                filename="", mode="wb", fileobj=self.raw, compresslevel=GZIP_LEVEL, mtime=0
            )
            self.queue = queue.Queue(maxsize=8)
            self.thread = threading.Thread(target=self._drain, name="synth-gzip", daemon=True)
            self.thread.start()
        if header:
            line = io.StringIO()
            csv.writer(line, lineterminator="\n").writerow(header)
            self._put(line.getvalue())

    def write_lines(self, lines: list[str]) -> None:
        """Write CSV lines (without line ends).

        Lines are joined from CSV-encoded fields (world.quote): the same bytes the csv
        module writes, at a fraction of its cost (it reads each character twice).
        """
        if lines:
            self._put("\n".join(lines) + "\n")
            self.rows += len(lines)

    def write_rows(self, rows: list[list[str]]) -> None:
        """Write rows of plain values."""
        self.write_lines([",".join(map(quote, row)) for row in rows])

    def _put(self, text: str) -> None:
        # surrogateescape lets deliberately broken rows carry bytes that are not UTF-8.
        data = text.encode("utf-8", "surrogateescape")
        if self.queue is None:
            self.raw.write(data)
            return
        if self.error is not None:
            raise self.error
        self.queue.put(data)

    def _drain(self) -> None:
        """Compress and write queued chunks until None arrives (the writer thread)."""
        assert self.queue is not None and self.gz is not None
        while (data := self.queue.get()) is not None:
            if self.error is None:
                try:
                    self.gz.write(data)
                except BaseException as exc:  # handed to the main thread
                    self.error = exc

    def _finish_thread(self) -> None:
        if self.queue is not None:
            self.queue.put(None)
            self.thread.join()
            self.queue = None

    def close(self) -> None:
        """Finish the file and move it into place."""
        self._finish_thread()
        if self.error is not None:
            raise self.error
        if self.gz is not None:
            self.gz.close()  # leaves self.raw open
        self.raw.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        """Drop a file that will not be finished."""
        self._finish_thread()
        for stream in (self.gz, self.raw):
            try:
                if stream is not None:
                    stream.close()
            except Exception:  # already failing; the first error is the one
                pass
        if os.path.exists(self.tmp):
            os.unlink(self.tmp)
