"""Screenshots of a running dashboard, for the docs:
   screenshot.py URL OUT.png [--every S --count N]
(the README's picture is one taken during examples/preemption/run.sh
--dashboard). Headless Chromium, as in dashboard_test.py."""
import argparse
import time

from dashboard_test import browser


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("out", help="file name; with --count, NAME-K.png")
    ap.add_argument("--every", type=float, default=1.0)
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--wait", type=float, default=2.0, help="seconds before the first")
    a = ap.parse_args()
    d = browser()
    try:
        d.get(a.url)
        time.sleep(a.wait)
        for k in range(a.count):
            out = a.out if a.count == 1 else a.out.replace(".png", "-%d.png" % k)
            d.save_screenshot(out)
            time.sleep(a.every)
    finally:
        d.quit()


if __name__ == "__main__":
    main()
