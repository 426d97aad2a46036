"""Repeated and parallel requests have exactly one effect (real HTTP, real threads)."""

from __future__ import annotations

import threading
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

from sqlalchemy import func, select

from portal.extensions import db
from portal.identity.models import OneTimeToken, User
from portal.notifications.models import OutboxEmail
from portal.testing.helpers import csrf_token_from, links_in, path_of, post_form

PARALLEL = 8


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _browser():
    jar = CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect())


def _status(opener, url, data=None):
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    try:
        with opener.open(url, data=body, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_a_reset_link_used_in_parallel_changes_the_password_once(
    app, client, live_server, create_user, smtp_sink
):
    create_user()
    post_form(client, "/password/forgotten", {"email": "citizen@example.com"})
    [message] = smtp_sink.wait_for("citizen@example.com")
    [link] = [u for u in links_in(message) if "/reset/" in u]
    url = live_server + path_of(link)

    browsers = []
    for _ in range(PARALLEL):
        opener = _browser()
        status, page = _status(opener, url)
        assert status == 200
        browsers.append((opener, csrf_token_from(page)))

    barrier = threading.Barrier(PARALLEL)
    outcomes: list[int] = []

    def submit(opener, token, index):
        barrier.wait()
        status, _ = _status(opener, url, {"csrf_token": token,
                                          "password": f"Peak-Tram-Evening-{index:02d}x"})
        outcomes.append(status)

    threads = [threading.Thread(target=submit, args=(o, t, i)) for i, (o, t) in enumerate(browsers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes).count(302) == 1, outcomes
    assert all(code in (302, 400) for code in outcomes), outcomes
    db.session.expire_all()
    assert db.session.scalar(select(OneTimeToken)).used_at is not None
    changed = db.session.scalar(
        select(func.count()).select_from(OutboxEmail).where(OutboxEmail.kind == "identity/password_changed")
    )
    assert changed == 1


def test_parallel_registrations_with_one_email_make_one_account(app, live_server, smtp_sink):
    browsers = []
    for _ in range(PARALLEL):
        opener = _browser()
        status, page = _status(opener, live_server + "/register")
        assert status == 200
        browsers.append((opener, csrf_token_from(page)))
    barrier = threading.Barrier(PARALLEL)
    outcomes: list[int] = []

    def submit(opener, token):
        barrier.wait()
        status, _ = _status(opener, live_server + "/register", {
            "csrf_token": token, "email": "twin@example.com", "name_en": "TSE Ming",
            "name_zh": "", "password": "Lion-Rock-Spirit-2026", "preferred_language": "en",
        })
        outcomes.append(status)

    threads = [threading.Thread(target=submit, args=b) for b in browsers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(User)) == 1
    # Losers of the race see the same page as everyone else, not an error.
    assert all(code == 302 for code in outcomes), outcomes
