"""Broker envelopes a node dropped (replayed, stale, unauthentic) show in its metrics."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx

from api.metrics import Metrics
from support import make_settings, serve


def test_drops_are_counted_by_reason() -> None:
    metrics = Metrics()
    drops: Counter[str] = Counter()
    metrics.watch_broker_drops(lambda: drops)
    drops["replayed"] += 3
    text = metrics.render().decode()
    assert 'cove_broker_envelopes_dropped_total{reason="replayed"} 3.0' in text
    assert 'cove_broker_envelopes_dropped_total{reason="stale"} 0.0' in text


def test_a_serving_node_exposes_its_hubs_drops(tmp_path: Path) -> None:
    with serve(make_settings(tmp_path / "data")) as server:
        text = httpx.get(server.url + "/metrics").text
    assert 'cove_broker_envelopes_dropped_total{reason="unauthentic"} 0.0' in text
