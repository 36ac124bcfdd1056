"""The review UI in a real browser: Debian's chromium driven by Playwright against
`rpm-scrubber serve --demo --forward` (a real process on a loopback port) with a stub
clearinghouse. Log in with the printed reviewer login, filter the worklist, open a held claim,
see its offending segment marked, open its patient-month chart, release it with a reason, see it
leave the held list and reach the clearinghouse. Screenshots of each page go to tests/artifacts/
(ignored by git)."""
import shutil
from pathlib import Path

import pytest

from bench.clearinghouse import Clearinghouse
from tests.e2e import instance_env, serving, wait_until

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent / "artifacts"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Debian's chromium is not installed (apt-get install chromium; "
                                       ".ci/run installs it)")


@pytest.fixture
def demo(tmp_path):
    stub = Clearinghouse()
    env = {**instance_env(tmp_path / "instance"), "SCRUBBER_DOWNSTREAM_URL": stub.url,
           "SCRUBBER_DOWNSTREAM_BACKOFF": "0.2"}
    try:
        with serving(env, "--forward") as lines:
            yield lines, stub
    finally:
        stub.close()


def test_a_reviewer_works_a_held_claim_through_to_release(demo):
    from playwright.sync_api import expect, sync_playwright

    lines, stub = demo
    url = lines["URL"]
    username, password = lines["Reviewer"].split(" / ")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--headless=new"])
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        page.goto(f"{url}/ui/")
        expect(page.get_by_role("heading", name="Log in")).to_be_visible()
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Worklist")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "worklist.png"), full_page=True)

        page.get_by_label("Verdict").select_option("block")
        page.get_by_role("button", name="Filter").click()
        rows = page.locator("tbody tr")
        expect(rows.first).to_contain_text("held")
        claim_link = rows.first.locator("a")
        claim_id = claim_link.inner_text()
        claim_link.click()
        expect(page.get_by_role("heading", name=f"Claim {claim_id}")).to_be_visible()
        expect(page.locator(".segments li.marked").first).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "claim.png"), full_page=True)
        claim_url = page.url
        page.get_by_role("link", name="patient-month").first.click()
        expect(page.locator("svg.chart")).to_be_visible()
        expect(page.get_by_role("heading", name="Billed and supported codes")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "patient-month.png"), full_page=True)
        page.goto(claim_url)

        page.get_by_label("Reason").fill("Reviewed with the payer: billable under the contract")
        page.get_by_role("button", name="Release this claim").click()
        expect(page.get_by_role("status")).to_contain_text("released")
        page.get_by_label("Verdict").select_option("block")
        page.get_by_role("button", name="Filter").click()
        expect(page.locator("tbody")).not_to_contain_text(claim_id)
        browser.close()

    arrived = wait_until(lambda: any(claim_id in arrival.body for arrival in stub.arrivals), 30)
    assert arrived, "the released claim never arrived"
