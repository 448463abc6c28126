"""GraphiQL in a real headless Chromium (Debian's `chromium`) against a real Cove server.

The page must load, run queries and subscriptions with a typed-in token, and never ask any
origin but the server's own: installations without internet are common.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, sync_playwright

from support import Server, make_settings, serve, sign_up

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (`make browser-up` installs it)",
    ),
]
# Headless and quiet: no sandbox (containers), and none of Chromium's own calls home, so
# that every request seen comes from the page.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SUBSCRIBE = 'subscription {{ events(sessionId: "{s}", topics: ["{t}"]) {{ keyId seq }} }}'


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    # Production settings with the IDE on, and introspection for signed-in callers only.
    settings = make_settings(tmp_path / "data", graphiql=True, introspection="authenticated")
    with serve(settings) as running:
        yield running


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[BrowserContext]:
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh profile every run
            executable_path=str(CHROMIUM),
            headless=True,
            args=FLAGS,
        )
        try:
            yield context
        finally:
            context.close()


def _type_token(page: Page, token: str) -> None:
    """Type the token into the headers editor, inside its `"Bearer "` placeholder."""
    page.get_by_text("Headers", exact=True).click()
    headers = page.locator(".graphiql-editor-tool .CodeMirror").last
    headers.click()
    page.keyboard.press("Control+End")
    page.keyboard.press("ArrowLeft")  # before }
    page.keyboard.press("ArrowLeft")  # before the closing quote
    page.keyboard.type(token)


_QUERY_EDITOR = "document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror"
# The result pane indents with no-break spaces.
_RESULT_TEXT = "document.querySelector('.result-window').innerText.replaceAll('\\u00a0', ' ')"


def _result_shows(page: Page, text: str, seconds: float = 15) -> None:
    page.wait_for_function(f"t => {_RESULT_TEXT}.includes(t)", arg=text, timeout=seconds * 1000)


def test_graphiql_runs_queries_and_subscriptions_offline(
    server: Server, browser: BrowserContext, email: str
) -> None:
    token, user = sign_up(server.client(), email)
    api = server.client(token)
    requests: list[str] = []
    browser.on("request", lambda request: requests.append(request.url))
    page = browser.new_page()
    sockets: list[str] = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))

    page.goto(server.url + "/graphql")
    page.wait_for_selector(".graphiql-query-editor .CodeMirror")
    _type_token(page, token)

    # The starting document asks for the viewer; with the token it is the new user.
    page.locator(".graphiql-execute-button").click()
    _result_shows(page, user["id"])
    result = json.loads(page.evaluate(_RESULT_TEXT))
    assert result["data"] == {"viewer": {"id": user["id"], "email": email}}
    assert "errors" not in result

    # Signed in, the schema may be introspected: re-fetching it succeeds.
    with page.expect_response(
        lambda r: r.request.method == "POST" and "IntrospectionQuery" in (r.request.post_data or "")
    ) as introspection:
        page.get_by_label("Re-fetch GraphQL schema").click()
    assert introspection.value.json()["data"]["__schema"]["queryType"] == {"name": "Query"}
    page.get_by_label("Show Documentation Explorer").click()
    page.get_by_text("Query", exact=True).first.wait_for()
    page.get_by_label("Open settings dialog").click()  # a dialog: styles inserted at run time
    page.get_by_role("dialog").wait_for()
    page.keyboard.press("Escape")

    # A subscription runs over the server's own WebSocket, the token in connection_init.
    workspace = api.data('mutation { createWorkspace(input: {name: "W"}) { workspace { id } } }')
    channel = api.data(
        'mutation($w: ID!) { createChannel(input: {workspaceId: $w, name: "c", visibility: PUBLIC})'
        " { channel { id } } }",
        {"w": workspace["createWorkspace"]["workspace"]["id"]},
    )["createChannel"]["channel"]["id"]
    session = api.data("mutation { openRealtimeSession { session { id } } }")
    session_id = session["openRealtimeSession"]["session"]["id"]
    # Typing into the query editor would fight its bracket completion; set it whole, then
    # wait for GraphiQL to parse it (debounced): only a parsed subscription goes to the socket.
    page.evaluate(f"q => {_QUERY_EDITOR}.setValue(q)", SUBSCRIBE.format(s=session_id, t=channel))
    page.wait_for_function(
        f"() => {_QUERY_EDITOR}.documentAST?.definitions[0].operation === 'subscription'"
    )
    page.locator(".graphiql-execute-button").click()
    hub = server.server.config.app.state["services"].hub
    deadline = time.monotonic() + 15
    while not hub.has_session(session_id):
        assert time.monotonic() < deadline, "the subscription never reached the server"
        time.sleep(0.05)
    api.data(
        'mutation($c: ID!) { postMessage(input: {channelId: $c, text: "hi"}) { message { id } } }',
        {"c": channel},
    )
    _result_shows(page, '"seq": 1')

    origin = server.url
    assert requests and all(url.startswith(origin + "/") for url in requests), requests
    assert sockets == [origin.replace("http", "ws", 1) + "/graphql"]
    assert not [m for m in console if "Content Security Policy" in m], console
