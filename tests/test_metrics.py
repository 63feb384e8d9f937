"""Metrics (lookup/service/metrics.py): counters in shared memory summed over workers, and the
Prometheus text format."""

from __future__ import annotations

import os
import re
import timeit

import pytest

from lookup.service.metrics import BUCKETS, RESULT_CODES, ROUTES, Metrics, SharedCounters

SAMPLE = re.compile(
    r'(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>(?:[^"}]|"(?:[^"\\]|\\.)*")*)\})?'
    r" (?P<value>[-+0-9.eE]+|\+Inf|NaN)"
)
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Parse the Prometheus text format strictly enough to catch malformed output."""
    assert text.endswith("\n")
    families: dict[str, str] = {}
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram"), line
            assert name not in families, f"family {name} declared twice"
            families[name] = kind
            continue
        match = SAMPLE.fullmatch(line)
        assert match, f"not a sample line: {line!r}"
        labels = dict(LABEL.findall(match["labels"] or ""))
        name = match["name"]
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in families or family in families, f"{name} has no TYPE line"
        samples.setdefault(name, []).append((labels, float(match["value"])))
    return samples


def test_render_is_prometheus_text_with_every_series():
    metrics = Metrics(None, 0)
    metrics.request("/v1/entitlements/{id}", 200, 0.0003)
    metrics.request("/v1/entitlements/{id}", 200, 0.004)
    metrics.request("batch", 429, 0.02)  # a short alias
    metrics.request("/no/such/route", 418, 3.0)  # unknown route and status: "other"
    metrics.result("000", 5)
    metrics.result("205")
    metrics.result("999")
    text = metrics.render(snapshot_id="20260601T000000Z-ab12", snapshot_age_s=12.5, audit_backlog=3)
    samples = parse(text)
    assert samples["lookup_requests_total"] == [
        ({"route": "/v1/entitlements/{id}", "status": "200"}, 2.0),
        ({"route": "/v1/entitlements/batch", "status": "429"}, 1.0),
        ({"route": "other", "status": "other"}, 1.0),
    ]
    assert ({"code": "000"}, 5.0) in samples["lookup_results_total"]
    assert ({"code": "other"}, 1.0) in samples["lookup_results_total"]
    assert samples["lookup_snapshot_info"] == [({"snapshot": "20260601T000000Z-ab12"}, 1.0)]
    assert samples["lookup_snapshot_age_seconds"] == [({}, 12.5)]
    assert samples["lookup_audit_backlog"] == [({}, 3.0)]
    assert samples["lookup_worker_restarts_total"] == [({}, 0.0)]
    assert samples["lookup_workers"] == [({}, 1.0)]


def test_histogram_buckets_are_cumulative_and_inf_equals_count():
    metrics = Metrics(None, 0)
    durations = [0.0001, 0.0005, 0.0007, 0.003, 0.003, 0.09, 0.6, 2.5]
    for d in durations:
        metrics.request("entitlement", 200, d)
    samples = parse(metrics.render(snapshot_id=None, snapshot_age_s=None, audit_backlog=0))
    buckets = [
        (labels["le"], value)
        for labels, value in samples["lookup_request_duration_seconds_bucket"]
        if labels["route"] == "/v1/entitlements/{id}"
    ]
    assert [le for le, _ in buckets] == [*(f"{b:g}" for b in BUCKETS), "+Inf"]
    values = [v for _, v in buckets]
    assert values == sorted(values)  # cumulative
    for le, value in buckets[:-1]:
        assert value == sum(1 for d in durations if d <= float(le)), le
    (count,) = [v for _, v in samples["lookup_request_duration_seconds_count"]]
    (total,) = [v for _, v in samples["lookup_request_duration_seconds_sum"]]
    assert buckets[-1][1] == count == len(durations)
    assert total == pytest.approx(sum(durations))
    assert "lookup_snapshot_info{" not in str(samples)


def test_counters_sum_over_workers_in_shared_memory():
    shared = SharedCounters(3)
    parent = Metrics(shared, 0)
    parent.request("entitlement", 200, 0.001)
    parent.result("000")
    pid = os.fork()
    if pid == 0:  # a worker: its own slot range in the same block
        try:
            child = Metrics(shared, 2)
            for _ in range(1000):
                child.request("entitlement", 200, 0.001)
            child.result("000", 1000)
            child.result("050", 7)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert status == 0
    shared.add_restart()
    shared.set_workers(3)
    samples = parse(parent.render(snapshot_id="s", snapshot_age_s=None, audit_backlog=0))
    assert samples["lookup_requests_total"] == [
        ({"route": "/v1/entitlements/{id}", "status": "200"}, 1001.0)
    ]
    assert ({"code": "000"}, 1001.0) in samples["lookup_results_total"]
    assert ({"code": "050"}, 7.0) in samples["lookup_results_total"]
    (count,) = [v for _, v in samples["lookup_request_duration_seconds_count"]]
    (total,) = [v for _, v in samples["lookup_request_duration_seconds_sum"]]
    assert count == 1001 and total == pytest.approx(1.001)
    assert samples["lookup_worker_restarts_total"] == [({}, 1.0)]
    assert samples["lookup_workers"] == [({}, 3.0)]
    # Any worker renders the same sums.
    assert Metrics(shared, 1).totals() == parent.totals()


def test_worker_index_must_fit_the_block():
    with pytest.raises(ValueError, match="worker_index"):
        Metrics(SharedCounters(2), 2)


def test_label_values_are_escaped():
    text = Metrics(None, 0).render(snapshot_id='a"b\\c\nd', snapshot_age_s=None, audit_backlog=0)
    assert 'lookup_snapshot_info{snapshot="a\\"b\\\\c\\nd"} 1' in text
    parse(text)


def test_every_known_route_and_code_has_its_own_slot():
    metrics = Metrics(None, 0)
    for i, route in enumerate(ROUTES):
        for _ in range(i + 1):
            metrics.request(route, 200, 0.001)
    for i, code in enumerate(RESULT_CODES):
        metrics.result(code, i + 1)
    samples = parse(metrics.render(snapshot_id=None, snapshot_age_s=None, audit_backlog=0))
    assert [v for _, v in samples["lookup_requests_total"]] == [i + 1.0 for i in range(len(ROUTES))]
    assert [v for _, v in samples["lookup_results_total"]] == [
        i + 1.0 for i in range(len(RESULT_CODES))
    ]


def test_counting_a_request_is_cheap():
    # A served request costs tens of microseconds; counting it must stay a small fraction.
    metrics = Metrics(SharedCounters(2), 1)
    n = 20_000
    seconds = timeit.timeit(lambda: metrics.request("/v1/entitlements/{id}", 200, 0.0004), number=n)
    assert seconds / n < 5e-6
