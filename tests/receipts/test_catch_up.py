"""The embedded default's catch-up of lost or failed receipts: a few at a time, after the
response of whichever request committed, at most once a minute."""

from __future__ import annotations

import pytest
from flask import has_request_context
from sqlalchemy import select

from portal.extensions import db
from portal.jobs import Sweep
from portal.receipts import issue
from portal.receipts.models import Receipt
from tests.receipts.conftest import all_receipts


@pytest.fixture
def lost_receipts(app, make_payment, create_user, monkeypatch):
    """12 receipts whose jobs were lost (still pending, due now)."""
    user = create_user()
    with monkeypatch.context() as lost:
        lost.setattr("portal.jobs.enqueue", lambda *args: None)
        for _ in range(12):
            issue.request_receipt(make_payment(user=user))
            db.session.commit()
    assert {r.status for r in all_receipts()} == {"pending"}
    monkeypatch.setattr(issue, "SWEEP", Sweep(60.0))  # no catch-up ran in the last minute
    return user


@pytest.fixture
def sweeps(monkeypatch):
    """Each catch-up: (its limit, whether it ran inside a request)."""
    seen: list[tuple[int, bool]] = []
    real = issue.issue_due

    def recording(limit: int = issue.SWEEP_LIMIT) -> int:
        seen.append((limit, has_request_context()))
        return real(limit=limit)

    monkeypatch.setattr(issue, "issue_due", recording)
    return seen


def _issued() -> int:
    return sum(1 for r in all_receipts() if r.status == "issued")


def test_any_committing_request_catches_up_ten_after_its_response(
        client, sign_in, lost_receipts, sweeps):
    response = sign_in(client)  # commits, asks for no receipt

    assert response.status_code == 302
    assert sweeps == []  # not while the citizen waits
    response.close()  # the server has sent the response
    assert sweeps == [(issue.EAGER_SWEEP_LIMIT, False)]
    assert _issued() == issue.EAGER_SWEEP_LIMIT == 10
    assert len(all_receipts()) == 12


def test_the_catch_up_runs_at_most_once_a_minute(app, client, sign_in, lost_receipts, sweeps):
    for response in (sign_in(client), client.get("/"), sign_in(app.test_client())):
        response.close()

    assert len(sweeps) == 1
    assert _issued() == 10


def test_a_request_that_commits_nothing_starts_no_catch_up(client, lost_receipts, sweeps):
    response = client.get("/verify")
    assert response.status_code == 200
    response.close()
    assert sweeps == []
    assert _issued() == 0


def test_outside_a_request_a_new_receipt_catches_up_at_once_but_only_ten(
        lost_receipts, make_payment, issue_for, sweeps):
    new = issue_for(make_payment(user=lost_receipts))

    assert new.status == "issued"
    assert sweeps == [(issue.EAGER_SWEEP_LIMIT, False)]
    assert _issued() == 1 + 10
    pending = db.session.scalars(select(Receipt).where(Receipt.status == "pending")).all()
    assert len(pending) == 2
