"""A service whose own code raises on a request is switched off; the portal serves on."""

from __future__ import annotations

import dataclasses

from portal.extensions import db
from portal.plugins.manager import LoadedService, ServiceRegistry
from portal.plugins.models import ServiceSwitch
from tests.applications.conftest import SERVICE
from tests.applications.test_journey import ADDRESS, evidence, post_step, start


def broken_fees(answers):
    raise ZeroDivisionError("the fee table is missing")


def test_a_service_that_raises_is_disabled_and_reported(client, app, permit_service,
                                                        create_user, sign_in, caplog):
    registry = app.extensions["portal_services"]
    registry.entries[0].definition = dataclasses.replace(SERVICE, fees=broken_fees)
    create_user()
    sign_in(client)
    draft = start(client)
    post_step(client, draft, "details", {"full_name": "Li", "kind": "day"})
    post_step(client, draft, "address", ADDRESS)
    post_step(client, draft, "evidence", evidence(), content_type="multipart/form-data")
    for attempt in range(app.config["SERVICE_FAILURE_LIMIT"]):
        assert "test_permit" in registry.active, attempt
        response = client.get(f"/drafts/{draft}/check")
        assert response.status_code == 503
        assert "This service has a problem" in response.get_data(as_text=True)
    assert "test_permit" not in registry.active
    switch = db.session.get(ServiceSwitch, "test_permit")
    assert "ZeroDivisionError" in switch.reason
    assert "fee table" not in switch.reason  # the message may hold personal data; the log has it
    assert "service plugin test_permit switched off" in caplog.text
    # The portal keeps serving; the service is gone from the catalogue.
    assert client.get("/dashboard").status_code == 200
    assert client.get("/services/test_permit").status_code == 404
    assert "Test permit" not in client.get("/services").get_data(as_text=True)


def test_a_failure_in_the_core_does_not_disable_a_service(client, app, permit_service,
                                                          monkeypatch, create_user, sign_in):
    import operator

    from portal.applications import engine

    # Raises IndexError from C code: no frame of the (test) plugin's package is involved.
    monkeypatch.setattr(engine, "first_unfinished", operator.itemgetter(99))
    create_user()
    sign_in(client)
    draft = start(client)
    assert client.get(f"/drafts/{draft}").status_code == 500
    assert app.extensions["portal_services"].entries[0].status == "active"


def test_a_switch_made_by_one_process_reaches_the_others(app, permit_service):
    """Every app process re-reads the switches; an administrator switches back on."""
    mine = app.extensions["portal_services"]
    other = ServiceRegistry()
    other.entries.append(LoadedService("test_permit", "tests", "0", "active", "", SERVICE,
                                       "tests.applications"))
    mine.switch_off("test_permit", "raised KeyError on 3 requests (last error id x)")
    assert "test_permit" in other.active
    other.refresh(every=0)
    assert "test_permit" not in other.active
    other.switch_on("test_permit")
    mine.refresh(every=0)
    assert "test_permit" in mine.active


def test_an_administrator_switches_a_service_back_on(app, permit_service, create_staff,
                                                     sign_in_staff):
    from portal.testing.helpers import csrf_token_from

    app.extensions["portal_services"].switch_off("test_permit", "raised KeyError on 3 requests")
    admin = create_staff(email="admin@example.com", role="portal_admin", department_code=None)
    client = app.test_client()
    sign_in_staff(client, admin)
    page = client.get("/staff/admin/services").get_data(as_text=True)
    assert "Switched off" in page
    assert "raised KeyError on 3 requests" in page
    response = client.post("/staff/admin/services/test_permit/switch-on",
                           data={"csrf_token": csrf_token_from(page)})
    assert response.status_code == 302
    assert db.session.get(ServiceSwitch, "test_permit") is None
    assert "test_permit" in app.extensions["portal_services"].active


def test_a_citizen_cannot_switch_services(client, permit_service, create_user, sign_in):
    create_user()
    sign_in(client)
    from portal.testing.helpers import csrf_token_from

    token = csrf_token_from(client.get("/dashboard").get_data(as_text=True))
    response = client.post("/staff/admin/services/test_permit/switch-on",
                           data={"csrf_token": token})
    assert response.status_code == 404


def test_portal_services_shows_a_switched_off_service_and_enables_it(app, permit_service):
    app.extensions["portal_services"].switch_off("test_permit", "raised KeyError on 3 requests")
    runner = app.test_cli_runner()
    listing = runner.invoke(args=["services"])
    assert listing.exit_code == 0, listing.output
    assert "switched off: raised KeyError on 3 requests" in listing.output
    enabled = runner.invoke(args=["services", "enable", "test_permit"])
    assert enabled.exit_code == 0, enabled.output
    assert "test_permit" in app.extensions["portal_services"].active
    again = runner.invoke(args=["services", "enable", "test_permit"])
    assert again.exit_code != 0
    assert "is not switched off" in again.output


def test_a_failed_read_of_the_switches_leaves_the_request_working(client, permit_service):
    from sqlalchemy import text

    with db.engine.begin() as conn:
        conn.execute(text("ALTER TABLE service_switches RENAME TO service_switches_away"))
    try:
        response = client.get("/services")  # the read fails before the view runs
        assert response.status_code == 200
        assert "Test permit" in response.get_data(as_text=True)
    finally:
        db.session.remove()
        with db.engine.begin() as conn:
            conn.execute(text("ALTER TABLE service_switches_away RENAME TO service_switches"))


def test_failures_count_within_a_window_and_afresh_after_switching_on(app, permit_service):
    registry = app.extensions["portal_services"]
    entry = registry.entries[0]
    error = KeyError("x")
    assert not registry.record_failure(entry, error, "e1", limit=2, window=0.0)
    assert not registry.record_failure(entry, error, "e2", limit=2, window=0.0)  # old one gone
    assert registry.record_failure(entry, error, "e3", limit=2, window=600)
    # Switched on by another process (the row is gone): this process counts afresh.
    with db.engine.begin() as conn:
        conn.execute(ServiceSwitch.__table__.delete())
    registry.refresh(every=0)
    assert "test_permit" in registry.active
    assert not registry.record_failure(entry, error, "e4", limit=2, window=600)
