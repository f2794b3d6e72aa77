"""The leaderboard page in a real headless Chromium: no console errors, sorting, filtering, figures."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bench.leaderboard.build import build
from tests.helpers.results import make_result

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs Debian's chromium and chromium-driver "
                                 "(apt-get install chromium chromium-driver; .ci/run installs them)")]


def open_page(page: Path, screenshot: Path | None = None):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1400,1800", "--disable-dev-shm-usage"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.get(page.resolve().as_uri())
    return driver


def test_page_renders_sorts_filters_and_shows_figures(tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    a = make_result(tmp_path / "a", separation=2.0, generator="world", seed=1)
    b = make_result(tmp_path / "b", separation=1.0, generator="freevc", seed=2)
    out = tmp_path / "lb"
    build([a, b], out)
    driver = open_page(out / "index.html")
    try:
        logs = driver.get_log("browser")
        errors = [entry for entry in logs if entry["level"] == "SEVERE"]
        assert not errors, errors
        assert any("leaderboard ready" in entry["message"] for entry in logs)

        def generators():
            return [r.find_elements(By.TAG_NAME, "td")[2].text
                    for r in driver.find_elements(By.CSS_SELECTOR, "#ranking tbody tr") if r.is_displayed()]
        assert generators() == ["world", "freevc"]
        auroc_header = driver.find_elements(By.CSS_SELECTOR, "#ranking thead th")[4]
        auroc_header.click()  # ascending
        assert generators() == ["freevc", "world"]
        auroc_header.click()  # descending
        assert generators() == ["world", "freevc"]

        Select(driver.find_element(By.ID, "gen-filter")).select_by_visible_text("freevc")
        assert generators() == ["freevc"]
        Select(driver.find_element(By.ID, "ch-filter")).select_by_value("5")
        visible = [r for r in driver.find_elements(By.CSS_SELECTOR, "#heatmap tbody tr") if r.is_displayed()]
        assert len(visible) == 1 and visible[0].get_attribute("data-challenge") == "5"

        figures = driver.find_elements(By.CSS_SELECTOR, "figure svg")
        assert len(figures) >= 4 and all(f.size["width"] > 100 and f.size["height"] > 100 for f in figures)
        artifacts = Path(os.environ.get("BENCH_ARTIFACTS", tmp_path))
        artifacts.mkdir(parents=True, exist_ok=True)
        Select(driver.find_element(By.ID, "gen-filter")).select_by_value("")
        Select(driver.find_element(By.ID, "ch-filter")).select_by_value("")
        assert driver.save_screenshot(str(artifacts / "leaderboard.png"))
    finally:
        driver.quit()


@pytest.mark.skipif(not os.environ.get("BENCH_DEMO_LEADERBOARD"),
                    reason="set BENCH_DEMO_LEADERBOARD to the demo's index.html (.ci/run does, after `bench demo`)")
def test_demo_leaderboard_renders():
    from selenium.webdriver.common.by import By

    page = Path(os.environ["BENCH_DEMO_LEADERBOARD"])
    assert page.is_file(), f"{page} does not exist: run `bench demo` first"
    driver = open_page(page)
    try:
        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert not errors, errors
        assert driver.find_elements(By.CSS_SELECTOR, "#ranking tbody tr")
        assert len(driver.find_elements(By.CSS_SELECTOR, "#heatmap tbody tr")) == 21
        assert all(f.size["width"] > 100 for f in driver.find_elements(By.CSS_SELECTOR, "figure svg"))
        artifacts = Path(os.environ.get("BENCH_ARTIFACTS", page.parent))
        artifacts.mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(str(artifacts / "demo-leaderboard.png"))
    finally:
        driver.quit()
