"""Documents issued on approval: the renewed driving licence, numbered, signed and
verifiable like a receipt, downloaded only by its holder and the department's staff."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from portal.applications import engine
from portal.applications.models import Application
from portal.audit.models import AuditEvent
from portal.extensions import db
from portal.i18n import hong_kong_day, hong_kong_today
from portal.notifications.models import OutboxEmail
from portal.plugins.service import DocumentSpec, InvalidService
from portal.receipts import issue, numbering, signing, storage
from portal.receipts.documents import documents_for, request_documents, years_after
from portal.receipts.models import Receipt, ReceiptCounter
from tests.backoffice.conftest import staff_client  # noqa: F401 - a fixture
from tests.plugins.test_manager import GOOD, install  # noqa: F401 - a fixture
from tests.receipts.conftest import all_receipts
from tests.receipts.test_cli_verify import verify, with_payload_byte_changed
from tests.receipts.test_render import pdf_text
from tests.receipts.test_verify_page import check_code

ANSWERS = {
    "licence_details": {"licence_number": ["A123456(3)"]},
    "licence_type": {"licence_type": ["full"]},
    "validity": {"validity_period": ["3_years"]},
}


@pytest.fixture
def renewal(make_payment) -> Any:
    """``renewal(**make_payment's options)``: a paid licence renewal, received, committed."""

    def make(answers: dict[str, Any] | None = None, **options: Any) -> Application:
        application = make_payment(**options).application
        application.answers = answers or ANSWERS
        db.session.commit()
        return application

    return make


def approve(application: Application, *, ask_twice: bool = False) -> list[Receipt]:
    """What the staff approve action does: the move, the documents, one commit."""
    engine.transition(application, "approve", actor_role="officer")
    rows = request_documents(application)
    if ask_twice:
        assert request_documents(application) == rows
    db.session.commit()
    return rows


@pytest.fixture
def licence(renewal) -> Receipt:
    """The issued licence of an approved renewal (rendered by WeasyPrint for real)."""
    [row] = approve(renewal())
    db.session.expire_all()
    return db.session.get(Receipt, row.id)


def test_approval_issues_one_licence_numbered_in_its_own_series(licence):
    application = licence.application
    fiscal_year = numbering.fiscal_year(licence.created_at)
    assert licence.status == "issued"
    assert licence.kind == "document"
    assert licence.payment_id is None
    assert licence.cause == f"document:{application.id}:licence"
    assert licence.number == f"TD/LIC/{fiscal_year}/000001"
    # Asked again later (a repeated approval request): the same one document.
    assert request_documents(application) == [licence]
    db.session.commit()
    assert len(all_receipts()) == 1
    assert db.session.get(ReceiptCounter, f"TD/LIC/{fiscal_year}").last_sequence == 1
    # The PDF: both languages, its number and dates, and no whole identity number.
    text = pdf_text(storage.read(licence.storage_key))
    valid_from = hong_kong_day(licence.created_at)
    for expected in ("Driving licence", "駕駛執照", "Transport Department", "運輸署",
                     licence.number, licence.short_code, "A123***(*)", "CHAN T** M** 陳*文",
                     valid_from.isoformat(), years_after(valid_from, 3).isoformat(),
                     application.reference, "/verify"):
        assert expected in text, expected
    assert "A123456" not in text
    assert "陳大文" not in text
    # Emailed once, with the PDF, in the citizen's language.
    [email] = db.session.scalars(select(OutboxEmail).where(OutboxEmail.receipt_id == licence.id))
    assert email.kind == "receipts/document"
    assert email.locale == "en"
    assert licence.number in email.subject


def test_the_signed_payload_says_what_it_is_and_for_how_long(licence):
    verified = signing.verify_payload(licence.signed_payload, signing.database_public_keys())
    assert isinstance(verified, signing.VerifiedReceipt)
    valid_from = hong_kong_day(licence.created_at)
    assert (verified.kind, verified.document, verified.number) == (
        "document", "licence", licence.number)
    assert (verified.valid_from, verified.valid_until) == (valid_from,
                                                          years_after(valid_from, 3))
    assert verified.masked_name == "CHAN T** M** 陳*文"
    assert verified.reference == licence.application.reference
    assert "A123" not in signing.b64url_decode(licence.signed_payload.split(".")[0]).decode()


@pytest.mark.parametrize(("answers", "years"), [
    ({"validity": {"validity_period": ["1_year"]}}, 1),
    ({"licence_type": {"licence_type": ["probationary"]}}, 10),
])
def test_the_licence_runs_for_the_period_chosen(answers, years):
    from services.licence_renewal.plugin import licence_valid_until

    flat = {field: values[0] for step in answers.values() for field, values in step.items()}
    assert licence_valid_until(flat, date(2026, 11, 25)) == date(2026 + years, 11, 24)
    assert years_after(date(2028, 2, 29), 1) == date(2029, 2, 28)


def _in_parallel(app: Any, count: int, work: Any) -> list[Any]:
    """``work()`` in ``count`` threads (each a worker with its own session) released at once."""
    barrier = threading.Barrier(count)
    results: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        with app.app_context():
            try:
                barrier.wait()
                results.append(work())
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return results


def test_concurrent_requests_ask_for_one_licence_and_it_is_issued_once(
        app, renewal, monkeypatch):
    monkeypatch.setattr("portal.jobs.enqueue", lambda *args: None)  # issued below, by hand
    signing.active_key()  # as in service: the signing key exists before documents do
    application_id = renewal().id
    workers = 8 if db.engine.dialect.name == "postgresql" else 3

    def ask() -> tuple[int, ...]:
        rows = request_documents(db.session.get(Application, application_id))
        db.session.commit()
        return tuple(row.id for row in rows)

    asked = _in_parallel(app, workers, ask)
    assert len(set(asked)) == 1, asked
    assert len(asked[0]) == 1
    [document_id] = asked[0]
    statuses = _in_parallel(app, workers, lambda: issue.issue_receipt(document_id))

    assert statuses.count("issued") == 1
    assert statuses.count(None) == workers - 1
    [document] = all_receipts()
    assert (document.status, document.sequence) == ("issued", 1)
    assert db.session.scalar(select(func.count()).select_from(OutboxEmail)) == 1


def test_the_verify_page_shows_a_genuine_licence_and_refuses_a_forged_one(client, licence):
    by_code = check_code(client, licence.short_code.lower().replace("-", " "))
    by_qr = client.get(f"/verify?p={licence.signed_payload}")
    for response in (by_code, by_qr):
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        assert "Genuine document" in html
        assert "Driving licence" in html
        assert licence.number in html
        assert "CHAN T** M** 陳*文" in html
        assert 'data-test="status">Valid<' in html
    payload = licence.signed_payload
    forged = payload[:10] + ("Q" if payload[10] != "Q" else "R") + payload[11:]
    assert "Not a genuine receipt" in client.get(f"/verify?p={forged}").get_data(as_text=True)

    from portal.receipts.voiding import void_receipt

    void_receipt(licence, "Issued in error", actor="test")
    html = client.get(f"/verify?p={payload}").get_data(as_text=True)
    assert "Genuine document, now voided" in html
    assert 'data-test="status">Voided<' in html


def test_a_licence_past_its_last_day_is_shown_as_expired(client, renewal, monkeypatch):
    from portal.receipts import render
    from tests.payments.conftest import STAND_IN_PDF

    monkeypatch.setattr(render, "render_prepared", lambda document: STAND_IN_PDF)
    application = renewal({**ANSWERS, "validity": {"validity_period": ["1_year"]}})
    engine.transition(application, "approve", actor_role="officer")
    [row] = request_documents(application)
    row.created_at = datetime.now(UTC) - timedelta(days=800)  # approved over two years ago
    db.session.commit()
    db.session.expire_all()
    document = db.session.get(Receipt, row.id)
    assert document.status == "issued"

    html = client.get(f"/verify?p={document.signed_payload}").get_data(as_text=True)

    assert "Genuine document, now expired" in html
    assert 'data-test="status">Expired<' in html
    [listed] = documents_for(application)
    assert listed.expired
    assert listed.valid_until < hong_kong_today()


def test_the_licence_pdf_verifies_offline_and_a_changed_byte_fails(app, tmp_path, licence):
    genuine = tmp_path / "licence.pdf"
    genuine.write_bytes(storage.read(licence.storage_key))
    changed = tmp_path / "changed.pdf"
    changed.write_bytes(with_payload_byte_changed(genuine.read_bytes(), 20))

    accepted = verify(app, str(genuine))
    refused = verify(app, str(changed))

    assert accepted.exit_code == 0, accepted.output
    assert f"Document number:       {licence.number}" in accepted.output
    assert "Document:              licence" in accepted.output
    assert "days of validity and code match" in accepted.output
    assert refused.exit_code == 1
    assert "NOT GENUINE" in refused.output


def test_only_the_holder_downloads_the_licence_and_it_is_no_receipt(
        client, app, sign_in, create_user, licence):
    url = f"/applications/{licence.application.reference}/receipts/{licence.public_id}.pdf"
    sign_in(client)
    response = client.get(url)
    assert response.status_code == 200
    assert response.data == storage.read(licence.storage_key)
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="licence-{licence.number.replace("/", "-")}.pdf"')
    page = client.get(f"/applications/{licence.application.reference}").get_data(as_text=True)
    assert f"Receipt {licence.number}" not in page

    create_user("other@example.com")
    other = app.test_client()
    sign_in(other, "other@example.com")
    assert other.get(url).status_code == 404


def test_staff_of_the_department_download_it_and_it_is_audited(staff_client, licence):  # noqa: F811
    url = f"/applications/{licence.application.reference}/receipts/{licence.public_id}.pdf"
    assert staff_client("officer", "IMMD").get(url).status_code == 404
    assert staff_client("officer", "TD").get(url).status_code == 200
    db.session.expire_all()
    [event] = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "document.downloaded"))
    assert event.details["number"] == licence.number


def test_a_service_that_declares_no_documents_issues_none(permit_service, make_payment):
    application = make_payment().application
    application.service = permit_service.name
    db.session.commit()

    assert approve(application) == []
    assert all_receipts() == []
    assert documents_for(application) == []


@pytest.mark.parametrize(("options", "reason"), [
    ({"name": "Licence"}, "lower-case"),
    ({"series": "CN"}, "series"),
    ({"series": "lic"}, "series"),
    ({"template": "../../etc/passwd.html"}, "template"),
    ({"validity": "10 years"}, "validity must be a function"),
    ({"title": " "}, "needs a title"),
])
def test_an_invalid_document_spec_is_refused(options, reason):
    spec = {"name": "licence", "title": "Licence", "series": "LIC", **options}
    with pytest.raises(InvalidService, match=reason):
        DocumentSpec(**spec)


def test_a_plugin_with_an_invalid_document_is_disabled_at_load(install):  # noqa: F811
    from portal.plugins.manager import load_services

    source = GOOD.format(name="library_card").replace(
        'action_labels={"issue": "Issue the card"},',
        'action_labels={"issue": "Issue the card"},\n'
        '        documents=[toolkit.DocumentSpec("card", "Library card", "LC"),\n'
        '                   toolkit.DocumentSpec("card", "Library card", "LC")],')
    assert "documents=" in source
    install("library_card", source)
    [entry] = [e for e in load_services().entries if e.entry_point == "library_card"]
    assert entry.status == "disabled"
    assert "document names must be unique" in entry.reason
