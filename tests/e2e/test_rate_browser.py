"""`bench rate` in a real headless Chromium (issue #25): rate a call from the keyboard, see the machine's verdict,
revise, save; stop and resume where the rater stopped; the ratings feed `bench human report`."""

from __future__ import annotations

import shutil
import threading

import pytest

from bench.human.ratings import read_ratings
from tests.helpers.cli import invoke, run_bench

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs Debian's chromium and chromium-driver "
                                 "(apt-get install chromium chromium-driver; .ci/run installs them)")]


def _browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--autoplay-policy=no-user-gesture-required"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(DRIVER), options=opts)


def _serve(session):
    from bench.runs.rate import make_server

    server, url = make_server(session)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    return server, url


def _wait_text(driver, element_id: str, text: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 20).until(lambda d: text in d.find_element(By.ID, element_id).text)


def _rate_one(driver, keys: str, final: str) -> str:
    """Answer the current call from the keyboard, reveal the verdict, revise to ``final`` and save; returns the
    machine's verdict as the page showed it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    body = driver.find_element(By.TAG_NAME, "body")
    body.send_keys(keys)  # task performed, realism, decision
    body.send_keys(Keys.ENTER)
    WebDriverWait(driver, 20).until(lambda d: d.find_element(By.ID, "machine").is_displayed())
    verdict = driver.find_element(By.ID, "verdict").text
    body.send_keys(final[0])  # r or f: the revised decision
    body.send_keys(Keys.ENTER)
    return verdict


def test_rate_reveal_revise_resume_and_report(evaluated, sim_corpus, tmp_path, capfd):
    from selenium.webdriver.common.by import By

    from bench.runs.rate import open_session

    root, _ = evaluated
    result = root / "result"
    assert run_bench("data", "subset", "--hard", "--result", str(result), "--corpus", str(sim_corpus), "--fakes",
                     str(root / "fakes"), "--out", str(tmp_path / "hard"), "--match", "-1",
                     "--per-challenge", "1").returncode == 0
    out = tmp_path / "rated"
    session = open_session(tmp_path / "hard", result, out, "rater-a")
    # the hard subset also holds calls of the speaker the compliance classifiers trained on: left out
    assert session.outside and not set(session.outside) & {i.sample_id for i in session.items}
    total = session.status()["total"]
    first = session.status()["sample_id"]
    server, url = _serve(session)
    driver = _browser()
    try:
        driver.get(url)
        _wait_text(driver, "progress", f"0 of {total} calls rated")
        assert driver.find_element(By.ID, "audio").get_attribute("src").endswith("/audio/0.wav")
        # submitting with a question unanswered is refused on the page, nothing is sent
        driver.find_element(By.TAG_NAME, "body").send_keys("y4")
        driver.find_element(By.ID, "submit-initial").click()
        _wait_text(driver, "error", "Answer all three questions first.")
        verdict = _rate_one(driver, "y4f", "real")
        _wait_text(driver, "progress", f"1 of {total} calls rated")
        second = session.status()["sample_id"]
        _rate_one(driver, "n2r", "real")
        _wait_text(driver, "progress", f"2 of {total} calls rated")
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
    finally:
        driver.quit()
        server.shutdown()
        server.server_close()
    rows = read_ratings(out / "ratings.csv")
    assert [r.sample_id for r in rows] == [first, second]
    a = rows[0]
    assert (a.compliance, a.realism, a.initial_decision, a.final_decision) == (1, 4, "fake", "real")
    assert a.machine_verdict == verdict and a.simulated == 0 and a.rater == "rater-a"
    assert a.rationale_shown == int(session.with_rationale(first))
    assert (rows[1].compliance, rows[1].realism, rows[1].initial_decision) == (0, 2, "real")
    # the rater comes back: the page starts at the third call, and the first two are not asked again
    again = open_session(tmp_path / "hard", result, out, "rater-a")
    assert again.status()["rated"] == 2 and again.status()["sample_id"] not in (first, second)
    server, url = _serve(again)
    driver = _browser()
    try:
        driver.get(url)
        _wait_text(driver, "progress", f"2 of {total} calls rated")
        _rate_one(driver, "y5r", "fake")
        _wait_text(driver, "progress", f"3 of {total} calls rated")
    finally:
        driver.quit()
        server.shutdown()
        server.server_close()
    assert len(read_ratings(out / "ratings.csv")) == 3
    # the ratings feed the analysis
    res = invoke(["human", "report", "--result", str(result), "--ratings", str(out / "ratings.csv"), "--out",
                  str(tmp_path / "report")], capfd)
    assert res.code == 0, res.stderr
    readme = (tmp_path / "report" / "README.md").read_text()
    assert "3 ratings of 3 calls by 1 human raters" in readme and "SIMULATED" not in readme
