"""`lookup facilities import` / `list` (SPEC.md 1.4, 2) end to end on real files, the `Registry`
the service reads, its atomic replacement (a crash mid-import leaves the old one) and the
watcher that lets a serving worker pick up a new import."""

from __future__ import annotations

import json
import logging
import time
import unicodedata
from pathlib import Path

import pytest

from lookup.cli import main
from lookup.errors import StoreError
from lookup.facilities import Registry
from lookup.facilities.storage import KEEP, RegistryStore
from lookup.facilities.watch import RegistryWatcher
from lookup.service.audit import AuditLog, load_secret

from helpers.cli import lookup
from helpers.facilities import COLUMNS, OFFICERS, REGISTRY, write_registry


def run(capfd, *args: str) -> tuple[int, str, str]:
    """Run the command line in this process; return (status, stdout, stderr)."""
    try:
        status = main(list(args))
    except SystemExit as exc:  # argparse's usage errors
        status = int(exc.code or 0)
    out, err = capfd.readouterr()
    return status, out, err


@pytest.fixture
def data(tmp_path) -> Path:
    return tmp_path / "data"


def imported(capfd, data: Path, path: Path) -> dict:
    status, out, err = run(capfd, "facilities", "import", str(path), "--data", str(data), "--json")
    assert status == 0, err
    return json.loads(out)


def listing(capfd, data: Path) -> dict:
    status, out, err = run(capfd, "facilities", "list", "--data", str(data), "--json")
    assert status == 0, err
    return json.loads(out)


def assert_no_officer_data(text: str) -> None:
    for cccd, name in OFFICERS.items():
        assert cccd not in text
        for form in ("NFC", "NFD"):
            assert unicodedata.normalize(form, name).casefold() not in text.casefold()


# -- import and list through the command line ----------------------------------------------------
def test_import_prints_a_one_line_summary_and_list_shows_the_facilities(tmp_path, data, capfd):
    path = write_registry(tmp_path / "registry.csv")
    status, out, err = run(capfd, "facilities", "import", str(path), "--data", str(data))
    assert status == 0 and err == ""
    assert out.count("\n") == 1
    assert out.startswith("imported facility registry ")
    assert "4 facilities (2 central, 1 provincial, 1 primary), 3 officers at 2 of them" in out
    status, out, err = run(capfd, "facilities", "list", "--data", str(data))
    assert status == 0 and err == ""
    lines = out.splitlines()
    assert lines[:4] == [
        "01832  01  central        2 officers  Bệnh viện Bạch Mai",
        "01C51  01  primary        0 officers  Trạm y tế xã Phú Thượng",
        "02005  02  provincial     0 officers  Bệnh viện đa khoa Hà Giang",
        "79024  79  central        1 officer   Bệnh viện Chợ Rẫy",
    ]
    version = Registry.load(data).version  # type: ignore[union-attr]
    assert lines[4] == f"4 facilities, 2 with registered officers (registry {version})"
    assert_no_officer_data(out)


def test_import_and_list_as_json(tmp_path, data, capfd):
    summary = imported(capfd, data, write_registry(tmp_path / "registry.csv"))
    assert summary == {
        "version": summary["version"],
        "previous": None,
        "source": str(tmp_path / "registry.csv"),
        "rows": 5,
        "facilities": 4,
        "levels": {"central": 2, "provincial": 1, "basic": 0, "primary": 1},
        "officers": 3,
        "facilities_with_officers": 2,
    }
    listed = listing(capfd, data)
    assert listed["version"] == summary["version"]
    assert listed["facilities"][0] == {
        "code": "01832",
        "name": "Bệnh viện Bạch Mai",
        "province": "01",
        "level": "central",
        "officers": 2,
    }
    assert [f["code"] for f in listed["facilities"]] == ["01832", "01C51", "02005", "79024"]
    assert_no_officer_data(json.dumps(listed, ensure_ascii=False))
    again = imported(capfd, data, write_registry(tmp_path / "registry.csv"))
    assert again["previous"] == summary["version"] != again["version"]


def test_list_before_any_import(data, capfd):
    status, out, _ = run(capfd, "facilities", "list", "--data", str(data))
    assert status == 0 and "no facility registry" in out and "facilities import" in out
    assert listing(capfd, data) == {"version": None, "facilities": []}


def test_usage_errors_exit_2():
    assert lookup("facilities").returncode == 2
    done = lookup("facilities", "import")
    assert done.returncode == 2 and "FILE" in done.stderr


@pytest.mark.parametrize(
    "form",
    ["bom", "crlf", "gzip", "column order", "facilities alone", "quoted", "blank lines"],
)
def test_file_forms_give_the_same_registry(tmp_path, data, capfd, form):
    rows, columns, kwargs, name = REGISTRY, COLUMNS, {}, "registry.csv"
    if form == "bom":
        kwargs = {"bom": True}
    elif form == "crlf":
        kwargs = {"line_end": "\r\n"}
    elif form == "gzip":
        name = "registry.csv.gz"
    elif form == "column order":
        columns = tuple(reversed(COLUMNS))
    path = write_registry(tmp_path / name, rows, columns, **kwargs)
    if form == "facilities alone":  # no officer columns at all
        plain = [{k: v for k, v in r.items() if not k.startswith("officer")} for r in REGISTRY]
        path = write_registry(tmp_path / name, plain, COLUMNS[:4])
    elif form == "quoted":
        text = path.read_text(encoding="utf-8").replace("Bệnh viện Chợ Rẫy", '"Chợ Rẫy, cơ sở 1"')
        path.write_text(text, encoding="utf-8")
    elif form == "blank lines":
        path.write_text(path.read_text(encoding="utf-8").replace("\n", "\n\n"), encoding="utf-8")
    imported(capfd, data, path)
    registry = Registry.load(data)
    assert registry is not None
    assert registry.facility("01832") == ("Bệnh viện Bạch Mai", "central")
    assert registry.facility("02005") == ("Bệnh viện đa khoa Hà Giang", "provincial")
    if form == "quoted":
        assert registry.facility("79024") == ("Chợ Rẫy, cơ sở 1", "central")
    assert registry.officers("01832") is (form != "facilities alone")
    assert registry.officer_ok("01832", "001190000777") is (form != "facilities alone")


# -- files and rows that are refused -------------------------------------------------------------
@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("facility_code,name,province,level,phone", "unknown column 'phone'"),
        ("facility_code,name,level", "missing required column province"),
        ("facility_code,name,province,level,officer_cccd", "missing column officer_name"),
        ("facility_code,name,province,level,level", "column given twice: level"),
        ("", "empty file"),
    ],
)
def test_a_file_with_wrong_columns_is_refused_naming_them(tmp_path, data, capfd, header, message):
    path = tmp_path / "registry.csv"
    path.write_text(header + ("\n" if header else ""), encoding="utf-8")
    status, out, err = run(capfd, "facilities", "import", str(path), "--data", str(data))
    assert status == 1 and out == ""
    assert err.startswith("lookup facilities: ") and message in err
    assert not (data / "facilities" / "CURRENT").exists()


def test_a_file_without_its_header_is_refused_without_quoting_its_first_row(tmp_path, data, capfd):
    path = write_registry(tmp_path / "registry.csv")
    path.write_text(path.read_text(encoding="utf-8").split("\n", 1)[1], encoding="utf-8")
    status, _, err = run(capfd, "facilities", "import", str(path), "--data", str(data))
    assert status == 1 and "the first line names no column" in err
    assert_no_officer_data(err)
    path.write_text("facility_code,name,province,level,001190000777\n", encoding="utf-8")
    status, _, err = run(capfd, "facilities", "import", str(path), "--data", str(data))
    assert status == 1 and "unknown column (a name holding an ID number)" in err
    assert_no_officer_data(err)


def test_a_truncated_gzip_file_is_refused_naming_the_line(tmp_path, data, capfd):
    whole = write_registry(tmp_path / "registry.csv.gz").read_bytes()
    (tmp_path / "cut.csv.gz").write_bytes(whole[: len(whole) - 20])
    status, _, err = run(capfd, "facilities", "import", str(tmp_path / "cut.csv.gz"), "--data",
                         str(data))  # fmt: skip
    assert status == 1 and "cannot read" in err and "line " in err
    assert not (data / "facilities" / "CURRENT").exists()


def test_a_file_with_a_header_only_is_refused(tmp_path, data, capfd):
    path = write_registry(tmp_path / "registry.csv", [])
    status, _, err = run(capfd, "facilities", "import", str(path), "--data", str(data))
    assert status == 1 and "no facility rows" in err


def test_a_missing_file_is_refused(tmp_path, data, capfd):
    status, out, err = run(
        capfd, "facilities", "import", str(tmp_path / "nope.csv"), "--data", str(data), "--json"
    )
    assert status == 1 and "cannot open" in err
    assert json.loads(out)["error"]["code"] == "failed"


GOOD = REGISTRY[3]  # the commune station
BAD_ROWS = [
    ({"facility_code": ""}, "facility_code", "required"),
    ({"facility_code": "1832"}, "facility_code", "must be 2 digits then 3"),
    ({"facility_code": "01c51"}, "facility_code", "capital letters"),
    ({"facility_code": "０1832"}, "facility_code", "must be 2 digits"),  # full-width digit
    ({"facility_code": " 01C51"}, "facility_code", "must be 2 digits"),
    ({"name": "  "}, "name", "required"),
    ({"name": "x" * 201}, "name", "201 characters; at most 200"),
    ({"name": "Trạm\x07y tế"}, "name", "control character"),
    ({"province": ""}, "province", "required"),
    ({"province": "1"}, "province", "must be 2 digits"),
    ({"province": "001"}, "province", "must be 2 digits"),
    ({"province": "03"}, "province", "no such province code"),
    ({"province": "99"}, "province", "no such province code"),
    ({"level": ""}, "level", "required"),
    ({"level": "Central"}, "level", "must be one of central, provincial, basic, primary"),
    ({"level": "district"}, "level", "must be one of"),
    ({"officer_cccd": "00119000077", "officer_name": "Dung"}, "officer_cccd", "12 digits"),
    ({"officer_cccd": "00119000077x", "officer_name": "Dung"}, "officer_cccd", "12 digits"),
    ({"officer_cccd": "001190000777"}, "officer_name", "required with officer_cccd"),
    ({"officer_name": "Phạm Thị Dung"}, "officer_cccd", "required with officer_name"),
    (
        {"officer_cccd": "001190000777", "officer_name": "x" * 101},
        "officer_name",
        "at most 100",
    ),
]


@pytest.mark.parametrize(("overrides", "field", "reason"), BAD_ROWS)
def test_each_kind_of_bad_row_rejects_the_file(tmp_path, data, capfd, overrides, field, reason):
    first = imported(capfd, data, write_registry(tmp_path / "first.csv"))
    rows = [*REGISTRY, {**GOOD, "facility_code": "01C52", **overrides}]
    path = write_registry(tmp_path / "registry.csv", rows)
    status, out, err = run(capfd, "facilities", "import", str(path), "--data", str(data), "--json")
    assert status == 1
    error = json.loads(out)["error"]
    assert [(r["line"], r["field"]) for r in error["rows"]] == [(7, field)]
    assert reason in error["rows"][0]["reason"]
    assert f"line 7: {field}: " in err and "nothing was imported" in err
    assert Registry.load(data).version == first["version"]  # type: ignore[union-attr]
    assert_no_officer_data(out + err)


def test_bytes_that_are_no_utf8_reject_the_row(tmp_path, data, capfd):
    path = write_registry(tmp_path / "registry.csv")
    path.write_bytes(path.read_bytes().replace("Phú Thượng".encode(), b"Ph\xfa Th\xb0\xeeng"))
    status, out, _ = run(capfd, "facilities", "import", str(path), "--data", str(data), "--json")
    assert status == 1
    assert json.loads(out)["error"]["rows"] == [
        {"line": 5, "field": "name", "reason": "not valid UTF-8"}
    ]


def test_every_bad_line_is_listed_and_nothing_changes(tmp_path, data, capfd):
    first = imported(capfd, data, write_registry(tmp_path / "first.csv"))
    before = sorted(p.name for p in (data / "facilities").iterdir())
    rows = [
        {**GOOD, "level": "clinic"},  # line 2
        *REGISTRY,  # lines 3-7: good
        {**GOOD, "facility_code": "01C52", "province": "9"},  # line 8
        {**GOOD, "facility_code": "x", "officer_cccd": "1", "officer_name": "A"},  # line 9
    ]
    path = write_registry(tmp_path / "registry.csv", rows)
    with path.open("a", encoding="utf-8") as f:
        f.write("01C53,Trạm y tế,01\n")  # line 10: too few fields
    status, out, err = run(capfd, "facilities", "import", str(path), "--data", str(data), "--json")
    assert status == 1
    listed = [(r["line"], r["field"]) for r in json.loads(out)["error"]["rows"]]
    assert listed == [
        (2, "level"),  # a bad row is no reference: line 6's 01C51 conflicts with nothing
        (8, "province"),
        (9, "facility_code"),
        (9, "officer_cccd"),
        (10, "row"),
    ]
    assert "4 bad line(s)" in err
    assert sorted(p.name for p in (data / "facilities").iterdir()) == before
    assert Registry.load(data).version == first["version"]  # type: ignore[union-attr]


def test_a_facility_with_conflicting_rows_is_an_error(tmp_path, data, capfd):
    rows = [
        REGISTRY[0],
        {**REGISTRY[1], "name": "Bệnh viện Bạch Mai cơ sở 2", "level": "provincial"},
        {**REGISTRY[1], "province": "31", "officer_cccd": "001090000889"},
        # The same officer twice: with the same name (spelt otherwise) it is one officer...
        {**REGISTRY[0], "officer_name": "PHẠM  THỊ DUNG"},
        # ...with another name, a conflict.
        {**REGISTRY[0], "officer_name": "Phạm Thị Dũng"},
    ]
    path = write_registry(tmp_path / "registry.csv", rows)
    status, out, _ = run(capfd, "facilities", "import", str(path), "--data", str(data), "--json")
    assert status == 1
    assert [(r["line"], r["field"], r["reason"]) for r in json.loads(out)["error"]["rows"]] == [
        (3, "name", "differs from line 2 for facility 01832"),
        (3, "level", "differs from line 2 for facility 01832"),
        (4, "province", "differs from line 2 for facility 01832"),
        (6, "officer_name", "differs from line 2 for the same officer_cccd at 01832"),
    ]
    assert_no_officer_data(out)


def test_one_officer_at_two_facilities_is_fine(tmp_path, data, capfd):
    rows = [*REGISTRY, {**REGISTRY[2], "officer_cccd": "001190000777", "officer_name": "Dung"}]
    imported(capfd, data, write_registry(tmp_path / "registry.csv", rows))
    registry = Registry.load(data)
    assert registry is not None
    assert registry.officer_name_ok("01832", "001190000777", "Phạm Thị Dung")
    assert registry.officer_name_ok("79024", "001190000777", "Dung")
    assert not registry.officer_name_ok("79024", "001190000777", "Phạm Thị Dung")


# -- the Registry the service reads --------------------------------------------------------------
@pytest.fixture
def registry(tmp_path, data, capfd) -> Registry:
    imported(capfd, data, write_registry(tmp_path / "registry.csv"))
    loaded = Registry.load(data)
    assert loaded is not None
    return loaded


def test_registry_answers_facilities_and_officers(registry):
    assert registry.facility("01832") == ("Bệnh viện Bạch Mai", "central")
    assert registry.facility("01C51") == ("Trạm y tế xã Phú Thượng", "primary")
    assert registry.facility("01833") is None
    assert registry.officers("01832") and registry.officers("79024")
    assert not registry.officers("01C51") and not registry.officers("01833")
    assert registry.officer_ok("01832", "001190000777")
    assert registry.officer_ok("01832", "001090000888")
    assert not registry.officer_ok("01832", "079190000999")  # Chợ Rẫy's officer
    assert not registry.officer_ok("01C51", "001190000777")  # the station registered nobody
    assert not registry.officer_ok("01832", "00119000077")
    assert registry.as_table() == {
        "01832": ("Bệnh viện Bạch Mai", "central"),
        "01C51": ("Trạm y tế xã Phú Thượng", "primary"),
        "02005": ("Bệnh viện đa khoa Hà Giang", "provincial"),
        "79024": ("Bệnh viện Chợ Rẫy", "central"),
    }
    assert [e.officers for e in registry.entries()] == [2, 0, 0, 1]


@pytest.mark.parametrize(
    ("cccd", "name", "ok"),
    [
        ("001190000777", "Phạm Thị Dung", True),
        ("001190000777", "  phạm   THỊ dung ", True),
        ("001190000777", unicodedata.normalize("NFD", "Phạm Thị Dung"), True),
        ("001190000777", "Phạm Thị Dũng", False),
        ("001190000777", "Pham Thi Dung", False),
        ("001190000777", "Nguyễn Văn Hòa", False),  # the other officer's name
        ("001090000888", "Nguyễn Văn Hòa", True),
        ("001090000888", "Nguyễn Văn Hoà", True),  # the other tone placement
        ("001090000888", "Nguyễn Văn Hoá", False),
        ("001090000888", "Nguyễn Văn", False),
        ("079190000999", "Trần Thị Thúy", False),  # registered at Chợ Rẫy, not here
    ],
)
def test_officer_names_compare_as_names_do(registry, cccd, name, ok):
    assert registry.officer_name_ok("01832", cccd, name) is ok


def test_officer_name_variants_at_the_other_facility(registry):
    for name in ("Trần Thị Thúy", "Trần Thị Thuý", "TRẦN THỊ THUÝ"):
        assert registry.officer_name_ok("79024", "079190000999", name)


def test_officers_are_kept_as_the_audit_logs_keyed_hash(registry, data):
    stored = (data / "facilities" / f"{registry.version}.json").read_text(encoding="utf-8")
    audit = AuditLog(data / "audit", worker="t", secret=load_secret(data))
    for cccd in OFFICERS:
        assert cccd not in stored
        assert audit.hash_id(cccd) in stored
    assert "Bệnh viện Bạch Mai" in stored
    assert oct((data / "facilities" / f"{registry.version}.json").stat().st_mode & 0o777) == "0o600"


def test_a_registry_made_under_another_audit_key_is_refused(registry, data):
    (data / "audit.key").write_bytes(b"k" * 32)
    with pytest.raises(StoreError, match="another audit.key; import it again"):
        Registry.load(data)


def test_a_damaged_pointer_fails_list_and_is_repaired_by_an_import(tmp_path, data, capfd):
    imported(capfd, data, write_registry(tmp_path / "registry.csv"))
    (data / "facilities" / "CURRENT").write_text("../../etc/passwd\n")
    status, _, err = run(capfd, "facilities", "list", "--data", str(data))
    assert status == 1 and "damaged" in err
    summary = imported(capfd, data, write_registry(tmp_path / "registry.csv"))
    assert summary["previous"] is None
    assert Registry.load(data).version == summary["version"]  # type: ignore[union-attr]


def test_old_versions_are_pruned(tmp_path, data, capfd):
    versions = []
    for _ in range(5):
        versions.append(imported(capfd, data, write_registry(tmp_path / "r.csv"))["version"])
        time.sleep(0.02)  # file times may be as coarse as a clock tick
    left = {p.stem for p in (data / "facilities").glob("*.json")}
    assert len(left) == KEEP and versions[-1] in left and versions[0] not in left
    assert RegistryStore(data).current_version() == versions[-1]


# -- atomic replacement ---------------------------------------------------------------------------
def import_then_kill_the_next(tmp_path, data, crash_at: str) -> tuple[Registry, Path]:
    """Import the registry, then a second one (every level basic) killed at `crash_at`; return
    the registry the first import made and the second's file."""
    first = write_registry(tmp_path / "first.csv")
    assert lookup("facilities", "import", str(first), "--data", str(data)).returncode == 0
    before = Registry.load(data)
    assert before is not None
    second = write_registry(tmp_path / "second.csv", [{**r, "level": "basic"} for r in REGISTRY])
    argv = ["facilities", "import", str(second), "--data", str(data)]
    assert lookup(*argv, env={"LOOKUP_CRASH_AT": crash_at}).returncode == -9
    return before, second


def test_an_import_killed_before_current_leaves_the_old_registry(tmp_path, data):
    before, second = import_then_kill_the_next(tmp_path, data, "facilities-before-current")
    assert len(list((data / "facilities").glob("*.json"))) == 2  # the new one, never served
    after = Registry.load(data)
    assert after is not None and after.version == before.version
    assert after.as_table() == before.as_table()
    done = lookup("facilities", "import", str(second), "--data", str(data), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["previous"] == before.version
    assert Registry.load(data).facility("01832") == ("Bệnh viện Bạch Mai", "basic")  # type: ignore[union-attr]


def test_an_import_killed_after_current_serves_the_new_registry(tmp_path, data):
    import_then_kill_the_next(tmp_path, data, "facilities-before-prune")
    assert Registry.load(data).facility("01832") == ("Bệnh viện Bạch Mai", "basic")  # type: ignore[union-attr]


# -- the watcher a serving worker uses -----------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_watcher_swaps_in_a_new_import_at_most_once_a_second(tmp_path, data, capfd):
    clock = Clock()
    watcher = RegistryWatcher(data, interval=1.0, clock=clock)
    assert watcher.get() is None
    imported(capfd, data, write_registry(tmp_path / "registry.csv"))
    assert watcher.get() is None  # not checked again within the second
    clock.now += 1.0
    first = watcher.get()
    assert first is not None and first.officers("01832")
    plain = [{**r, "officer_cccd": "", "officer_name": ""} for r in REGISTRY]
    second = imported(capfd, data, write_registry(tmp_path / "registry.csv", plain))
    assert watcher.get() is first
    clock.now += 1.0
    assert watcher.get().version == second["version"]  # type: ignore[union-attr]
    assert not watcher.get().officers("01832")  # type: ignore[union-attr]
    assert watcher.switches == 2
    clock.now += 1.0
    assert watcher.refresh() is False  # nothing changed: one stat, no load


def test_the_watcher_keeps_the_old_registry_when_the_new_one_is_damaged(
    tmp_path, data, capfd, caplog
):
    clock = Clock()
    first = imported(capfd, data, write_registry(tmp_path / "registry.csv"))
    watcher = RegistryWatcher(data, clock=clock)
    assert watcher.get().version == first["version"]  # type: ignore[union-attr]
    second = imported(capfd, data, write_registry(tmp_path / "registry.csv"))
    (data / "facilities" / f"{second['version']}.json").write_text("{not json")
    clock.now += 1.0
    with caplog.at_level(logging.ERROR, logger="lookup.facilities"):
        assert watcher.get().version == first["version"]  # type: ignore[union-attr]
        clock.now += 1.0
        watcher.get()
    assert len(caplog.records) == 1  # said once, not at every check
    assert "still serving " + first["version"] in caplog.records[0].getMessage()
