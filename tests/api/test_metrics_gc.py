"""Collector pauses are timed into `cove_gc_pause_seconds`, by generation, while watched."""

from __future__ import annotations

import gc

from api.metrics import Metrics


def _count(metrics: Metrics, generation: str) -> float:
    value = metrics.registry.get_sample_value(
        "cove_gc_pause_seconds_count", {"generation": generation}
    )
    return 0.0 if value is None else value


def test_each_collection_is_timed_by_generation_while_watched() -> None:
    metrics = Metrics()
    unwatch = metrics.watch_collector()
    try:
        gc.collect(0)
        gc.collect(2)
        assert _count(metrics, "0") >= 1
        assert _count(metrics, "2") >= 1
        total = metrics.registry.get_sample_value("cove_gc_pause_seconds_sum", {"generation": "2"})
        assert total is not None and total > 0
    finally:
        unwatch()
    before = _count(metrics, "2")
    gc.collect(2)
    assert _count(metrics, "2") == before  # no longer watched


def test_an_app_that_does_not_own_its_process_does_not_watch() -> None:
    metrics = Metrics()
    gc.collect(2)
    assert "cove_gc_pause_seconds_count" not in metrics.render().decode()
