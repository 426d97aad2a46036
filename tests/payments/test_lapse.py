"""Applications left unpaid are closed, so that what they hold (a bill) is free again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from portal.applications.models import Application, ApplicationEvent
from portal.applications.tasks import lapse_unpaid_applications
from portal.extensions import db
from portal.i18n import CHINESE
from portal.payments.models import Payment
from services.pay_bill.demo import WATER_BILL, add_demo_bills
from tests.services.test_journeys import answer, reference_of, start, submit


def _age(application: Application, days: float) -> None:
    db.session.execute(update(Application).where(Application.id == application.id)
                       .values(submitted_at=application.submitted_at - timedelta(days=days)))
    db.session.commit()


def _bill_application(client, create_user, sign_in, email="chan@example.com") -> Application:
    create_user(email, preferred_language=CHINESE)
    sign_in(client, email)
    url = start(client, "pay_bill")
    url = answer(client, url, {"bill_number": WATER_BILL})
    url = answer(client, url, {"confirm_payment": "y"})
    _html, url = submit(client, url)
    return db.session.scalar(
        select(Application).where(Application.reference == reference_of(url)))


@pytest.fixture
def bills(create_department):
    create_department("TRY", "Treasury", "庫務署")
    add_demo_bills()
    db.session.commit()


def test_an_unpaid_bill_application_is_closed_after_the_time_and_the_bill_is_free_again(
    app, client, create_user, sign_in, bills, smtp_sink
):
    application = _bill_application(client, create_user, sign_in)
    assert application.open_key is not None
    _age(application, app.config["UNPAID_APPLICATION_DAYS"] + 0.1)
    smtp_sink.messages.clear()

    assert lapse_unpaid_applications() == 1
    assert lapse_unpaid_applications() == 0  # once

    db.session.expire_all()
    application = db.session.get(Application, application.id)
    assert (application.state, application.open_key) == ("lapsed", None)
    events = db.session.scalars(select(ApplicationEvent.action).where(
        ApplicationEvent.application_id == application.id)).all()
    assert events.count("lapse") == 1
    assert application.decision_due is None  # closing it starts no clock
    [message] = [m for m in smtp_sink.messages if m["To"] == "chan@example.com"]
    assert application.reference in message["Subject"]
    assert "未有繳付費用" in message["Subject"]
    assert "我們沒有收取任何費用" in message.get_body(
        ("plain",)).get_content()

    # Someone else can now pay the same bill.
    other = app.test_client()
    second = _bill_application(other, create_user, sign_in, email="lee@example.com")
    assert second.state == "awaiting_payment"
    # The citizen's page says what happened.
    page = client.get(f"/applications/{application.reference}").get_data(as_text=True)
    assert "已結束：未繳費" in page


def test_an_application_is_not_closed_before_its_time(app, client, create_user, sign_in,
                                                      bills):
    application = _bill_application(client, create_user, sign_in)
    _age(application, app.config["UNPAID_APPLICATION_DAYS"] - 0.5)
    assert lapse_unpaid_applications() == 0
    db.session.expire_all()
    assert db.session.get(Application, application.id).state == "awaiting_payment"


def test_a_payment_made_after_all_moves_the_application_on_instead(
    app, client, create_user, sign_in, bills, provider
):
    from portal.payments.ledger import start_payment

    application = _bill_application(client, create_user, sign_in)
    payment = start_payment(application, "n1", description="bill", locale="en")
    assert payment.state == "started"
    _age(application, app.config["UNPAID_APPLICATION_DAYS"] + 1)

    provider.status = "pending"  # still being paid: left for the next run
    assert lapse_unpaid_applications() == 0
    db.session.expire_all()
    assert db.session.get(Application, application.id).state == "awaiting_payment"

    provider.status = "succeeded"  # paid at the provider after all: paid, not closed
    assert lapse_unpaid_applications() == 0
    db.session.expire_all()
    assert db.session.get(Application, application.id).state == "paid"
    assert db.session.scalar(select(Payment.state)) == "succeeded"


def test_a_workflow_without_the_move_is_left_alone(app, awaiting_payment):
    """The test permit's workflow has no ``lapse``: its applications are never closed."""
    _age(awaiting_payment, app.config["UNPAID_APPLICATION_DAYS"] + 5)
    assert lapse_unpaid_applications() == 0
    db.session.expire_all()
    assert db.session.get(Application, awaiting_payment.id).state == "awaiting_payment"


def test_the_command_closes_them(app, client, create_user, sign_in, bills):
    application = _bill_application(client, create_user, sign_in)
    _age(application, app.config["UNPAID_APPLICATION_DAYS"] + 1)
    result = app.test_cli_runner().invoke(args=["applications", "lapse-unpaid"])
    assert result.exit_code == 0, result.output
    assert "Closed 1 unpaid application(s)." in result.output
