"""Moves between states: compare-and-set, events, illegal moves, withdrawal."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, update

from portal.applications import engine
from portal.applications.models import Application, ApplicationEvent
from portal.extensions import db
from portal.plugins.service import IllegalTransition
from tests.applications.test_journey import ADDRESS, _csrf, evidence, post_step, start, submit


def _submitted(client, create_user, sign_in, kind="day"):
    create_user()
    sign_in(client)
    draft = start(client)
    post_step(client, draft, "details", {"full_name": "Li <i>Siu</i>", "kind": kind})
    if kind == "year":
        post_step(client, draft, "copies", {"copies": "1"})
    post_step(client, draft, "address", ADDRESS)
    post_step(client, draft, "evidence", evidence(), content_type="multipart/form-data")
    submit(client, draft)
    return draft, db.session.scalar(select(Application))


def test_every_move_records_an_event_with_actor_and_states(client, permit_service, create_user,
                                                            sign_in, create_staff):
    _draft, application = _submitted(client, create_user, sign_in)
    officer = create_staff()
    event = engine.transition(application, "approve", actor_role="officer", actor_id=officer.id)
    db.session.commit()
    assert (event.from_state, event.to_state, event.actor_role, event.actor_id) == (
        "received", "approved", "officer", officer.id)
    assert application.state == "approved"


def test_an_illegal_move_raises_and_changes_nothing(client, permit_service, create_user,
                                                    sign_in):
    _draft, application = _submitted(client, create_user, sign_in)
    with pytest.raises(IllegalTransition):
        engine.transition(application, "approve", actor_role="citizen")
    with pytest.raises(IllegalTransition):
        engine.transition(application, "payment_received", actor_role="system")
    db.session.rollback()
    assert db.session.scalar(select(Application.state)) == "received"
    assert db.session.scalar(select(func.count()).select_from(ApplicationEvent)) == 2


def test_a_move_based_on_a_stale_state_is_refused(client, permit_service, create_user, sign_in):
    _draft, application = _submitted(client, create_user, sign_in)
    db.session.commit()
    application.state  # noqa: B018 - read it now: this request saw "received"
    # Someone else, on another connection, withdraws it after we read it.
    with db.engine.begin() as other:
        other.execute(update(Application).values(state="withdrawn"))
    with pytest.raises(engine.StaleState):
        engine.transition(application, "approve", actor_role="officer")
    db.session.rollback()
    assert db.session.scalar(select(Application.state)) == "withdrawn"


def test_the_citizen_withdraws_and_cannot_withdraw_twice(client, permit_service, create_user,
                                                        sign_in):
    _draft, application = _submitted(client, create_user, sign_in)
    url = f"/applications/{application.reference}/withdraw"
    assert "Withdraw application" in client.get(url).get_data(as_text=True)
    token = _csrf(client, url)
    response = client.post(url, data={"csrf_token": token})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Withdrawn" in page
    again = client.post(url, data={"csrf_token": token})
    assert "can no longer be withdrawn" in client.get(again.headers["Location"]).get_data(
        as_text=True)
    assert db.session.scalar(select(func.count()).select_from(ApplicationEvent)) == 3


def test_withdraw_without_a_csrf_token_changes_nothing(client, permit_service, create_user,
                                                      sign_in):
    _draft, application = _submitted(client, create_user, sign_in)
    response = client.post(f"/applications/{application.reference}/withdraw")
    assert response.status_code == 400
    assert db.session.scalar(select(Application.state)) == "received"


def test_the_application_page_shows_answers_escaped_and_the_timeline(
        client, permit_service, create_user, sign_in):
    _draft, application = _submitted(client, create_user, sign_in)
    page = client.get(f"/applications/{application.reference}").get_data(as_text=True)
    assert "Li &lt;i&gt;Siu&lt;/i&gt;" in page
    assert "<i>Siu" not in page
    assert "Application sent" in page
    assert "Payment received" in page
    assert "proof.pdf" in page
    assert "/uploads/" in page
    assert "Withdraw this application" in page


def test_parallel_submits_make_one_application(app, permit_service, create_user, sign_in):
    create_user()
    clients = [app.test_client() for _ in range(4)]
    for each in clients:
        sign_in(each)
    draft = start(clients[0])
    post_step(clients[0], draft, "details", {"full_name": "Li", "kind": "day"})
    post_step(clients[0], draft, "address", ADDRESS)
    post_step(clients[0], draft, "evidence", evidence(), content_type="multipart/form-data")
    tokens = [_csrf(each, "/dashboard") for each in clients]
    barrier = threading.Barrier(len(clients))
    results: list[int] = []

    def send(each, token):
        barrier.wait()
        response = each.post(f"/drafts/{draft}/check", data={"csrf_token": token})
        results.append(response.status_code)

    threads = [threading.Thread(target=send, args=pair) for pair in zip(clients, tokens,
                                                                        strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.session.remove()
    assert sorted(results) == [302] * len(clients)
    assert db.session.scalar(select(func.count()).select_from(Application)) == 1
    assert db.session.scalar(select(func.count()).select_from(ApplicationEvent)) == 2
