"""Email goes through the outbox: none lost, none sent twice, failures visible."""

from __future__ import annotations

from sqlalchemy import select

from portal.extensions import db
from portal.notifications.delivery import deliver, deliver_due
from portal.notifications.models import EmailStatus, OutboxEmail
from portal.notifications.outbox import queue_email
from portal.testing.helpers import post_form


def _queue(recipient="someone@example.com", locale="en"):
    return queue_email(recipient=recipient, kind="identity/password_changed", locale=locale,
                       name="CHAN Tai Man", reset_link="http://portal.test/password/forgotten")


def test_an_email_is_sent_only_after_its_transaction_commits(app, smtp_sink):
    email = _queue()
    assert smtp_sink.messages == []
    db.session.commit()
    [message] = smtp_sink.wait_for("someone@example.com")
    assert message["Message-ID"] == f"<outbox-{email.id}@portal.example.gov.hk>"
    db.session.refresh(email)
    assert email.status == EmailStatus.SENT


def test_a_rolled_back_action_sends_nothing(app, smtp_sink):
    _queue()
    db.session.rollback()
    assert db.session.scalar(select(OutboxEmail)) is None
    assert smtp_sink.messages == []


def test_when_the_mail_server_is_down_the_action_succeeds_and_the_email_waits(
    client, smtp_sink, app
):
    smtp_sink.stop()
    response = post_form(client, "/register", {
        "email": "new@example.com", "name_en": "LEE Siu Lung", "name_zh": "",
        "password": "Lantau-Ferry-Morning-77", "preferred_language": "en",
    })
    assert response.status_code == 302
    email = db.session.scalar(select(OutboxEmail))
    assert email.status == EmailStatus.QUEUED
    assert email.attempts == 1
    assert "ConnectionRefusedError" in email.last_error

    # Not due yet: the back-off holds it.
    assert deliver_due() == 0
    email.next_attempt_at = email.created_at
    db.session.commit()
    smtp_sink.start()
    assert deliver_due() == 1
    smtp_sink.wait_for("new@example.com")
    db.session.refresh(email)
    assert email.status == EmailStatus.SENT


def test_an_email_fails_for_good_after_the_last_attempt(smtp_sink, app):
    smtp_sink.stop()
    email = _queue()
    db.session.commit()
    for _ in range(app.config["MAIL_MAX_ATTEMPTS"]):
        email.next_attempt_at = email.created_at
        db.session.commit()
        deliver(email.id)
        db.session.refresh(email)
    assert email.status == EmailStatus.FAILED
    assert deliver(email.id) is None


def test_a_claimed_email_is_not_sent_twice(app, smtp_sink):
    email = _queue()
    db.session.commit()
    smtp_sink.wait_for("someone@example.com")
    # Already sent: delivering again (a repeated job) does nothing.
    assert deliver(email.id) is None
    assert len(smtp_sink.to("someone@example.com")) == 1


def test_the_email_is_rendered_in_the_recipients_language(app, smtp_sink):
    _queue(locale="zh_Hant_HK")
    db.session.commit()
    [message] = smtp_sink.wait_for("someone@example.com")
    assert message["Content-Language"] == "zh-HK"
    text = message.get_body(("plain",)).get_content()
    assert "密碼" in text
    html = message.get_body(("html",)).get_content()
    assert 'lang="zh-HK"' in html


def test_the_development_mailbox_only_exists_in_development(client, app):
    assert client.get("/dev/mailbox").status_code == 404
    app.config.update(ENVIRONMENT="development", MAIL_BACKEND="mailbox")
    try:
        _queue()
        db.session.commit()
        page = client.get("/dev/mailbox").get_data(as_text=True)
        assert "someone@example.com" in page
        email = db.session.scalar(select(OutboxEmail))
        assert client.get(f"/dev/mailbox/{email.id}").status_code == 200
        assert client.get(f"/dev/mailbox/{email.id + 1000}").status_code == 404
    finally:
        app.config.update(ENVIRONMENT="testing", MAIL_BACKEND="smtp")


def test_links_in_emails_never_take_a_host_from_the_request_outside_development(
    app, monkeypatch
):
    """A client chooses its Host header: a reset link built from it could point anywhere."""
    import pytest

    from portal.notifications.outbox import external_url
    from portal.public_urls import PublicBaseURLMissing

    forged = {"Host": "attacker.example"}
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "")
    with app.test_request_context("/", headers=forged):
        # Tests and development: the request's host (make run on any port).
        assert external_url("core.home") == "http://attacker.example/"
    monkeypatch.setitem(app.config, "ENVIRONMENT", "production")
    with app.test_request_context("/", headers=forged), \
            pytest.raises(PublicBaseURLMissing):
        external_url("core.home")
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://portal.gov.hk.example")
    with app.test_request_context("/", headers=forged):
        assert external_url("identity.sign_in") == "https://portal.gov.hk.example/sign-in"
