"""The receipt is emailed to the citizen, in their language, with the PDF attached."""

from __future__ import annotations

from portal.notifications.delivery import deliver_due
from portal.receipts import issue, storage


def _pdf_attachments(message):
    return [part for part in message.iter_attachments()
            if part.get_content_type() == "application/pdf"]


def test_the_receipt_is_emailed_with_the_pdf_attached(make_payment, issue_for, smtp_sink):
    receipt = issue_for(make_payment())
    [message] = smtp_sink.wait_for("citizen@example.com")
    assert message["Subject"] == f"Your receipt {receipt.number}"
    assert message["Content-Language"] == "en"
    body = message.get_body(("plain",)).get_content()
    assert "Dear CHAN Tai Man," in body
    assert "HK$900.00" in body
    assert "Renew a driving licence" in body
    assert f"/applications/{receipt.payment.application.reference}" in body
    [attachment] = _pdf_attachments(message)
    assert attachment.get_filename() == f"receipt-{receipt.number.replace('/', '-')}.pdf"
    assert attachment.get_content() == storage.read(receipt.storage_key)


def test_a_citizen_who_reads_chinese_gets_the_email_in_chinese(
        make_payment, issue_for, create_user, smtp_sink):
    citizen = create_user("chan@example.com", preferred_language="zh_Hant_HK")
    receipt = issue_for(make_payment(user=citizen))
    assert receipt.locale == "zh_Hant_HK"
    [message] = smtp_sink.wait_for("chan@example.com")
    assert message["Content-Language"] == "zh-HK"
    body = message.get_body(("plain",)).get_content()
    assert "駕駛執照續期" in body  # the service's name in Chinese
    assert "陳大文" in body  # addressed by the Chinese name
    assert _pdf_attachments(message)[0].get_content() == storage.read(receipt.storage_key)


def test_one_email_per_receipt_when_the_job_runs_again(make_payment, issue_for, smtp_sink):
    receipt = issue_for(make_payment())
    smtp_sink.wait_for("citizen@example.com")
    issue.issue_receipt(receipt.id)
    issue.issue_due()
    deliver_due()
    assert len(smtp_sink.to("citizen@example.com")) == 1


def test_a_changed_stored_file_is_not_emailed(make_payment, smtp_sink):
    import pytest

    from portal.extensions import db
    from portal.notifications.models import OutboxEmail
    from portal.receipts.models import Receipt

    with pytest.MonkeyPatch.context() as jobs:  # the email waits in the outbox
        jobs.setattr("portal.jobs.enqueue", lambda *args: None)
        receipt_id = issue.request_receipt(make_payment()).id
        db.session.commit()
        assert issue.issue_receipt(receipt_id) == "issued"
    stored = db.session.get(Receipt, receipt_id)
    storage.path_for(stored.storage_key).write_bytes(b"%PDF-1.7 not the issued file")
    assert deliver_due() == 1
    email = db.session.scalar(db.select(OutboxEmail))
    assert email.status == "queued"  # retried later; staff see the error
    assert "does not match its SHA-256" in email.last_error
    assert smtp_sink.to("citizen@example.com") == []
