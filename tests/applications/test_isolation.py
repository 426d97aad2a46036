"""A service whose own code raises on a request is switched off; the portal serves on."""

from __future__ import annotations

import dataclasses

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
    entry = registry.entries[0]
    for attempt in range(app.config["SERVICE_FAILURE_LIMIT"]):
        assert entry.status == "active", attempt
        response = client.get(f"/drafts/{draft}/check")
        assert response.status_code == 503
        assert "This service has a problem" in response.get_data(as_text=True)
    assert entry.status == "disabled"
    assert "ZeroDivisionError" in entry.reason
    assert "fee table" not in entry.reason  # the message may hold personal data; the log has it
    assert "service plugin test_permit disabled" in caplog.text
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
