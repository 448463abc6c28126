"""An export's progress reaches its requester over realtime, on their own User topic, through
the documented client (docs/examples/realtime_client.py): `export.ready` with counts, never
the download URL."""

from __future__ import annotations

import asyncio
import importlib.util
import json
from pathlib import Path
from typing import Any

from support import make_settings, serve, sign_up

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "realtime_client.py"
_spec = importlib.util.spec_from_file_location("realtime_client_example", EXAMPLE)
assert _spec and _spec.loader
example = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(example)

REQUEST = "mutation { requestExport(input: {}) { export { id } } }"


async def test_the_requester_hears_that_the_export_is_ready(tmp_path: Path) -> None:
    with serve(make_settings(tmp_path / "data")) as server:
        token, user = sign_up(server.client(), "exporter@rt.example", name="Exporter")
        owner = server.client(token)
        hub = server.server.config.app.state["services"].hub
        client = example.RealtimeClient(server.url, token)
        await client.open()

        async def ask() -> str:
            async with asyncio.timeout(10):  # until the server's hub holds the subscription
                while not hub.has_session(client.session_id):
                    await asyncio.sleep(0.02)
            answer = await asyncio.to_thread(owner.data, REQUEST)
            return str(answer["requestExport"]["export"]["id"])

        asking = asyncio.create_task(ask())
        events: list[dict[str, Any]] = []
        async with asyncio.timeout(20):
            async for event in client.events([user["id"]]):  # the requester's User topic
                events.append(event)
                if event["type"] in ("export.ready", "export.failed"):
                    break
        export_id = await asking
        await client.close()
    ready = events[-1]
    assert ready["type"] == "export.ready" and ready["topic"] == user["id"]
    assert ready["data"]["exportId"] == export_id
    assert ready["data"]["objects"] > 0
    assert "http" not in json.dumps(events)  # no URL travels over realtime
