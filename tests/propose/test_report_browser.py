"""The proposal report in a real browser: headless Chromium driven by Selenium.

Opens the file as a person would (a file:// URL) and checks what they would see and do: no
console errors, one row per proposal, sorting by a header click (twice: reversed), the text
filter and the bucket select. Skipped, with the reason, when Chromium, chromedriver or
Selenium is missing (``scripts/bootstrap.sh`` installs Debian's chromium and chromium-driver
when run as root; Selenium is in the ``dev`` extra).
"""

from __future__ import annotations

import shutil

import pytest
from _report_helpers import XSS_ID, YIELD, K, pool_images, small_proposal

CHROMIUM = next(
    filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None
)
CHROMEDRIVER = shutil.which("chromedriver")

if CHROMIUM is None or CHROMEDRIVER is None:
    pytest.skip(
        "no Chromium browser or chromedriver on PATH; install them (Debian: apt-get install "
        "chromium chromium-driver; scripts/bootstrap.sh does it when run as root)",
        allow_module_level=True,
    )
webdriver = pytest.importorskip(
    "selenium.webdriver", reason="selenium is not installed: pip install 'selenium>=4.10'"
)
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402


@pytest.fixture(scope="module")
def proposal():
    return small_proposal()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",  # the tests may run as root (containers, CI)
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def opened(browser, proposal, tmp_path_factory):
    path = tmp_path_factory.mktemp("browser") / "report.html"
    proposal.to_html(path, images=pool_images(), yield_summary=YIELD)
    browser.get(path.resolve().as_uri())
    return browser


def _severe(driver) -> list[dict]:
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def _box(driver):
    return driver.find_element(By.CSS_SELECTOR, ".table-box[data-label=proposals]")


def _visible_rows(driver) -> list:
    return [r for r in _box(driver).find_elements(By.CSS_SELECTOR, "tbody tr") if r.is_displayed()]


def _column(driver, name: str) -> int:
    heads = _box(driver).find_elements(By.CSS_SELECTOR, "thead th")
    return [h.text.strip(" ▲▼") for h in heads].index(name)


def _values(driver, name: str) -> list[float]:
    col = _column(driver, name)
    return [
        float(r.find_elements(By.TAG_NAME, "td")[col].get_attribute("data-value"))
        for r in _visible_rows(driver)
    ]


def test_opens_without_console_errors_and_shows_every_proposal(opened, proposal):
    assert _severe(opened) == []
    assert opened.title.startswith("dataperf: proposed test examples")
    rows = _visible_rows(opened)
    assert len(rows) == K == len(proposal)
    first = rows[0].find_elements(By.TAG_NAME, "td")
    assert first[_column(opened, "id")].text == XSS_ID  # shown as text, not run as markup
    assert opened.execute_script("return document.querySelectorAll('img[src=\"x\"]').length") == 0
    images = opened.execute_script(
        "return Array.from(document.images).filter(i => i.complete && i.naturalWidth > 0).length"
    )
    assert images == len(opened.find_elements(By.TAG_NAME, "img")) >= K  # every thumbnail drew
    # the log is really read: an error written now shows up
    opened.execute_script("console.error('probe')")
    assert any("probe" in e["message"] for e in _severe(opened))


def test_clicking_a_header_sorts_and_again_reverses(opened, proposal):
    name = "confidence"
    header = _box(opened).find_elements(By.CSS_SELECTOR, "thead th")[_column(opened, name)]
    original = _values(opened, name)
    assert original == [r[name] for r in proposal.records()]
    # selection order is neither: each click must change something
    assert sorted(original) != original != sorted(original, reverse=True)
    header.click()
    assert _values(opened, name) == sorted(original)
    assert header.get_attribute("aria-sort") == "ascending"
    header.click()
    assert _values(opened, name) == sorted(original, reverse=True)
    assert header.get_attribute("aria-sort") == "descending"
    # numerically, not as text: ranks 1..12 as text would put 10, 11, 12 before 2
    rank = _box(opened).find_elements(By.CSS_SELECTOR, "thead th")[_column(opened, "rank")]
    rank.click()
    assert _values(opened, "rank") == list(range(1, K + 1))
    assert header.get_attribute("aria-sort") is None


def test_typing_in_the_filter_hides_the_rows_that_do_not_match(opened, proposal):
    box = _box(opened)
    field = box.find_element(By.CSS_SELECTOR, "input.filter")
    ids = [str(r["id"]) for r in proposal.records()]
    term = "item_1"
    expected = [i for i in ids if term in i]
    assert 0 < len(expected) < K
    field.send_keys(term)
    col = _column(opened, "id")
    shown = [r.find_elements(By.TAG_NAME, "td")[col].text for r in _visible_rows(opened)]
    assert sorted(shown) == sorted(expected)
    assert box.find_element(By.CSS_SELECTOR, ".count").text == f"{len(expected)} of {K} proposals"
    field.clear()
    field.send_keys(" ")  # an input event with an empty query: everything is back
    assert len(_visible_rows(opened)) == K


def test_the_bucket_select_filters(opened, proposal):
    select = Select(_box(opened).find_element(By.CSS_SELECTOR, "select.category"))
    buckets = [r["bucket"] for r in proposal.records()]
    values = [o.get_attribute("value") for o in select.options]
    assert len(set(buckets)) >= 2  # one option alone would filter nothing out
    assert values[0] == "" and sorted(values[1:]) == sorted(set(buckets))
    col = _column(opened, "bucket")
    for name in values[1:]:
        select.select_by_value(name)
        shown = [r.find_elements(By.TAG_NAME, "td")[col].text for r in _visible_rows(opened)]
        assert shown == [name] * buckets.count(name)
    select.select_by_value("")
    assert len(_visible_rows(opened)) == K
    assert _severe(opened) == []  # (the log returns what is new since it was last read)
