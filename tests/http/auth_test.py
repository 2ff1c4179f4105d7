"""--http auth: a non-loopback address without a token is refused at start
(exit 2, a message saying what to do); with a token every request without
it gets 401 and changes nothing, and a request with it is served."""
import argparse
import os
import subprocess
import sys
import urllib.error
import urllib.request

from http_cluster import Cluster, http, wait_for


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    a = ap.parse_args()

    c = Cluster(a.bin)
    try:
        # 1. Refused at start: 0.0.0.0 without a token.
        r = subprocess.run([os.path.join(a.bin, "leaseq-broker"), "--http", "0.0.0.0:%d" % c.http_port],
                           env=c.env, capture_output=True, text=True, timeout=30)
        assert r.returncode == 2, (r.returncode, r.stderr)
        assert "without a token" in r.stderr and "--http-token-file" in r.stderr, r.stderr
        # An empty token file is refused too.
        empty = os.path.join(c.dir, "empty")
        open(empty, "w").close()
        r = subprocess.run([os.path.join(a.bin, "leaseq-broker"), "--http", "127.0.0.1:%d" % c.http_port,
                            "--http-token-file", empty], env=c.env, capture_output=True, text=True, timeout=30)
        assert r.returncode == 2 and "empty" in r.stderr, (r.returncode, r.stderr)

        # 2. With a token (and any address allowed; we still bind loopback).
        token = "t0ken-%d" % os.getpid()
        tok = os.path.join(c.dir, "token")
        with open(tok, "w") as f:
            f.write(token + "\n")
        c.broker_args = ["--http-token-file", tok]
        c.auth = lambda: {"Authorization": "Bearer " + token}
        c.start_broker()
        c.submit([{"key": "bad", "cmd": ["false"]}])
        c.worker("w1")
        wait_for(lambda: c.query("SELECT state FROM tasks WHERE key = 'bad'") == "failed", 20, "task failed")

        for path in ["/", "/metrics", "/healthz", "/api/status", "/api/workers", "/api/tasks", "/api/tasks/bad",
                     "/app.js"]:
            status, _ = http(c.url + path)
            assert status == 401, (path, status)
            status, _ = http(c.url + path, headers={"Authorization": "Bearer wrong"})
            assert status == 401, (path, "wrong token", status)
            status, _ = http(c.url + path, headers=c.auth())
            assert status == 200, (path, "with token", status)
        # A write without the token: 401, and the task stays failed.
        for verb in ["retry", "cancel"]:
            status, _ = http(c.url + "/api/%s?key=bad" % verb, method="POST", data=b"")
            assert status == 401, (verb, status)
            status, _ = http(c.url + "/api/%s?key=bad" % verb, method="POST", data=b"",
                             headers={"Authorization": "Bearer wrong"})
            assert status == 401, (verb, status)
        assert c.query("SELECT state FROM tasks WHERE key = 'bad'") == "failed"
        assert c.query("SELECT count(*) FROM attempts") == 1
        status, body = http(c.url + "/api/status", headers=c.auth())
        assert '"writable":true' in body, body  # the task page offers Retry and Cancel
        # A browser signs in once: the same token, in a cookie.
        status, _ = http(c.url + "/login", method="POST", data=b"token=wrong")
        assert status == 401, status
        req = urllib.request.Request(c.url + "/login", method="POST", data=("token=" + token).encode())
        opener = urllib.request.build_opener(NoRedirect)
        try:
            opener.open(req, timeout=10)
            raise AssertionError("no redirect after signing in")
        except urllib.error.HTTPError as e:
            assert e.code == 303, e.code
            set_cookie = e.headers["Set-Cookie"]
        assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie, set_cookie
        cookie = set_cookie.split(";")[0]
        status, _ = http(c.url + "/api/status", headers={"Cookie": cookie})
        assert status == 200, status
        status, _ = http(c.url + "/api/status", headers={"Cookie": "leaseq_token=wrong"})
        assert status == 401, status
        # With it: retried through the broker's loop.
        status, body = http(c.url + "/api/retry?key=bad", method="POST", data=b"", headers=c.auth())
        assert status == 200 and '"bad"' in body, (status, body)
        wait_for(lambda: c.query("SELECT count(*) FROM attempts") == 2, 20, "the retried attempt")
        print("auth: refused without a token on 0.0.0.0; 401 without the token on 8 paths and 2 writes; "
              "the sign-in cookie works, a wrong one does not; retry with the token goes through the loop")
    finally:
        c.close()


if __name__ == "__main__":
    sys.exit(main())
