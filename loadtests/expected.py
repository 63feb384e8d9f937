"""What the service must answer, derived from the extract the served snapshot was built from.

SPEC.md 6: the load test reads `LOOKUP_EXTRACT` and derives the expected answers itself, so a
wrong answer is a failure even when its status is 200. Nothing here restates a rule: rows are
checked by `lookup.reference.validate.RowValidator` and answers come from
`lookup.reference.rules`, the plain-Python statement of SPEC 3.1 the core is tested against.

The sample. A 10-million-row extract cannot be validated row by row at every start, so a bounded
sample of people is taken (`LOOKUP_SAMPLE`, default 200,000) in two passes:

1. every k-th physical line (k from the file size), validated with `RowValidator`;
2. a scan of the whole file, at C speed (csv -> itemgetter -> set filter -> Counter, no Python
   code per row), counting how often each sampled key (CCCD, social insurance number, card code,
   previous card code) occurs in any row's key columns. The build rejects every row of a group
   sharing one of these keys (SPEC 1.1), so a sampled person whose keys are not all unique is
   dropped. The scan over-counts (it also counts rows the validator would reject), which only
   ever drops a person who was in fact published: expectations are never wrong, only fewer.
   The same scan proves the ids used for "no card found" (050) occur nowhere in the file.

The result is cached (`LOOKUP_CACHE_DIR`, keyed by the extract's path, size and mtime), so
distributed workers and repeated runs start in about a second:
`python loadtests/expected.py` warms the cache and prints what was sampled.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import os
import pickle
import random
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import chain, islice
from operator import itemgetter
from typing import Any, BinaryIO, NamedTuple

from lookup.clock import Today, today_in_vietnam
from lookup.errors import IdError, LookupServiceError, RowError
from lookup.ingest.extract import Extract
from lookup.reference import dates, ids, record, rules
from lookup.reference.validate import PROVINCES, RowValidator

__all__ = (
    "ConfigError",
    "Expected",
    "Sample",
    "Settings",
    "first_difference",
    "gateway_fields",
    "load_sample",
    "vneid_fields",
)

CACHE_FORMAT = 4
CHUNK = 8 << 20
UNKNOWN_PER_KIND = 512  # ids proven absent from the extract, per kind, for 050 answers
GATEWAY_GENDER = {"male": "Nam", "female": "Nữ"}  # DOMAIN 5 gioiTinh


Pause = Callable[[], None]


def _no_pause() -> None:
    pass


class ConfigError(Exception):
    """The load test's environment (SPEC 6) is missing or wrong; the message says what to set."""


# -- settings -------------------------------------------------------------------------------------
def _env_float(env: dict[str, str], name: str, default: float) -> float:
    text = env.get(name, "")
    if not text:
        return default
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"{name}={text!r}: not a number") from None


@dataclass(frozen=True)
class Settings:
    """The environment of SPEC 6, plus the load test's own knobs (loadtests/README.md)."""

    api_key: str
    gateway_user: str | None
    gateway_password: str | None
    extract: str
    date: int  # packed yyyymmdd: LOOKUP_DATE, default today in Vietnam
    sample: int = 200_000
    seed: int = 0
    pace: float = 1.0  # think-time multiplier; 0 = no think time (closed loop, flat out)
    cache_dir: str | None = None
    facilities: str | None = None  # LOOKUP_FACILITIES: the registry CSV the service imported

    @property
    def date_iso(self) -> str:
        return dates.format_date(self.date)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Read the settings; raise ConfigError naming every variable that is missing."""
        env = dict(os.environ if env is None else env)
        missing = [name for name in ("LOOKUP_API_KEY", "LOOKUP_EXTRACT") if not env.get(name)]
        if missing:
            raise ConfigError(
                f"set {' and '.join(missing)} (SPEC.md 6): LOOKUP_API_KEY is a key with scopes "
                "his,batch,vneid (`lookup keys add NAME --scopes his,batch,vneid --rate 0 "
                "--username U --password P`), LOOKUP_EXTRACT the extract the served snapshot "
                "was built from"
            )
        extract = env["LOOKUP_EXTRACT"]
        if not os.path.isfile(extract):
            raise ConfigError(f"LOOKUP_EXTRACT={extract}: no such file")
        text = env.get("LOOKUP_DATE", "")
        if text:
            try:
                packed = dates.parse_date(text)
            except ValueError as exc:
                raise ConfigError(f"LOOKUP_DATE={text!r}: {exc}") from None
        else:
            day = today_in_vietnam()
            packed = dates.pack(day.year, day.month, day.day)
        sample = int(_env_float(env, "LOOKUP_SAMPLE", 200_000))
        if sample < 100:
            raise ConfigError("LOOKUP_SAMPLE: at least 100 people")
        pace = _env_float(env, "LOOKUP_PACE", 1.0)
        if pace < 0:
            raise ConfigError("LOOKUP_PACE: 0 or more (0 = no think time)")
        facilities = env.get("LOOKUP_FACILITIES") or None
        if facilities is not None and not os.path.isfile(facilities):
            raise ConfigError(f"LOOKUP_FACILITIES={facilities}: no such file")
        return cls(
            api_key=env["LOOKUP_API_KEY"],
            gateway_user=env.get("LOOKUP_GATEWAY_USER") or None,
            gateway_password=env.get("LOOKUP_GATEWAY_PASSWORD") or None,
            extract=extract,
            date=packed,
            sample=sample,
            seed=int(_env_float(env, "LOOKUP_SEED", 0)),
            pace=pace,
            cache_dir=env.get("LOOKUP_CACHE_DIR") or _default_cache_dir(env),
            facilities=facilities,
        )

    def registry(self) -> Registry:
        """Return the facility registry the service imported (empty without LOOKUP_FACILITIES):
        the names answers show, and the officers a gateway check must come from (054/055)."""
        if self.facilities is None:
            return Registry({}, {})
        from lookup.facilities.importer import read_registry_file

        try:
            rows, _ = read_registry_file(self.facilities)
        except LookupServiceError as exc:
            raise ConfigError(f"LOOKUP_FACILITIES={self.facilities}: {exc}") from None
        names = {code: (f.name, f.level) for code, f in rows.facilities.items()}
        return Registry(names, rows.officers)


class Registry(NamedTuple):
    """What the load test knows of the facility registry."""

    names: dict[str, tuple[str, str]]  # code -> (name, level)
    officers: dict[str, dict[str, str]]  # code -> {officer cccd: name}


def _default_cache_dir(env: dict[str, str]) -> str:
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "bhyt-lookup", "loadtest")


# -- the sample -----------------------------------------------------------------------------------
@dataclass
class Sample:
    """People drawn from an extract, as (cccd, record bytes), and ids no row holds."""

    columns: tuple[str, ...]
    people: list[tuple[str, bytes]]
    unknown: dict[str, list[str]]  # kind -> ids that occur nowhere in the extract
    stats: dict[str, Any] = field(default_factory=dict)


def _open_binary(path: str) -> tuple[BinaryIO, BinaryIO]:
    """Return (stream of the CSV's bytes, the file on disk); gzip by its magic, as the build."""
    raw = open(path, "rb", buffering=1 << 20)  # closed by the caller
    if raw.peek(2)[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb"), raw  # type: ignore[return-value]
    return raw, raw


def _columns(path: str) -> tuple[str, ...]:
    """The header, checked exactly as `lookup build` checks it (unknown column, missing ...)."""
    with Extract(path) as extract:
        return extract.columns


def _pick_lines(path: str, size: int, seed: int, pause: Pause) -> tuple[list[bytes], int, bool]:
    """Pass 1: every k-th physical line, k chosen so about `size` lines are picked.

    Returns (picked lines, lines read, whether the whole file was read).
    """
    stream, raw = _open_binary(path)
    try:
        total = os.fstat(raw.fileno()).st_size
        first = stream.read(CHUNK)
        newlines = max(1, first.count(b"\n"))
        # Uncompressed size: the file's, or for gzip the file's times the first chunk's ratio.
        expanded = total * len(first) / max(1, raw.tell()) if stream is not raw else total
        estimated_rows = max(1, int(expanded / (len(first) / newlines)))
        step = max(1, estimated_rows // size)
        phase = 1 + seed % step  # line 0 is the header
        picked: list[bytes] = []
        carry, line_no, chunk = b"", 0, first
        while chunk:
            data = carry + chunk
            cut = data.rfind(b"\n") + 1
            if cut:
                lines = data[: cut - 1].split(b"\n")
                picked.extend(lines[(phase - line_no) % step :: step])
                line_no += len(lines)
                carry = data[cut:]
            else:
                carry = data
            if len(picked) >= size * 1.2:  # the estimate was low: enough, stop here
                return picked, line_no, False
            pause()
            chunk = stream.read(CHUNK)
        if carry.strip():
            if (line_no - phase) % step == 0:
                picked.append(carry)
            line_no += 1
        return picked, line_no, True
    finally:
        stream.close()
        raw.close()


def _validate(columns: tuple[str, ...], lines: list[bytes], size: int, pause: Pause):
    """Parse and validate picked lines; return ([(cccd, ValidRow)], why others were skipped)."""
    validator = RowValidator(columns)
    cccd_at = columns.index("cccd")
    people = []
    skipped: Counter[str] = Counter()
    for n, line in enumerate(lines):
        if len(people) >= size:
            break
        if n % 1000 == 999:
            pause()
        text = line.decode("utf-8", "surrogateescape")
        try:
            values = next(csv.reader([text], strict=False), [])
        except csv.Error:  # a piece of a record whose quoted field spans lines
            skipped["not a whole row"] += 1
            continue
        if len(values) != len(columns):
            skipped["not a whole row"] += 1
            continue
        try:
            row = validator.validate(values)
        except RowError:
            skipped["rejected by the validator"] += 1
            continue
        people.append((values[cccd_at], row))
    return people, skipped


def _unknown_candidates(rng: random.Random) -> dict[str, list[str]]:
    """Random well-formed ids of each kind; the scan keeps those that occur nowhere."""
    provinces = sorted(PROVINCES)
    out: dict[str, list[str]] = {"cccd": [], "bhxh_code": [], "card_no": []}
    for _ in range(UNKNOWN_PER_KIND * 2):
        out["cccd"].append(f"{rng.choice(provinces)}{rng.randrange(10**9):09d}")
        out["bhxh_code"].append(f"{rng.randrange(10**10):010d}")
        group = rng.choice(("DN", "HT", "GD", "HS", "CN", "TE", "BT"))
        province = rng.choice(provinces)[1:]
        out["card_no"].append(f"{group}{rng.randint(1, 5)}{province}{rng.randrange(10**10):010d}")
    return out


def _count_keys(
    path: str, columns: tuple[str, ...], wanted: set[str], pause: Pause
) -> Counter[str]:
    """Pass 2: how often each wanted id occurs in any row's key columns, over the whole file."""
    key_columns = [c for c in ("cccd", "bhxh_code", "card_no", "prev_card_no") if c in columns]
    getter = itemgetter(*(columns.index(c) for c in key_columns))
    counts: Counter[str] = Counter()
    stream, raw = _open_binary(path)
    try:
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
        reader = csv.reader(text, strict=False)  # as lookup.ingest.extract reads it
        next(reader, None)
        count, keys = counts.update, wanted.__contains__
        while True:
            try:
                # All in C (no Python bytecode runs per row), 65,536 rows at a time.
                before = reader.line_num
                count(filter(keys, chain.from_iterable(map(getter, islice(reader, 65536)))))
                if reader.line_num == before:
                    break
            except IndexError:  # a row with too few fields (rejected by the build): skip it
                continue
            pause()
    finally:
        stream.close()
        raw.close()
    return counts


def _cache_path(settings_sample: int, seed: int, path: str, cache_dir: str | None) -> str | None:
    if not cache_dir:
        return None
    st = os.stat(path)
    ident = f"{CACHE_FORMAT}|{os.path.realpath(path)}|{st.st_size}|{st.st_mtime_ns}|"
    ident += f"{settings_sample}|{seed}"
    digest = hashlib.sha256(ident.encode("utf-8", "surrogatepass")).hexdigest()[:24]
    return os.path.join(cache_dir, f"sample-{digest}.pickle")


def load_sample(
    path: str,
    size: int = 200_000,
    *,
    seed: int = 0,
    cache_dir: str | None = None,
    pause: Pause = _no_pause,
) -> Sample:
    """Return a sample of the people a build of `path` publishes (cached; see the module doc).

    `pause` is called between slices of work (a Locust worker yields there, so its heartbeats
    to the master go on while a large extract is read).
    """
    cached = _cache_path(size, seed, path, cache_dir)
    if cached and os.path.exists(cached):
        try:
            with open(cached, "rb") as f:
                sample = Sample(**pickle.load(f))  # plain types: whoever imports this module
            sample.stats["cache"] = cached
            return sample
        except (OSError, pickle.UnpicklingError, EOFError, TypeError, ValueError):
            pass  # rebuild it
    started = time.monotonic()
    columns = _columns(path)
    lines, lines_read, whole = _pick_lines(path, size, seed, pause)
    picked, skipped = _validate(columns, lines, size, pause)
    rng = random.Random(seed)
    candidates = _unknown_candidates(rng)
    wanted = {key for cccd, row in picked for key in _keys(cccd, row)}
    wanted.update(chain.from_iterable(candidates.values()))
    counts = _count_keys(path, columns, wanted, pause)
    people = []
    for cccd, row in picked:
        if all(counts[key] == 1 for key in _keys(cccd, row)):
            people.append((cccd, row.record))
        else:
            skipped["shares a key with another row"] += 1
    unknown = {
        kind: [i for i in found if counts[i] == 0][:UNKNOWN_PER_KIND]
        for kind, found in candidates.items()
    }
    sample = Sample(
        columns=columns,
        people=people,
        unknown=unknown,
        stats={
            "extract": path,
            "lines_read": lines_read,
            "whole_file_read_in_pass_1": whole,
            "picked_lines": len(lines),
            "people": len(people),
            "skipped": dict(skipped),
            "seconds": round(time.monotonic() - started, 1),
        },
    )
    if cached:
        _write_cache(cached, sample)
    return sample


def _keys(cccd: str, row: Any) -> list[str]:
    """The ids the build checks for sharing (SPEC 1.1): CCCD, bhxh_code, card and previous card."""
    keys = [cccd, record.key_to_bhxh(row.bhxh_key), row.card_no.decode("ascii")]
    if row.prev_card_no is not None:
        keys.append(row.prev_card_no.decode("ascii"))
    return keys


def _write_cache(path: str, sample: Sample) -> None:
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            plain = {k: getattr(sample, k) for k in ("columns", "people", "unknown", "stats")}
            pickle.dump(plain, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home: run without a cache


# -- expected answers -----------------------------------------------------------------------------
class Expected:
    """The sample, grouped by what it answers on the settings' date, and the reference answers.

    Groups (by result code for LOOKUP_DATE, asked by CCCD): `valid` (000, 001, 002), `expired`
    (010), `cut_off` (110, 120-124); `replaced`: people holding a previous card code (003/004
    when asked by that code).
    """

    def __init__(
        self,
        sample: Sample,
        date: int,
        pause: Pause = _no_pause,
        registry: Registry | None = None,
    ) -> None:
        self.sample = sample
        self.registry = registry or Registry({}, {})
        self.people = sample.people
        self.date = date
        self.today = Today()
        groups: dict[str, list[int]] = {"valid": [], "expired": [], "cut_off": [], "replaced": []}
        codes: Counter[str] = Counter()
        facilities: set[str] = set()
        # Person i's code on `date` asked by any current id (the kind of id matters only for a
        # previous card code, rule 3): lets a batch check every answer's code cheaply.
        self.code: list[str] = []
        # The ids a caller asks by, kept so picking one needs no record decoding.
        self.card_no: list[str] = []
        self.prev_card_no: dict[int, str] = {}
        for i, (cccd, raw) in enumerate(self.people):
            if i % 2000 == 1999:
                pause()
            rec = record.decode(raw)
            self.card_no.append(rec.card_no)
            body = rules.entitlement(cccd, "cccd", cccd, cccd, rec, date, None, "")
            code = body["result"]["code"]
            self.code.append(code)
            codes[code] += 1
            if code in ("000", "001", "002"):
                groups["valid"].append(i)
            elif code == "010":
                groups["expired"].append(i)
            else:
                groups["cut_off"].append(i)
            if rec.prev_card_no is not None:
                groups["replaced"].append(i)
                self.prev_card_no[i] = rec.prev_card_no
            facilities.add(rec.facility_code)
        if not groups["valid"]:
            raise ConfigError(
                f"no person in the sample has a valid card on {dates.format_date(date)}: is "
                "LOOKUP_DATE the date the extract was made for (`lookup synth --as-of`)?"
            )
        for name in ("expired", "cut_off", "replaced"):
            if not groups[name]:
                groups[name] = groups["valid"]  # a small extract may lack some: ask valid ones
        self.groups = groups
        self.codes = codes
        self.facilities = sorted(facilities)
        self.unknown = sample.unknown

    # -- picking ------------------------------------------------------------------------------
    def person(self, group: str, rng: random.Random) -> int:
        members = self.groups[group]
        return members[rng.randrange(len(members))]

    def record(self, i: int) -> tuple[str, record.Record]:
        cccd, raw = self.people[i]
        return cccd, record.decode(raw)

    def ask(self, i: int, kind: str) -> str:
        """Person i's id of a kind: cccd, card_no, bhxh_code, or prev_card_no (else card_no)."""
        if kind == "cccd":
            return self.people[i][0]
        card = self.card_no[i]
        if kind == "bhxh_code":
            return card[-10:]  # SPEC 1.1: the card code ends with the bhxh_code
        if kind == "prev_card_no":
            return self.prev_card_no.get(i, card)
        return card

    def answers_apart(self, i: int, asked: str) -> bool:
        """Whether `asked` may answer otherwise than person i's CCCD: it is the previous card
        code (rule 3: 003/004). Any other id of a person answers alike, a card change too."""
        prev = self.prev_card_no.get(i)
        return prev is not None and asked.replace(" ", "").upper() == prev

    def quick_difference(self, actual: Any, asked: str, i: int) -> str | None:
        """Check an answer's id, person and result code on the settings' date, no facility."""
        try:
            code = actual["result"]["code"]
            cccd = actual["person"]["cccd"]
        except (KeyError, TypeError):
            return "not an entitlement body with a person"
        if code != self.code[i]:
            return f"result.code {code!r}, expected {self.code[i]!r}"
        if actual.get("id") != asked:
            return "id differs"
        if cccd != self.people[i][0] or actual.get("date") != dates.format_date(self.date):
            return "person.cccd or date differs"
        return None

    # -- the reference answers (SPEC 3 body, `snapshot` left empty) ----------------------------
    def body(self, asked: str, date: int, facility: str | None, i: int | None) -> dict[str, Any]:
        """The SPEC 3 body for `asked`: person `i`'s id, or (i None) an unknown or bad id."""
        try:
            kind, normalised = ids.parse_id(asked)
        except IdError as exc:
            return rules.malformed(asked, str(exc), date, "")
        if i is None:
            return rules.not_found(asked, kind, date, "")
        cccd, rec = self.record(i)
        return rules.entitlement(
            asked, kind, normalised, cccd, rec, date, facility, "", self.registry.names
        )


def without_snapshot(body: Any) -> Any:
    if isinstance(body, dict) and "snapshot" in body:
        return {k: v for k, v in body.items() if k != "snapshot"}
    return body


def first_difference(actual: Any, expected: Any, path: str = "") -> str | None:
    """Name the first field where `actual` differs from `expected`, or None when equal.

    The message never holds an id or a name (failures are grouped by message, and logged): only
    the field, and for `result.code` the two codes.
    """
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{path or 'body'} is {type(actual).__name__}, expected an object"
        for key in expected:
            if key not in actual:
                return f"{path}{key} missing"
        for key in actual:
            if key not in expected:
                return f"{path}{key} not expected"
        for key, value in expected.items():
            found = first_difference(actual[key], value, f"{path}{key}.")
            if found:
                return found
        return None
    if actual != expected or type(actual) is not type(expected):
        where = path[:-1] if path.endswith(".") else path
        if where.endswith("code") or where == "maKetQua":
            return f"{where} {actual!r}, expected {expected!r}"
        return f"{where} differs"
    return None


def _dmy(iso: str | None) -> str | None:
    """DOMAIN 5 writes dates dd/MM/yyyy (a partial birth date MM/yyyy or yyyy)."""
    return None if iso is None else "/".join(reversed(iso.split("-")))


def gateway_fields(code: str, body: dict[str, Any] | None) -> dict[str, Any]:
    """The gateway answer's fields (DOMAIN 5) that follow from a SPEC 3 body; None: no card data."""
    fields: dict[str, Any] = {"maKetQua": code}
    card_fields = (
        "hoTen",
        "ngaySinh",
        "gioiTinh",
        "diaChi",
        "maDKBD",
        "cqBHXH",
        "gtTheTu",
        "gtTheDen",
        "maKV",
        "ngayDu5Nam",
        "maSoBHXH",
        "maTheCu",
        "maTheMoi",
        "gtTheTuMoi",
        "gtTheDenMoi",
        "maDKBDMoi",
    )
    if body is None:
        return {**fields, **dict.fromkeys(card_fields)}
    person, card, new = body["person"], body["card"], body["replacement"]
    fields.update(
        maThe=card["card_no"],
        hoTen=person["full_name"],
        ngaySinh=_dmy(person["dob"]),
        gioiTinh=GATEWAY_GENDER.get(person["gender"]),
        diaChi=person.get("address"),
        maDKBD=card["facility_code"],
        cqBHXH=card["issuer"],
        gtTheTu=_dmy(card["valid_from"]),
        gtTheDen=_dmy(card["valid_to"]),
        maKV=card["region_code"],
        ngayDu5Nam=_dmy(card["five_year_date"]),
        maSoBHXH=person["bhxh_code"],
        # maTheCu: the asked old card (003/004), else the card the current one replaced.
        maTheCu=card["card_no"] if new else card.get("prev_card_no"),
        maTheMoi=new["card_no"] if new else None,
        gtTheTuMoi=_dmy(new["valid_from"]) if new else None,
        gtTheDenMoi=_dmy(new["valid_to"]) if new else None,
        maDKBDMoi=new["facility_code"] if new else None,
    )
    return fields


def vneid_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The VNeID card view's fields that follow from a SPEC 3 body asked by CCCD."""
    person, card = body["person"], body["card"]
    view: dict[str, Any] = {
        "id": body["id"],
        "cccd": person["cccd"] if person else None,
        "date": body["date"],
        "result": body["result"],
    }
    if card is None:
        view["card"] = None
    else:
        view["card"] = {
            "holder_name": person["full_name"],
            "dob": person["dob"],
            "gender": person["gender"],
            "card_no": card["card_no"],
            "facility_code": card["facility_code"],
            "facility_name": card["facility_name"],
            "valid_from": card["valid_from"],
            "valid_to": card["valid_to"],
            "valid_until": card["valid_until"],
            "five_year_date": card["five_year_date"],
            "region_code": card["region_code"],
            "status": card["status"],
            "issuer": card["issuer"],
        }
    return view


def subset_difference(actual: Any, expected: dict[str, Any], path: str = "") -> str | None:
    """Like first_difference, but only the fields `expected` names are compared."""
    if not isinstance(actual, dict):
        return f"{path or 'body'} is {type(actual).__name__}, expected an object"
    for key, value in expected.items():
        if key not in actual:
            return f"{path}{key} missing"
        if isinstance(value, dict):
            found = subset_difference(actual[key], value, f"{path}{key}.")
        else:
            found = first_difference(actual[key], value, f"{path}{key}.")
        if found:
            return found
    return None


# -- gateway inputs (SPEC 3.1 step 2) -------------------------------------------------------------
def fold_name(name: str) -> str:
    """SPEC 3.1: names compare after Unicode NFC, case folding and collapsing spaces."""
    text = unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())
    return " ".join(text.split())


def _other_letter(char: str) -> str:
    for candidate in "XQZ":
        if fold_name(candidate) != fold_name(char):
            return candidate
    raise AssertionError("unreachable")


def misspell(name: str, keep_first: bool, rng: random.Random) -> str:
    """A typo that SPEC 3.1 must catch: 061 when the first letter is kept, else 060."""
    if not keep_first:
        return _other_letter(name[0]) + name[1:]
    letters = [i for i, c in enumerate(name) if i > 0 and c.isalpha()]
    if not letters:  # a one-letter name: append one instead
        return name + "X"
    at = rng.choice(letters)
    return name[:at] + _other_letter(name[at]) + name[at + 1 :]


def same_name_variant(name: str, rng: random.Random) -> str:
    """How a desk may type a right name: upper case, doubled spaces (still matching)."""
    roll = rng.random()
    variant = name
    if roll < 0.15:
        variant = name.upper()
    elif roll < 0.25:
        variant = "  " + name.replace(" ", "  ") + " "
    return variant if fold_name(variant) == fold_name(name) else name


def birth_date_text(dob: int, rng: random.Random) -> str:
    """ngaySinh as a HIS sends it (DOMAIN 5): dd/MM/yyyy, sometimes ddMMyyyy; partial as stored.

    A stored partial date may also be asked as a full date inside it (SPEC 3.1: the coarser
    precision wins).
    """
    y, m, d = dates.unpack(dob)
    if m == 0:
        if rng.random() < 0.5:
            return f"{y:04d}"
        m, d = rng.randint(1, 12), rng.randint(1, 28)
    elif d == 0:
        if rng.random() < 0.5:
            return f"{m:02d}/{y:04d}"
        d = rng.randint(1, 28)
    if rng.random() < 0.1:
        return f"{d:02d}{m:02d}{y:04d}"
    return f"{d:02d}/{m:02d}/{y:04d}"


def wrong_birth_date(dob: int, rng: random.Random) -> str:
    """A birth date that differs in the year (so it differs at any precision): answers 070."""
    y, m, d = dates.unpack(dob)
    y = y + rng.choice((-3, -2, -1, 1, 2, 3))
    return f"{min(d, 28) or 1:02d}/{m or 1:02d}/{y:04d}"


def officer(rng: random.Random, registered: dict[str, str] | None = None) -> tuple[str, str]:
    """An officer doing the check (hoTenCb, cccdCb: required since 2024-08-01, DOMAIN 5): one
    of those the login's facility registered, when it registered any (else 054)."""
    if registered:
        cccd = rng.choice(sorted(registered))
        return registered[cccd], cccd
    name = rng.choice(("Nguyễn Thị Lan", "Trần Văn Hùng", "Lê Thị Mai", "Phạm Minh Tuấn"))
    return name, f"{rng.choice(sorted(PROVINCES))}{rng.randrange(10**9):09d}"


# -- command line: warm the cache -----------------------------------------------------------------
def main() -> int:
    """Sample LOOKUP_EXTRACT (or argv[1]) into the cache and print what was found."""
    env = dict(os.environ)
    if len(sys.argv) > 1:
        env["LOOKUP_EXTRACT"] = sys.argv[1]
    env.setdefault("LOOKUP_API_KEY", "-")
    try:
        settings = Settings.from_env(env)
        sample = load_sample(
            settings.extract, settings.sample, seed=settings.seed, cache_dir=settings.cache_dir
        )
        expected = Expected(sample, settings.date, registry=settings.registry())
    except ConfigError as exc:
        print(f"loadtests/expected.py: {exc}", file=sys.stderr)
        return 1
    summary = {
        **sample.stats,
        "date": settings.date_iso,
        "codes": dict(sorted(expected.codes.items())),
        "groups": {k: len(v) for k, v in expected.groups.items()},
        "unknown_ids": {k: len(v) for k, v in sample.unknown.items()},
        "facilities": len(expected.facilities),
    }
    for key, value in summary.items():
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
