"""GraphiQL works with no internet: its page and assets come from Roundtable itself."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from playwright.async_api import Browser, Page, Request, Route

from app.config import Settings
from app.main import create_app
from tests.browser.conftest import admin_token, serve

RESPONSE_TEXT = """() => {
  const editor = document.querySelector('.graphiql-response .CodeMirror');
  return editor ? editor.CodeMirror.getValue() : '';
}"""


async def _offline(page: Page, api_url: str) -> list[str]:
    """Abort (and record) any request that leaves the Roundtable server, as a closed network would."""
    outside: list[str] = []
    own = urlsplit(api_url).netloc

    async def route(route: Route, request: Request) -> None:
        if urlsplit(request.url).netloc == own or request.url.startswith("data:"):
            await route.continue_()
        else:
            outside.append(request.url)
            await route.abort()

    await page.route("**/*", route)
    return outside


async def _set_editor(page: Page, section: str, value: str) -> None:
    await page.evaluate(
        "([selector, value]) => document.querySelector(selector).CodeMirror.setValue(value)",
        [f"{section} .CodeMirror", value],
    )


async def test_graphiql_runs_a_query_with_a_token_from_its_headers_pane_offline(
    browser: Browser, sqlite_settings: Settings
) -> None:
    token = await admin_token(sqlite_settings)
    settings = sqlite_settings.model_copy(update={"graphiql": True})
    with serve(create_app(settings)) as api_url:
        page = await browser.new_page()
        outside = await _offline(page, api_url)
        problems: list[str] = []
        page.on(
            "console",
            lambda m: problems.append(m.text) if m.type == "error" else None,  # type: ignore[func-returns-value]
        )
        page.on("pageerror", lambda e: problems.append(str(e)))
        response = await page.goto(api_url + "/graphql")
        assert response is not None and response.status == 200
        assert "script-src 'self'" in response.headers["content-security-policy"]
        await page.locator(".graphiql-execute-button").wait_for()
        # The headers pane is open from the start, showing where the token goes.
        headers = 'section[aria-label="Headers"] .graphiql-editor:not(.hidden)'
        await page.locator(f"{headers} .CodeMirror").wait_for()
        shown = await page.evaluate(
            f"document.querySelector('{headers} .CodeMirror').CodeMirror.getValue()"
        )
        assert "Authorization" in shown
        await _set_editor(page, headers, json.dumps({"Authorization": f"Bearer {token}"}))
        await _set_editor(page, ".graphiql-query-editor", "{ me { name role } }")
        await page.locator(".graphiql-execute-button").click()
        # A locator, not wait_for_function: that polls with eval, which the page's CSP forbids.
        await page.locator(".graphiql-response", has_text="Ada Admin").wait_for()
        result = json.loads(await page.evaluate(RESPONSE_TEXT))
    assert result == {"data": {"me": {"name": "Ada Admin", "role": "ADMIN"}}}
    assert outside == []
    assert problems == []


async def test_graphiql_and_its_assets_are_absent_when_off(sqlite_settings: Settings) -> None:
    import httpx

    app = create_app(sqlite_settings)  # graphiql is off in the test settings
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://rt.test"
    ) as http:
        page = await http.get("/graphql", headers={"Accept": "text/html"})
        asset = await http.get("/graphiql/graphiql.min.js")
    assert page.status_code == 404
    assert asset.status_code == 404
