"""Snapshots: listing, rollback, prune, the writer lock, and the Vietnam-date rule."""

from __future__ import annotations

import mmap
import os
from datetime import UTC, date, datetime

import orjson
import pytest

from lookup.clock import parse_date, today_in_vietnam
from lookup.errors import IdError, StoreError
from lookup.ingest.build import build
from lookup.query import Entitlements
from lookup.store import DataDir
from lookup.store.pagecache import load_in_large_pages

from helpers.files import person, write_csv


@pytest.fixture
def data(tmp_path):
    data = DataDir(tmp_path / "data")
    for name in ("Một", "Hai", "Ba"):
        path = write_csv(tmp_path / f"{name}.csv", [person(1, full_name=f"Nguyễn Văn {name}")])
        build(data, str(path))
    return data


def name_served(data: DataDir) -> str:
    with Entitlements.open_current(data) as e:
        return orjson.loads(e.answer(person(1)["cccd"], date(2026, 6, 1)))["person"]["full_name"]


def test_snapshots_are_listed_oldest_first_with_the_current_marked(data):
    snapshots = data.list()
    assert len(snapshots) == 3
    assert [s.current for s in snapshots] == [False, False, True]
    assert snapshots[0].created_at < snapshots[1].created_at < snapshots[2].created_at
    assert name_served(data) == "Nguyễn Văn Ba"


def test_rollback_goes_to_the_previous_or_a_named_snapshot(data):
    ids = [s.id for s in data.list()]
    with data.writer():
        assert data.rollback().id == ids[1]
    assert name_served(data) == "Nguyễn Văn Hai"
    with data.writer():
        data.rollback(ids[2])
    assert name_served(data) == "Nguyễn Văn Ba"
    with data.writer(), pytest.raises(StoreError, match="no snapshot 'nope'"):
        data.rollback("nope")
    with data.writer():
        data.rollback(ids[0])
    with data.writer(), pytest.raises(StoreError, match="no snapshot older"):
        data.rollback()


def test_prune_keeps_the_newest_and_always_the_current(data):
    ids = [s.id for s in data.list()]
    with data.writer():
        data.rollback(ids[0])
        assert data.prune(keep=1) == [ids[1]]
    assert [s.id for s in data.list()] == [ids[0], ids[2]]
    assert name_served(data) == "Nguyễn Văn Một"


def test_one_writer_at_a_time(data, tmp_path):
    with data.writer():
        with pytest.raises(StoreError, match="another build"):
            build(data, str(write_csv(tmp_path / "x.csv", [person(2)])))
    assert len(data.list()) == 3


def test_no_snapshot_yet_says_how_to_make_one(tmp_path):
    with pytest.raises(StoreError, match="lookup build EXTRACT"):
        DataDir(tmp_path / "empty").current_path()


@pytest.mark.parametrize(
    ("utc", "vietnam"),
    [
        (datetime(2026, 11, 22, 16, 59, tzinfo=UTC), date(2026, 11, 22)),
        (datetime(2026, 11, 22, 17, 0, tzinfo=UTC), date(2026, 11, 23)),
        (datetime(2026, 11, 22, 23, 30, tzinfo=UTC), date(2026, 11, 23)),
        (datetime(2026, 12, 31, 17, 0, tzinfo=UTC), date(2027, 1, 1)),
    ],
)
def test_today_is_the_date_in_vietnam(utc, vietnam):
    assert today_in_vietnam(utc) == vietnam


def test_at_2330_utc_a_card_ending_today_utc_has_expired_in_vietnam(tmp_path):
    data = DataDir(tmp_path / "d")
    build(data, str(write_csv(tmp_path / "x.csv", [person(1, valid_to="2026-11-22")])))
    with Entitlements.open_current(data) as e:
        evening = today_in_vietnam(datetime(2026, 11, 22, 16, 0, tzinfo=UTC))
        late = today_in_vietnam(datetime(2026, 11, 22, 23, 30, tzinfo=UTC))
        assert orjson.loads(e.answer(person(1)["cccd"], evening))["result"]["code"] == "000"
        body = orjson.loads(e.answer(person(1)["cccd"], late))
    assert (body["result"]["code"], body["date"]) == ("010", "2026-11-23")


@pytest.mark.parametrize(
    ("text", "message"),
    [("2026-13-01", "not a real date"), ("22/11/2026", "YYYY-MM-DD"), ("١٩٨٥-٠١-٠١", "YYYY-MM-DD")],
)
def test_bad_date_parameters_are_named(text, message):
    with pytest.raises(IdError, match=f"date: .*{message}"):
        parse_date(text)


def test_loading_a_file_in_large_pages_leaves_it_as_it_was(tmp_path):
    """lookup.store.pagecache drops the file's cached pages and reads them back: same bytes, even
    while another mapping of it is open (a page still mapped is simply not dropped)."""
    path = tmp_path / "data.mdb"
    content = os.urandom(3 << 20)
    path.write_bytes(content)
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as other:
        load_in_large_pages(path)
        assert other[:] == content
    assert path.read_bytes() == content
    (tmp_path / "empty").write_bytes(b"")
    load_in_large_pages(tmp_path / "empty")
    assert (tmp_path / "empty").read_bytes() == b""
