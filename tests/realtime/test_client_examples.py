"""The client examples in docs/examples decrypt what Cove seals, byte for byte."""

from __future__ import annotations

import base64
import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from crypto.realtime import new_realtime_key, seal_notice

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def envelope(
    secret: bytes, session_id: str, seq: int, event: dict[str, object]
) -> dict[str, object]:
    nonce, ciphertext = seal_notice(secret, session_id, seq, json.dumps(event).encode())
    return {
        "keyId": "k1",
        "seq": seq,
        "nonce": base64.b64encode(nonce).decode(),
        "ciphertext": base64.b64encode(ciphertext).decode(),
    }


EVENT = {"type": "message.created", "topic": "Q2hhbm5lbDox", "data": {"text": "héllo ✓"}}


def test_python_example_decrypts_and_refuses_a_wrong_seq() -> None:
    spec = importlib.util.spec_from_file_location("example_client", EXAMPLES / "realtime_client.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    secret = new_realtime_key()
    sealed = envelope(secret, "01session", 7, EVENT)
    assert module.decrypt(secret, "01session", sealed) == EVENT
    with pytest.raises(Exception):  # the seq is bound in: a replay under another seq fails
        module.decrypt(secret, "01session", {**sealed, "seq": 8})


@pytest.mark.skipif(
    shutil.which("node") is None,
    reason="Node.js is not installed: the browser example runs on Node's WebCrypto",
)
def test_browser_example_decrypts_under_node_webcrypto(tmp_path: Path) -> None:
    secret = new_realtime_key()
    sealed = envelope(secret, "01session", 3, EVENT)
    script = tmp_path / "run.mjs"
    script.write_text(
        f"import {{ decryptEvent }} from {json.dumps((EXAMPLES / 'realtime_decrypt.mjs').as_uri())};\n"
        f"const event = await decryptEvent({json.dumps(base64.b64encode(secret).decode())}, "
        f'"01session", {json.dumps(sealed)});\n'
        "console.log(JSON.stringify(event));\n"
        "try {\n"
        f'  await decryptEvent({json.dumps(base64.b64encode(secret).decode())}, "01other", {json.dumps(sealed)});\n'
        '  console.log("OPENED");\n'
        '} catch { console.log("REFUSED"); }\n'
    )
    run = subprocess.run(
        ["node", str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 0, run.stderr
    first, second = run.stdout.strip().splitlines()
    assert json.loads(first) == EVENT
    assert second == "REFUSED"
