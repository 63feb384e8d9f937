"""Daily deltas (SPEC.md 1.2): applied atomically, all or nothing, every bad row listed."""

from __future__ import annotations

import random
from datetime import date

import orjson
import pytest

from lookup.ingest.build import build
from lookup.ingest.delta import DeltaRejected, apply_delta
from lookup.query import Entitlements
from lookup.store import DataDir
from lookup.sync.reconcile import reconcile

from helpers.files import person, write_csv

DAY = date(2026, 6, 1)
DELTA_COLUMNS = ["op", *person(0)]


@pytest.fixture
def data(tmp_path):
    data = DataDir(tmp_path / "data")
    build(data, str(write_csv(tmp_path / "base.csv", [person(i) for i in range(10)])))
    return data


def answers(data: DataDir, ids: list[str]) -> list[dict]:
    with Entitlements.open_current(data) as entitlements:
        return orjson.loads(entitlements.answer_many(ids, DAY))


def delta(tmp_path, rows, name="delta.csv"):
    return str(write_csv(tmp_path / name, rows, DELTA_COLUMNS))


def upsert(n: int, **overrides: str) -> dict[str, str]:
    return dict(person(n, **overrides), op="upsert")


def delete(n: int) -> dict[str, str]:
    return {"op": "delete", "cccd": person(n)["cccd"]}


def test_delta_adds_changes_and_deletes(data, tmp_path):
    parent = data.current_id()
    renewed = upsert(
        2,
        card_no="HT301" + person(2)["bhxh_code"],
        prev_card_no=person(2)["card_no"],
        prev_valid_to="2026-03-31",
        valid_from="2026-04-01",
    )
    summary = apply_delta(
        data, delta(tmp_path, [upsert(1, full_name="Vũ Thị Lan"), renewed, delete(3), upsert(50)])
    )
    assert (summary["added"], summary["changed"], summary["deleted"]) == (1, 2, 1)
    assert summary["parent"] == parent and data.current_id() == summary["snapshot"]
    assert summary["entries"] == {"people": 10, "bhxh": 10, "cards": 0}  # DESIGN 4
    one, two, three, new, old_card = answers(
        data, [person(i)["cccd"] for i in (1, 2, 3, 50)] + [person(2)["card_no"]]
    )
    assert one["person"]["full_name"] == "Vũ Thị Lan"
    assert two["card"]["group"] == "HT" and two["card"]["benefit_level"] == 3
    assert three["result"]["code"] == "050"
    assert new["result"]["code"] == "000"
    assert old_card["result"]["code"] == "003"  # the old card code now points at the new card
    assert old_card["replacement"]["card_no"] == "HT301" + person(2)["bhxh_code"]


def test_a_code_may_move_between_people_within_one_delta(data, tmp_path):
    moved = person(4)["bhxh_code"]  # person 4 is deleted; person 60 takes the number
    apply_delta(
        data, delta(tmp_path, [upsert(60, bhxh_code=moved, card_no="DN401" + moved), delete(4)])
    )
    assert answers(data, [moved])[0]["person"]["cccd"] == person(60)["cccd"]


def test_bad_rows_reject_the_whole_delta_and_are_all_listed(data, tmp_path):
    before = data.current_id()
    rows = [
        upsert(1, full_name="Vũ Thị Lan"),
        upsert(70, gender="9"),  # line 3
        {"op": "replace", "cccd": person(5)["cccd"]},  # line 4
        delete(6),
        upsert(6),  # line 6: the same person twice
        upsert(71, dob="1985-02-30"),  # line 7
    ]
    with pytest.raises(DeltaRejected) as err:
        apply_delta(data, delta(tmp_path, rows))
    assert err.value.errors == [
        (3, "gender", "gender: must be 1 (male), 2 (female) or 3 (unknown)"),
        (4, "op", "op: must be upsert or delete"),
        (6, "cccd", "cccd: also changed on line 5"),
        (7, "dob", "dob: not a real date"),
    ]
    assert "4 bad row(s); nothing was applied" in str(err.value)
    assert data.current_id() == before and len(data.list()) == 1
    assert answers(data, [person(1)["cccd"]])[0]["person"]["full_name"] == "Nguyễn Văn An"


def test_card_codes_are_claimed_through_cards_and_through_their_number(data, tmp_path):
    """A previous code that ends in another number is in `cards`; any other code is held
    through the number it ends with (DESIGN 4): a delta may take neither."""
    other = "DN4790177777777"  # ends in a number nobody holds
    apply_delta(data, delta(tmp_path, [upsert(5, prev_card_no=other)], "first.csv"))
    assert answers(data, [other])[0]["result"]["code"] in ("003", "004")
    before = data.current_id()
    rows = [
        upsert(82, bhxh_code="0177777777", card_no=other),  # line 2: person 5's previous code
        upsert(83, prev_card_no=person(6)["card_no"]),  # line 3: person 6's card, by its number
        upsert(84, prev_card_no=other),  # line 4: person 5's previous code again
    ]
    with pytest.raises(DeltaRejected) as err:
        apply_delta(data, delta(tmp_path, rows, "second.csv"))
    assert [(line, field) for line, field, _ in err.value.errors] == [
        (2, "card_no"),
        (3, "prev_card_no"),
        (4, "prev_card_no"),
    ]
    assert data.current_id() == before


def test_conflicts_with_the_store_reject_the_delta(data, tmp_path):
    before = data.current_id()
    taken = person(7)["bhxh_code"]
    rows = [
        upsert(80, bhxh_code=taken, card_no="DN401" + taken),  # line 2: belongs to person 7
        upsert(81, prev_card_no=person(8)["card_no"]),  # line 3: person 8's current card
        delete(99),  # line 4: nobody
    ]
    with pytest.raises(DeltaRejected) as err:
        apply_delta(data, delta(tmp_path, rows))
    assert [(line, field) for line, field, _ in err.value.errors] == [
        (2, "bhxh_code"),
        (2, "card_no"),
        (3, "prev_card_no"),
        (4, "cccd"),
    ]
    assert data.current_id() == before and not (data.root / "staging").exists()


# -- overlays (DESIGN 4): a delta publishes the base as it is, with its changes beside it ----
def _final_answers(data: DataDir, ids: list[str]) -> list[dict]:
    bodies = answers(data, ids)
    for body in bodies:
        del body["snapshot"]
    return bodies


def _random_deltas(rng: random.Random, count: int) -> tuple[list[list[dict]], dict[int, dict]]:
    """Deltas of every kind of change to people 0-9 and newcomers, and the rows they leave."""
    live = {n: person(n) for n in range(10)}
    deltas, newcomer = [], 100
    for _ in range(count):
        rows, touched = [], set()
        for _ in range(rng.randint(1, 6)):
            n = rng.choice(sorted(set(live) - touched)) if set(live) - touched else None
            kind = rng.choice(["rename", "renew", "renumber", "delete", "add"])
            if kind == "add" or n is None:
                n, newcomer = newcomer, newcomer + 1
                live[n] = person(n)
                rows.append(upsert(n))
            elif kind == "delete":
                del live[n]
                rows.append(delete(n))
            else:
                row = dict(live[n])
                if kind == "rename":
                    row["full_name"] = rng.choice(["Vũ Thị Lan", "Đặng Văn Hùng", "Lê An"])
                    row["address"] = f"Số {rng.randint(1, 99)}, Phường {n}, Quận 1, Hồ Chí Minh"
                elif kind == "renew":
                    groups = [g for g in ("HT3", "DN4", "GD4") if not row["card_no"].startswith(g)]
                    row.update(
                        card_no=rng.choice(groups) + "01" + row["bhxh_code"],
                        prev_card_no=row["card_no"],
                        prev_valid_to="2026-03-31",
                    )
                else:  # an old card of another number (DESIGN 4: the only kind in `cards`)
                    row.update(prev_card_no=f"DN479{9000000000 + n:010d}", prev_valid_to="")
                live[n] = row
                rows.append(dict(row, op="upsert"))
            touched.add(n)
        deltas.append(rows)
    return deltas, live


@pytest.mark.parametrize("merge_share", [0.0, 1e9], ids=["merged", "overlaid"])
@pytest.mark.parametrize("seed", range(4))
def test_deltas_answer_as_a_build_of_their_result(tmp_path, monkeypatch, seed, merge_share):
    import lookup.ingest.delta as module

    monkeypatch.setattr(module, "MERGE_SHARE", merge_share)
    rng = random.Random(seed)
    data = DataDir(tmp_path / "data")
    build(data, str(write_csv(tmp_path / "base.csv", [person(n) for n in range(10)])))
    deltas, live = _random_deltas(rng, 4)
    everyone = {n: person(n) for n in range(200)}
    for i, rows in enumerate(deltas):
        summary = apply_delta(data, delta(tmp_path, rows, f"d{i}.csv"))
        assert summary["merged"] == (merge_share == 0.0 and i % 2 == 1)  # had an overlay
        for row in rows:
            if row["op"] == "upsert":
                everyone[int(row["cccd"][-6:])] = row
    overlay = data.current_path() / "overlay" / "data.mdb"
    assert overlay.exists() == (merge_share > 0)
    fresh = DataDir(tmp_path / "fresh")
    build(fresh, str(write_csv(tmp_path / "final.csv", list(live.values()))))
    ids = sorted(
        {row[k] for row in everyone.values() for k in ("cccd", "bhxh_code", "card_no")}
        | {row["prev_card_no"] for row in everyone.values() if row.get("prev_card_no")}
    )
    assert _final_answers(data, ids) == _final_answers(fresh, ids)
    with (
        Entitlements.open_current(data) as applied,
        Entitlements.open_current(fresh) as built,
    ):
        assert applied.reader.missing(b"") == built.reader.missing(b"")
    # Reconciled against the register of the result, less one person and with one stranger.
    register = [
        {c: row[c] for c in ("cccd", "full_name", "dob", "gender")} for row in live.values()
    ][1:] + [{"cccd": "079199000001", "full_name": "Lò Văn Páo", "dob": "1990", "gender": "1"}]
    population = write_csv(tmp_path / "population.csv", register)
    reports = []
    for store in (data, fresh):
        out = tmp_path / f"report-{store.root.name}.csv"
        reconcile(store, str(population), report=str(out), today=20260601)
        reports.append(out.read_bytes())
    assert reports[0] == reports[1] and b"not_in_register" in reports[0]


def test_a_damaged_stored_record_is_named_and_nothing_is_applied(tmp_path):
    from lookup.errors import StoreError

    from helpers.answers import write_raw

    data = DataDir(tmp_path / "data")
    with data.writer():
        snapshot_id, staging = data.new_staging()
        key = int(person(1)["cccd"]).to_bytes(8, "big")
        write_raw(staging, people=[(key, b"\x02" + bytes(30))], manifest=b'{"id": "raw"}')
        data.publish(snapshot_id, {"id": snapshot_id})
    with pytest.raises(StoreError, match="^line 2: the stored record of this person is damaged"):
        apply_delta(data, delta(tmp_path, [upsert(1, full_name="Vũ Thị Lan")]))
    assert data.current_id() == snapshot_id
