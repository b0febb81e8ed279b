"""The live dashboard in a real browser, served by the real worker process, checked against the database.

The worker (``python -m bot worker``, tests/support/inbox.py ``worker_alone``) runs on a data
directory holding a demo month (plus one hostile detractor comment, see
tests/test_experience_report_browser.py). Headless Chromium opens ``/dashboard``, logs in
with an agent account the way a support lead does, and then:

- every chart is drawn (plotly's traces, their colours in each chart's screenshot);
- every number on the page equals the independent recomputation from the databases
  (tests/support/recompute.py) for this period and the previous one;
- only same-origin requests were made, the strict CSP was never violated, the customer's
  ``</script><script>`` is shown as text and never ran, and the session cookie is HttpOnly.

Run under the heavy lock: it starts the worker and Chromium.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from bot.customers import CustomerStore
from tests.support.inbox import AGENT, PASSWORD, add_agent, worker_alone
from tests.test_experience_report_browser import (
    CHART_COLOURS,
    FIGURES_ON_PAGE,
    SCRIPT_ATTACK,
    DemoMonth,
    assert_charts_drawn,
    check_page_against_database,
    make_demo_month,
    open_page,
)
from tests.test_webchat_browser import chromium  # noqa: F401  (the fixture: Chromium, or skip / fail in CI)


@pytest.fixture(scope="module")
def served(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, DemoMonth]]:  # noqa: F811
    """The worker on a demo month, with the agent Alex; only started once Chromium is known to exist."""
    data = tmp_path_factory.mktemp("dashboard-demo")
    demo = make_demo_month(data)
    add_agent(CustomerStore(demo.database_url))
    with worker_alone(data, {"SUPPORTBOT_BUSINESS_FILE": str(demo.business)}) as worker:
        yield worker, demo


def report_of(base: str) -> dict[str, Any]:
    """The dashboard's own JSON, fetched with a login like the page's."""
    session = requests.Session()
    login = session.post(
        f"{base}/dashboard/api/login", json={"name": AGENT, "password": PASSWORD}, timeout=30
    )
    assert login.status_code == 200, login.text
    answer = session.get(f"{base}/dashboard/report.json?days=30", timeout=120)
    assert answer.status_code == 200, answer.text
    return answer.json()["report"]


def test_the_dashboard_in_a_real_browser_draws_the_figures_of_the_database(
    chromium: str,  # noqa: F811
    served: tuple[Any, DemoMonth],
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect, sync_playwright

    worker, demo = served
    base = worker.relay_url
    with sync_playwright() as playwright:
        browser, page, seen = open_page(playwright, f"{base}/dashboard", chromium)
        try:
            # No session: the login form, and not one figure.
            expect(page.locator("#login")).to_be_visible(timeout=15_000)
            assert page.locator("[data-figure]").count() == 0
            page.fill("#login-name", AGENT)
            page.fill("#login-password", "not the password")
            page.click("#login button[type=submit]")
            expect(page.locator("#login-error")).to_have_text("wrong name or password", timeout=15_000)
            page.fill("#login-password", PASSWORD)
            page.click("#login button[type=submit]")
            expect(page.locator("#agent")).to_have_text(AGENT, timeout=15_000)
            expect(page.locator("body[data-loaded]")).to_have_count(1, timeout=60_000)
            expect(page.locator("[data-chart][data-drawn=true]")).to_have_count(len(CHART_COLOURS))
            assert_charts_drawn(page, tmp_path)
            shown = page.evaluate(FIGURES_ON_PAGE)
            report = report_of(base)  # built within the same minute: the cached report the page drew
            checked = check_page_against_database(shown, report, demo)
            assert checked["independent"] >= 3 * len(report["figures"]) and checked["breakdown"] > 100
            comment = page.locator("#detractor-comments td.comment", has_text="window.pwned=1")
            expect(comment).to_have_count(1)
            assert comment.inner_text() == SCRIPT_ATTACK
            assert page.evaluate("window.pwned") is None and seen["dialogs"] == [] and seen["errors"] == []
            assert page.locator("main script, main img").count() == 0
            assert page.evaluate("window.__csp || []") == []
            assert page.evaluate("document.cookie") == ""  # the session cookie is HttpOnly
            origin = urlsplit(base).netloc
            assert {urlsplit(url).netloc for url in seen["requests"]} == {origin}, seen["requests"]
            page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
            # Another period redraws from the server; logging out hides everything again.
            page.select_option("#days", "7")
            page.click("#controls button[type=submit]")
            expect(page.locator("#period")).to_contain_text("against", timeout=30_000)
            page.click("#logout")
            expect(page.locator("#login")).to_be_visible(timeout=15_000)
        finally:
            browser.close()


def test_the_running_worker_refuses_the_dashboard_without_a_session_or_from_another_host(
    served: tuple[Any, DemoMonth],
) -> None:
    worker, _demo = served
    base = worker.relay_url
    assert requests.get(f"{base}/dashboard/report.json", timeout=30).status_code == 401
    rebinding = requests.get(f"{base}/dashboard/report.json", headers={"Host": "evil.example"}, timeout=30)
    assert rebinding.status_code == 403
    cross_site = requests.post(
        f"{base}/dashboard/api/login", json={"name": AGENT, "password": PASSWORD},
        headers={"Origin": "https://evil.example"}, timeout=30,
    )  # fmt: skip
    assert cross_site.status_code == 403 and "inbox_session" not in cross_site.cookies
