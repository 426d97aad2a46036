"""At most one open application per key of a service (a bill, a licence)."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import func, select

from portal.applications.models import Application
from portal.extensions import db
from tests.applications.conftest import SERVICE
from tests.applications.test_journey import ADDRESS, _csrf, evidence, post_step, start, submit


@pytest.fixture(params=[False, True], ids=["per-citizen", "across-citizens"])
def keyed(app, permit_service, request):
    registry = app.extensions["portal_services"]
    registry.entries[0].definition = dataclasses.replace(
        SERVICE, exclusive_key=lambda answers: answers.get("full_name"),
        exclusive_across_citizens=request.param)
    return registry.entries[0].definition


@pytest.fixture
def keyed_for_everyone(app, permit_service):
    registry = app.extensions["portal_services"]
    registry.entries[0].definition = dataclasses.replace(
        SERVICE, exclusive_key=lambda answers: answers.get("full_name"),
        exclusive_across_citizens=True)
    return registry.entries[0].definition


def _apply(client, name="Chan Tai Man"):
    draft = start(client)
    post_step(client, draft, "details", {"full_name": name, "kind": "day"})
    post_step(client, draft, "address", ADDRESS)
    post_step(client, draft, "evidence", evidence(), content_type="multipart/form-data")
    return draft, submit(client, draft)


def test_a_second_open_application_with_the_same_key_is_refused(client, keyed, create_user,
                                                                 sign_in):
    create_user()
    sign_in(client)
    _draft, first = _apply(client)
    reference = db.session.scalar(select(Application.reference))
    _draft, second = _apply(client)
    assert second.status_code == 409
    page = second.get_data(as_text=True)
    assert "already have an application in progress" in page
    assert f"/applications/{reference}" in page
    assert "<title>Error:" in page
    assert db.session.scalar(select(func.count()).select_from(Application)) == 1


def test_another_citizen_is_refused_without_seeing_the_reference(client, app,
                                                                 keyed_for_everyone,
                                                                 create_user, sign_in):
    create_user()
    create_user(email="other@example.com")
    sign_in(client)
    _apply(client)
    reference = db.session.scalar(select(Application.reference))
    other = app.test_client()
    sign_in(other, "other@example.com")
    _draft, response = _apply(other)
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "already in progress" in page
    assert reference not in page


def test_the_key_is_free_again_once_the_application_is_final(client, keyed, create_user,
                                                            sign_in):
    create_user()
    sign_in(client)
    _apply(client)
    reference = db.session.scalar(select(Application.reference))
    url = f"/applications/{reference}/withdraw"
    client.post(url, data={"csrf_token": _csrf(client, url)})
    assert db.session.scalar(select(Application.open_key)) is None
    _draft, again = _apply(client)
    assert again.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Application)) == 2


def test_two_citizens_sending_at_once_make_one_application(app, keyed_for_everyone,
                                                           create_user, sign_in):
    import threading

    clients = []
    drafts = []
    for email in ("a@example.com", "b@example.com"):
        create_user(email=email)
        each = app.test_client()
        sign_in(each, email)
        draft = start(each)
        post_step(each, draft, "details", {"full_name": "Same Name", "kind": "day"})
        post_step(each, draft, "address", ADDRESS)
        post_step(each, draft, "evidence", evidence(), content_type="multipart/form-data")
        clients.append(each)
        drafts.append(draft)
    tokens = [_csrf(each, "/dashboard") for each in clients]
    barrier = threading.Barrier(2)
    codes: list[int] = []

    def send(each, draft, token):
        barrier.wait()
        codes.append(each.post(f"/drafts/{draft}/check", data={"csrf_token": token}).status_code)

    threads = [threading.Thread(target=send, args=args)
               for args in zip(clients, drafts, tokens, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.session.remove()
    assert sorted(codes) == [302, 409]
    assert db.session.scalar(select(func.count()).select_from(Application)) == 1


def test_a_key_held_per_citizen_does_not_stop_another_citizen(client, app, permit_service,
                                                              create_user, sign_in):
    registry = app.extensions["portal_services"]
    registry.entries[0].definition = dataclasses.replace(
        SERVICE, exclusive_key=lambda answers: answers.get("full_name"))
    create_user()
    create_user(email="other@example.com")
    sign_in(client)
    _apply(client)
    other = app.test_client()
    sign_in(other, "other@example.com")
    _draft, response = _apply(other)
    assert response.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Application)) == 2


def test_the_key_is_stored_as_a_digest(client, keyed, create_user, sign_in):
    create_user()
    sign_in(client)
    _apply(client)
    stored = db.session.scalar(select(Application.open_key))
    assert "Chan" not in stored
    assert len(stored) == 64


def test_a_double_click_on_send_shows_the_confirmation_twice(app, keyed, create_user, sign_in):
    import threading

    create_user()
    clients = [app.test_client(), app.test_client()]
    for each in clients:
        sign_in(each)
    draft = start(clients[0])
    post_step(clients[0], draft, "details", {"full_name": "Li", "kind": "day"})
    post_step(clients[0], draft, "address", ADDRESS)
    post_step(clients[0], draft, "evidence", evidence(), content_type="multipart/form-data")
    tokens = [_csrf(each, "/dashboard") for each in clients]
    barrier = threading.Barrier(2)
    locations: list[str] = []

    def send(each, token):
        barrier.wait()
        response = each.post(f"/drafts/{draft}/check", data={"csrf_token": token})
        locations.append(f"{response.status_code} {response.headers.get('Location')}")

    threads = [threading.Thread(target=send, args=pair)
               for pair in zip(clients, tokens, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.session.remove()
    reference = db.session.scalar(select(Application.reference))
    assert locations == [f"302 /applications/{reference}/confirmation"] * 2
