"""Broker envelopes: the sending node, its counter and the send time, authenticated."""

from __future__ import annotations

import pytest

from crypto.errors import SealError
from crypto.realtime import BrokerSealer, new_realtime_key, open_from_broker

KEY = new_realtime_key()


def test_an_envelope_carries_its_node_counter_and_time() -> None:
    sealer = BrokerSealer(KEY, clock=lambda: 1_800_000_000.25)
    first, second = sealer.seal(b"one"), sealer.seal(b"two")
    opened = open_from_broker(KEY, first), open_from_broker(KEY, second)
    assert [o.payload for o in opened] == [b"one", b"two"]
    assert [o.counter for o in opened] == [1, 2]
    assert {o.node for o in opened} == {sealer.node}
    assert opened[0].sent_at == pytest.approx(1_800_000_000.25, abs=0.001)
    assert BrokerSealer(KEY).node != sealer.node  # a random id per node, per start


def test_the_header_cannot_be_rewritten() -> None:
    envelope = BrokerSealer(KEY).seal(b"payload")
    for index in range(len(envelope)):
        tampered = bytearray(envelope)
        tampered[index] ^= 0x80
        with pytest.raises(SealError):
            open_from_broker(KEY, bytes(tampered))
    with pytest.raises(SealError):
        open_from_broker(new_realtime_key(), envelope)
    with pytest.raises(SealError):
        open_from_broker(KEY, envelope[:20])
