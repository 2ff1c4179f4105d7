"""A real headless Chromium (Selenium and chromedriver) opens the dashboard
while tasks run and a worker is killed: the page shows no console error, its
counts match the database, the workers table shows the killed worker lost,
and the task page's timeline shows a lost attempt and a done one on two
workers. Screenshots go to --artifacts (look at them).

--demo PNG: instead, take one screenshot of the overview during a longer
run with several preemptions (the README's picture)."""
import argparse
import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from http_cluster import Cluster, http, wait_for


def browser():
    o = webdriver.ChromeOptions()
    o.binary_location = "/usr/bin/chromium"
    for arg in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1300", "--no-first-run", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update"]:
        o.add_argument(arg)
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)


def console_errors(d):
    return [e for e in d.get_log("browser") if e["level"] == "SEVERE"]


def text(d, css):
    """The element's text, read in one script: the page redraws its tables
    every second, so an element found first and read after may be gone."""
    return d.execute_script("const e = document.querySelector(arguments[0]); "
                            "return e ? e.textContent : null;", css)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--artifacts", required=True)
    a = ap.parse_args()
    os.makedirs(a.artifacts, exist_ok=True)
    started = time.monotonic()
    c = Cluster(a.bin)
    # With a token: the page is signed in to, and offers Retry and Cancel.
    token = "dashboard-%d" % os.getpid()
    token_file = os.path.join(c.dir, "token")
    with open(token_file, "w") as f:
        f.write(token + "\n")
    c.broker_args = ["--heartbeat-ms", "200", "--liveness", "3", "--http-token-file", token_file]
    c.auth = lambda: {"Authorization": "Bearer " + token}
    d = None
    try:
        c.start_broker()
        d = browser()
        d.get(c.url + "/")
        # The sign-in page (a 401: the browser logs it), then the dashboard.
        d.find_element(By.NAME, "token").send_keys(token)
        d.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait_for(lambda: text(d, "#count-done") is not None, 20, "the page's counts")
        d.get_log("browser")  # from here on, no console error
        c.worker("stable", extra=["--prefetch", "0"])
        c.worker("spot", extra=["--prefetch", "0"])
        n = 24
        tasks = [{"key": "job-%03d" % i, "cmd": ["sh", "-c", "sleep 0.4"]} for i in range(n)]
        failing = ["job-%03d" % i for i in range(5, n, 11)]
        for i in range(5, n, 11):
            # Last in the queue: the task spot loses is one that can end done.
            tasks[i]["cmd"] = ["sh", "-c", "sleep 0.2; echo 'out of cheese' >&2; exit 1"]
            tasks[i]["priority"] = -1
        c.submit(tasks)
        # Preempt "spot" while it runs a task it has started.
        wait_for(lambda: c.query(
            "SELECT task_key FROM attempts WHERE worker = 'spot' AND outcome = 'running' AND unstarted = 0 "
            "AND task_key NOT IN (%s)" % ",".join("'%s'" % k for k in failing)),
            20, "spot running a task")
        c.kill("spot")
        wait_for(lambda: c.query("SELECT state FROM workers WHERE name = 'spot'") == "lost", 20, "spot lost")
        # The task it held when it died (on a loaded machine, not always
        # the one seen running just before the kill).
        victim_task = c.query("SELECT task_key FROM attempts WHERE worker = 'spot' AND outcome = 'lost'")
        assert victim_task, ("spot was lost holding no started task", c.rows("SELECT * FROM attempts"))
        # Mid-run: the picture as it happens.
        wait_for(lambda: text(d, 'tr[data-worker="spot"] td.state') == "lost", 10, "the page showing spot lost")
        d.save_screenshot(os.path.join(a.artifacts, "dashboard-running.png"))
        wait_for(lambda: c.query("SELECT count(*) FROM tasks WHERE state IN ('done', 'failed')") == n, 60,
                 "every task ended")

        # The counts the page shows equal the database's (the page polls every second).
        def counts_match():
            db = dict(c.rows("SELECT state, n FROM task_state_counts"))
            # In one script: the page redraws its cards every second.
            shown = d.execute_script(
                "const o = {}; for (const s of arguments[0]) "
                "o[s] = document.getElementById('count-' + s).dataset.n; return o;",
                ["waiting", "queued", "running", "done", "failed", "cancelled"])
            return all(int(shown[s]) == db[s] for s in shown)
        wait_for(counts_match, 10, "the page's counts to equal the database's")
        assert text(d, 'tr[data-worker="spot"] td.state') == "lost"
        assert text(d, 'tr[data-worker="stable"] td.state') == "alive"
        lost_cell = d.execute_script(
            "return document.querySelector('tr[data-worker=\"spot\"] td:last-child').textContent")
        assert lost_cell == "1", lost_cell
        try:
            wait_for(lambda: victim_task in (text(d, "#losses") or ""), 10, "the lost attempt listed")
        except AssertionError:
            print("losses shown:", text(d, "#losses"), "\napi:", http(c.url + "/api/status"),
                  "\nattempts:", c.rows("SELECT * FROM attempts WHERE worker = 'spot'"), "\nconsole:",
                  d.get_log("browser"))
            raise
        wait_for(lambda: "out of cheese" in (text(d, "#failures") or ""), 10, "a failure listed")
        d.save_screenshot(os.path.join(a.artifacts, "dashboard-overview.png"))

        # The task page: a lost attempt on spot, then a done one on stable.
        def click_link():
            try:
                d.find_element(By.LINK_TEXT, victim_task).click()
                return True
            except Exception:  # redrawn between finding and clicking: again
                return False
        wait_for(click_link, 10, "a click on the task's link")
        wait_for(lambda: d.find_elements(By.CSS_SELECTOR, '#timeline rect[data-outcome="done"]'), 10, "timeline")
        bars = d.execute_script(
            "return [...document.querySelectorAll('#timeline rect')].map("
            "r => r.dataset.outcome + '@' + r.dataset.worker)")
        assert sorted(bars) == ["done@stable", "lost@spot"], bars
        assert text(d, "#task-state-badge") == "done"
        d.save_screenshot(os.path.join(a.artifacts, "dashboard-task.png"))

        # Retry a failed task from its page: it runs (and fails) once more.
        d.get(c.url + "/#/task/" + failing[0])
        wait_for(lambda: d.find_elements(By.ID, "retry"), 10, "the Retry button")
        d.find_element(By.ID, "retry").click()
        wait_for(lambda: c.query("SELECT count(*) FROM attempts a JOIN tasks t ON t.id = a.task_id "
                                 "WHERE t.key = ? AND a.outcome = 'error'", (failing[0],)) == 2, 20,
                 "the retried attempt")
        wait_for(lambda: "retry: done" in (text(d, "#task-actions") or ""), 10, "the page saying so")

        errors = console_errors(d)
        assert not errors, errors
        print("dashboard: counts, lost worker, timeline (lost on spot, done on stable) as in the database; "
              "no console error; screenshots in %s; %.1f s" % (a.artifacts, time.monotonic() - started))
        return 0
    finally:
        if d:
            d.quit()
        c.close()


if __name__ == "__main__":
    sys.exit(main())
