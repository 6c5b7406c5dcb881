"""Smoke test of an installed casework (run by .ci/run with the wheel's own interpreter, in a
folder outside the checkout): serve the demo database and open every demo role's home page.

Standard library only, so it tests the wheel's dependencies and nothing from the checkout."""

from __future__ import annotations

import http.cookiejar
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROLES = ["admin", "coordinator", "worker", "worker2", "officer", "officer2", "supervisor", "auditor"]
PASSWORD = "casework-demo"
LOG_OUT = {"mk": "Одјава", "sq": ">Dil<", "en": "Log out"}


def main(casework: str, db: Path, port: int) -> int:
    env_db = f"sqlite:///{db}"
    log = (db.parent / "server.log").open("w")
    server = subprocess.Popen(  # noqa: S603 - our own command
        [casework, "serve", "--port", str(port)],
        env={"CASEWORK_DATABASE_URL": env_db, "PATH": "/usr/bin:/bin", "HOME": str(db.parent)},
        cwd=db.parent,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2)  # noqa: S310 - loopback
                break
            except OSError:
                time.sleep(0.2)
        for role in ROLES:
            jar = http.cookiejar.CookieJar()
            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
            page = opener.open(base + "/login").read().decode()
            token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
            assert token, "no CSRF token on the login page"
            data = urllib.parse.urlencode(
                {"csrf_token": token.group(1), "username": role, "password": PASSWORD}
            ).encode()
            home = opener.open(base + "/login", data=data)
            body = home.read().decode()
            assert home.status == 200, (role, home.status)
            assert home.url.rstrip("/") != base + "/login", f"{role}: log-in failed"
            assert 'href="/static/' in body, f"{role}: page without its stylesheet"
            # Each demo user's own language, from the wheel's compiled catalogues.
            lang = re.search(r'<html lang="(\w+)"', body).group(1)
            assert LOG_OUT[lang] in body, f"{role}: the page is not in its language ({lang})"
            css = opener.open(base + re.search(r'href="(/static/[^"]+\.css)"', body).group(1))
            assert css.status == 200, f"{role}: stylesheet missing"
            print(f"  {role:<12} {lang} {home.url[len(base):]:<20} {len(body):>7} bytes")
        ready = urllib.request.urlopen(base + "/readyz", timeout=5)  # noqa: S310 - loopback
        print("  readyz", ready.status, ready.read().decode())
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])))
