"""A browser app on another origin calls the API when, and only when, its origin is allowed."""

from __future__ import annotations

import json

from playwright.async_api import Browser
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from app.config import Settings
from app.main import create_app
from tests.browser.conftest import admin_token, serve

PAGE = """<!doctype html><html><body><pre id="out">waiting</pre><script>
fetch(%(api)s + "/graphql", {
  method: "POST",
  headers: {"Content-Type": "application/json", "Authorization": "Bearer " + %(token)s},
  body: JSON.stringify({query: "{ me { name role } }"})
}).then(r => r.json()).then(
  body => { document.getElementById("out").textContent = JSON.stringify(body); },
  error => { document.getElementById("out").textContent = "blocked: " + error; }
);
</script></body></html>"""


def client_page(api: str, token: str) -> Starlette:
    async def page(_: Request) -> HTMLResponse:
        return HTMLResponse(PAGE % {"api": json.dumps(api), "token": json.dumps(token)})

    return Starlette(routes=[Route("/", page)])


async def _result(browser: Browser, page_url: str) -> str:
    page = await browser.new_page()
    await page.goto(page_url)
    out = page.locator("#out")
    await out.filter(has_not_text="waiting").wait_for()
    return await out.inner_text()


async def test_an_allowed_origin_calls_the_api_with_a_bearer_token(
    browser: Browser, sqlite_settings: Settings
) -> None:
    token = await admin_token(sqlite_settings)
    # The page's origin must be known before the API starts: serve the page first.
    page_app = Starlette()
    with serve(page_app) as page_url:
        settings = sqlite_settings.model_copy(update={"cors_origins": page_url})
        with serve(create_app(settings)) as api_url:
            page_app.router.routes.extend(client_page(api_url, token).routes)
            text = await _result(browser, page_url + "/")
    assert json.loads(text) == {"data": {"me": {"name": "Ada Admin", "role": "ADMIN"}}}


async def test_another_origin_is_refused_by_the_browser(
    browser: Browser, sqlite_settings: Settings
) -> None:
    token = await admin_token(sqlite_settings)
    page_app = Starlette()
    with serve(page_app) as page_url:
        settings = sqlite_settings.model_copy(update={"cors_origins": "https://app.example.com"})
        with serve(create_app(settings)) as api_url:
            page_app.router.routes.extend(client_page(api_url, token).routes)
            text = await _result(browser, page_url + "/")
    assert text.startswith("blocked: TypeError")
