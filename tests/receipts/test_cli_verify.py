"""``portal receipts verify``: checking a receipt PDF or a scanned payload offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete

from portal.extensions import db
from portal.receipts import offline, signing
from portal.receipts.models import Receipt, ReceiptSigningKey
from tests.receipts.test_paying_for_each_service import citizen  # noqa: F401 - a fixture
from tests.receipts.test_signing import make_receipt


def pdf_with(attachments: dict[str, bytes]) -> bytes:
    """A one-page PDF made by WeasyPrint with the given files attached."""
    import weasyprint

    return weasyprint.HTML(string="<p>Receipt</p>").write_pdf(
        attachments=[weasyprint.Attachment(string=data, name=name)
                     for name, data in attachments.items()])


def with_payload_byte_changed(pdf: bytes, index: int) -> bytes:
    """The same PDF, but one byte of its embedded payload changed (as an attacker editing
    the file would do), everything else untouched."""
    import io

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    names = writer._root_object["/Names"]["/EmbeddedFiles"]["/Names"]
    spec = names[names.index(signing.PAYLOAD_ATTACHMENT_NAME) + 1].get_object()
    stream = spec["/EF"]["/F"].get_object()
    payload = stream.get_data()
    stream.set_data(payload[:index] + bytes([payload[index] ^ 0x01]) + payload[index + 1:])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def one_character_changed(payload: str, index: int) -> str:
    replacement = "Q" if payload[index] != "Q" else "R"
    return payload[:index] + replacement + payload[index + 1:]


def verify(app: Any, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["receipts", "verify", *args])


@pytest.fixture
def receipt(create_user, create_department) -> Receipt:
    return make_receipt(create_user, create_department)


@pytest.fixture
def receipt_pdf(tmp_path: Path, receipt: Receipt) -> Path:
    """The receipt as the portal renders it (its pages print what its payload says)."""
    path = tmp_path / "receipt.pdf"
    path.write_bytes(_rendered(receipt))
    return path


@pytest.fixture
def keys_file(tmp_path: Path, client, receipt: Receipt) -> Path:
    """receipt-keys.json as a third party downloads it."""
    path = tmp_path / "receipt-keys.json"
    path.write_text(client.get("/.well-known/receipt-keys.json").get_data(as_text=True))
    return path


def test_a_genuine_pdf_is_accepted_with_what_it_says(app, receipt, receipt_pdf):
    result = verify(app, str(receipt_pdf))

    assert result.exit_code == 0, result.output
    assert f"GENUINE: the signature is valid (key {receipt.key_id})" in result.output
    assert "TD/2026-27/000123" in result.output
    assert "HKD 100.00" in result.output
    assert "2026-11-24 20:30:05 HKT" in result.output
    assert "CHAN T** M** 陳*文" in result.output
    assert receipt.payment.application.reference in result.output
    assert f"Key id:                {receipt.key_id}" in result.output


def test_a_downloaded_keys_file_is_enough_without_the_database(app, receipt, receipt_pdf,
                                                               keys_file):
    db.session.execute(delete(ReceiptSigningKey))
    db.session.commit()

    without_keys = verify(app, str(receipt_pdf))
    with_file = verify(app, str(receipt_pdf), "--keys", str(keys_file))

    assert without_keys.exit_code == 1
    assert "not among the published keys" in without_keys.output
    assert with_file.exit_code == 0, with_file.output
    assert "GENUINE" in with_file.output


def test_the_keys_can_be_downloaded_from_the_portal(app, live_server, receipt, receipt_pdf):
    result = verify(app, str(receipt_pdf), "--keys-url",
                    f"{live_server}/.well-known/receipt-keys.json")

    assert result.exit_code == 0, result.output
    assert "GENUINE" in result.output


def test_keys_are_not_fetched_over_plain_http_from_elsewhere(app, receipt_pdf):
    result = verify(app, str(receipt_pdf), "--keys-url",
                    "http://portal.example/.well-known/receipt-keys.json")

    assert result.exit_code == 1
    assert "must start with https://" in result.output


@pytest.mark.parametrize("index", [0, 40, -100, -1])
def test_a_pdf_whose_payload_had_one_character_changed_is_rejected(app, tmp_path, receipt,
                                                                   keys_file, index):
    payload = receipt.signed_payload
    index = index % len(payload)
    forged = tmp_path / "forged.pdf"
    forged.write_bytes(pdf_with({
        signing.PAYLOAD_ATTACHMENT_NAME: one_character_changed(payload, index).encode()}))

    result = verify(app, str(forged), "--keys", str(keys_file))

    assert result.exit_code == 1
    assert "NOT GENUINE" in result.output
    assert "GENUINE: the signature is valid" not in result.output


def test_a_file_that_is_not_a_pdf_is_rejected(app, tmp_path):
    text = tmp_path / "receipt.pdf"
    text.write_text("just text")

    result = verify(app, str(text))

    assert result.exit_code == 1
    assert "not a PDF" in result.output


def test_a_damaged_pdf_is_rejected(app, tmp_path, receipt_pdf):
    damaged = tmp_path / "damaged.pdf"
    damaged.write_bytes(receipt_pdf.read_bytes()[:200])

    result = verify(app, str(damaged))

    assert result.exit_code == 1
    assert "NOT VERIFIED" in result.output


def test_a_pdf_without_a_payload_is_rejected(app, tmp_path, receipt):
    plain = tmp_path / "plain.pdf"
    plain.write_bytes(pdf_with({"notes.txt": b"hello"}))

    result = verify(app, str(plain))

    assert result.exit_code == 1
    assert f"no {signing.PAYLOAD_ATTACHMENT_NAME} attachment" in result.output


def test_a_missing_file_is_reported(app, tmp_path):
    result = verify(app, str(tmp_path / "nowhere.pdf"))

    assert result.exit_code == 1
    assert "cannot read" in result.output


def test_a_payload_signed_with_an_unknown_key_is_rejected(app, tmp_path, receipt,
                                                          receipt_pdf):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    raw = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    other = tmp_path / "other-keys.json"
    other.write_text(json.dumps({"keys": [{
        "kid": signing.key_id_for(raw), "alg": "Ed25519",
        "public_key": signing.b64url_encode(raw)}]}))

    result = verify(app, str(receipt_pdf), "--keys", str(other))

    assert result.exit_code == 1
    assert f"names key {receipt.key_id}, which is not among the published keys" in result.output


def test_a_keys_file_that_is_not_one_is_refused(app, tmp_path, receipt_pdf):
    bad = tmp_path / "keys.json"
    bad.write_text('{"keys": [{"kid": "x", "alg": "Ed25519", "public_key": "AAAA"}]}')

    result = verify(app, str(receipt_pdf), "--keys", str(bad))

    assert result.exit_code == 1
    assert "keys file is not valid" in result.output


def test_a_scanned_payload_can_be_checked_without_a_pdf(app, receipt, keys_file):
    good = verify(app, "--payload", receipt.signed_payload, "--keys", str(keys_file))
    bad = verify(app, "--payload", one_character_changed(receipt.signed_payload, 10),
                 "--keys", str(keys_file))

    assert good.exit_code == 0, good.output
    assert "TD/2026-27/000123" in good.output
    assert bad.exit_code == 1
    assert "NOT GENUINE" in bad.output


def test_a_pdf_and_a_payload_together_are_a_usage_error(app, receipt, receipt_pdf):
    both = verify(app, str(receipt_pdf), "--payload", receipt.signed_payload)
    neither = verify(app)

    assert both.exit_code == neither.exit_code == 2


# --- a receipt as the portal renders it ---------------------------------------------------


def _rendered(receipt: Receipt) -> bytes:
    from portal.receipts import render

    receipt.payment.method = "card"
    return render.render_receipt_pdf(receipt)


def test_a_receipt_rendered_by_the_portal_verifies(app, tmp_path, receipt, keys_file):
    path = tmp_path / "rendered.pdf"
    path.write_bytes(_rendered(receipt))

    result = verify(app, str(path), "--keys", str(keys_file))

    assert result.exit_code == 0, result.output
    assert "TD/2026-27/000123" in result.output


@pytest.mark.parametrize("index", [0, 100, 300, -5])
def test_a_rendered_receipt_whose_embedded_payload_had_one_byte_changed_is_rejected(
        app, tmp_path, receipt, keys_file, index):
    original = _rendered(receipt)
    path = tmp_path / "edited.pdf"
    path.write_bytes(with_payload_byte_changed(original, index % len(receipt.signed_payload)))
    untouched = tmp_path / "untouched.pdf"
    untouched.write_bytes(with_payload_byte_changed(with_payload_byte_changed(original, 0), 0))

    result = verify(app, str(path), "--keys", str(keys_file))

    assert result.exit_code == 1
    assert "NOT GENUINE" in result.output
    # The edit itself leaves a readable PDF: changing the byte back verifies again.
    assert verify(app, str(untouched), "--keys", str(keys_file)).exit_code == 0


# --- the whole way: paid in the sandbox, checked on the page and offline -----------------


@pytest.mark.parametrize("service", ["licence_renewal", "birth_record", "pay_bill"])
def test_a_receipt_paid_for_in_the_sandbox_verifies_until_a_byte_is_changed(
        app, tmp_path, service, citizen, create_department):  # noqa: F811 - the fixture
    from sqlalchemy import select

    from portal.applications.models import Application
    from tests.payments.test_ledger import _pay
    from tests.payments.test_paying_in_the_sandbox import _card, _path
    from tests.receipts.test_paying_for_each_service import JOURNEYS

    journey, code, name_en, name_zh = JOURNEYS[service]
    create_department(code, name_en, name_zh)
    reference = journey(citizen)
    application = db.session.scalar(select(Application).where(
        Application.reference == reference))
    back = _card(citizen, _path(_pay(citizen, application).headers["Location"]),
                 "4242 4242 4242 4242")
    citizen.get(_path(back.headers["Location"]))
    db.session.expire_all()
    [receipt] = db.session.scalars(select(Receipt)).all()
    pdf = citizen.get(f"/applications/{reference}/receipts/{receipt.public_id}.pdf").data
    genuine, edited = tmp_path / "receipt.pdf", tmp_path / "edited.pdf"
    genuine.write_bytes(pdf)
    edited.write_bytes(with_payload_byte_changed(pdf, 60))
    payload = offline.payload_from_pdf(pdf)

    checked = verify(app, str(genuine))
    checked_edited = verify(app, str(edited))
    scanned = citizen.get(f"/verify?p={payload}").get_data(as_text=True)
    scanned_edited = citizen.get(
        f"/verify?p={offline.payload_from_pdf(edited.read_bytes())}").get_data(as_text=True)

    assert checked.exit_code == 0, checked.output
    assert receipt.number in checked.output
    assert checked_edited.exit_code == 1
    assert "NOT GENUINE" in checked_edited.output
    assert "Genuine receipt" in scanned
    assert receipt.number in scanned
    assert "Not a genuine receipt" in scanned_edited


# --- the printed pages must be the receipt the payload signs ------------------------------


@pytest.fixture
def two_receipts(make_payment, issue_for) -> tuple[Receipt, Receipt]:
    """Two receipts the portal issued: A for HK$1,234.00, B for HK$900.00."""
    first = issue_for(make_payment(amount=123_400))
    second = issue_for(make_payment(amount=90_000))
    assert (first.status, second.status) == ("issued", "issued")
    return first, second


def _page_of(receipt: Receipt, payload: str, *, replace: tuple[str, str] | None = None) -> bytes:
    """``receipt``'s page as the portal prints it (text optionally changed) carrying
    ``payload`` as its attachment."""
    from portal.receipts import render

    html, allowed = render.receipt_html(receipt)
    if replace is not None:
        assert replace[0] in html
        html = html.replace(*replace)
    return render.html_to_pdf(html, allowed,
                              attachments={signing.PAYLOAD_ATTACHMENT_NAME: payload.encode()})


def test_a_stored_receipt_verifies_with_its_printed_text(app, tmp_path, two_receipts):
    from portal.receipts import storage

    first, _second = two_receipts
    path = tmp_path / "a.pdf"
    path.write_bytes(storage.read(first.storage_key))

    result = verify(app, str(path))

    assert result.exit_code == 0, result.output
    assert "The printed number, amount and code match the signed payload." in result.output


def test_a_forged_pdf_carrying_another_receipts_payload_is_rejected(
        app, tmp_path, two_receipts):
    first, second = two_receipts
    path = tmp_path / "forged.pdf"
    path.write_bytes(_page_of(first, second.signed_payload))

    result = verify(app, str(path))

    assert result.exit_code == 1
    assert "GENUINE: the signature" not in result.output
    assert "NOT GENUINE: the printed document does not match its signed payload" in result.output
    assert second.number in result.output
    assert "HK$900.00" in result.output
    assert second.short_code in result.output


@pytest.mark.parametrize(("what", "change"), [
    ("the amount", lambda r: ("HK$900.00", "HK$9,000.00")),
    ("the amount", lambda r: ("HK$900.00", "HK$1,900.00")),  # the signed amount inside
    ("the receipt number", lambda r: (r.number, r.number + "7")),
    ("the verification code", lambda r: (r.short_code, r.short_code[::-1])),
    ("the receipt number", lambda r: (r.number, r.number[:-1] + "9")),
])
def test_a_pdf_whose_printed_text_was_changed_is_rejected(
        app, tmp_path, two_receipts, what, change):
    _first, second = two_receipts
    path = tmp_path / "edited.pdf"
    path.write_bytes(_page_of(second, second.signed_payload, replace=change(second)))

    result = verify(app, str(path))

    assert result.exit_code == 1
    assert "does not match its signed payload" in result.output
    assert what in result.output


def test_a_scanned_payload_alone_has_no_printed_text_to_check(app, two_receipts):
    _first, second = two_receipts
    result = verify(app, "--payload", second.signed_payload)
    assert result.exit_code == 0, result.output
    assert "printed number" not in result.output
