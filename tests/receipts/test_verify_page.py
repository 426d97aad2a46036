"""The public verify page: a typed short code or a scanned payload, genuine or not."""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

import pytest
from flask_babel import gettext
from sqlalchemy import delete

from portal.database import utcnow
from portal.extensions import db
from portal.i18n import CHINESE, ENGLISH, force_locale
from portal.payments.models import Refund
from portal.receipts import signing
from portal.receipts.models import Receipt
from portal.testing.helpers import get_csrf
from tests.receipts.test_signing import make_receipt

LANGUAGES = {ENGLISH: "en", CHINESE: "zh-HK"}
DEPARTMENT = {ENGLISH: "Transport Department", CHINESE: "運輸署"}


def words(locale: str, message: str, **values: Any) -> str:
    """A message as the page shows it in ``locale`` (whatever the catalogue holds today)."""
    with force_locale(locale):
        return gettext(message, **values)


def headers(locale: str) -> dict[str, str]:
    return {"Accept-Language": LANGUAGES[locale]}


def check_code(client: Any, code: str, locale: str = ENGLISH) -> Any:
    token = get_csrf(client, "/verify")
    return client.post("/verify", data={"csrf_token": token, "code": code},
                       headers=headers(locale))


def main_of(html: str) -> str:
    """The page's main content, which is what differs between answers."""
    return html[html.index('<main'):html.index("</main>")]


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", main_of(html)).split())


@pytest.fixture
def receipt(create_user, create_department) -> Receipt:
    return make_receipt(create_user, create_department)


def add_refund(receipt: Receipt, amount: int, state: str) -> None:
    db.session.add(Refund(public_id=secrets.token_hex(8), payment_id=receipt.payment_id,
                          amount=amount, reason="Duplicate payment", state=state))
    db.session.commit()


# --- the form -----------------------------------------------------------------------------


@pytest.mark.parametrize("locale", [ENGLISH, CHINESE])
def test_the_page_asks_for_the_code_in_both_languages(client, locale):
    response = client.get("/verify", headers=headers(locale))

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'lang="{LANGUAGES[locale]}"' in html
    assert words(locale, "Check a receipt or document") in html
    assert 'name="code"' in html
    assert 'autocomplete="off"' in html


@pytest.mark.parametrize("locale", [ENGLISH, CHINESE])
def test_a_typed_code_of_a_genuine_receipt_shows_what_it_says(client, receipt, locale):
    response = check_code(client, receipt.short_code.lower().replace("-", " "), locale)

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    text = text_of(html)
    assert words(locale, "Genuine receipt") in text
    assert receipt.number in text
    assert ("HK$100.00" in text) or ("港幣100.00" in text)
    assert DEPARTMENT[locale] in text
    assert receipt.payment.application.reference in text
    assert "CHAN T** M** 陳*文" in text
    assert words(locale, "Paid, not refunded") in text
    # The date is in Hong Kong time: 12:30 UTC is 8:30 pm in Hong Kong.
    assert re.search(r"8:30|20:30|晚上8:30", text)
    # Nothing personal beyond the masked name.
    assert "Tai Man" not in html
    assert "陳大文" not in html
    assert "citizen@example.com" not in html


def test_the_same_receipt_read_from_its_qr_code_is_genuine(client, receipt):
    response = client.get(f"/verify?p={receipt.signed_payload}")

    assert response.status_code == 200
    text = text_of(response.get_data(as_text=True))
    assert "Genuine receipt" in text
    assert receipt.number in text
    assert "Paid, not refunded" in text


@pytest.mark.parametrize("locale", [ENGLISH, CHINESE])
def test_an_unknown_code_and_a_forged_payload_get_the_same_answer(client, receipt, locale):
    body, signature = receipt.signed_payload.split(".")
    document = json.loads(signing.b64url_decode(body))
    document["amt"] = 1_000_000
    forged = f"{signing.b64url_encode(signing.canonical_json(document))}.{signature}"
    unknown_code = "2345-6789-ABCD" if receipt.short_code != "2345-6789-ABCD" else "3456-789A-BCDE"

    by_code = check_code(client, unknown_code, locale)
    by_payload = client.get(f"/verify?p={forged}", headers=headers(locale))

    assert by_code.status_code == by_payload.status_code == 200
    assert words(locale, "Not a genuine receipt") in text_of(by_code.get_data(as_text=True))
    assert main_of(by_code.get_data(as_text=True)) == main_of(by_payload.get_data(as_text=True))
    assert "10,000" not in by_payload.get_data(as_text=True)


@pytest.mark.parametrize("payload", ["", "garbage", "a.b", "x" * 3000, "<script>alert(1)</script>"])
def test_a_malformed_payload_is_not_genuine(client, receipt, payload):
    response = client.get("/verify", query_string={"p": payload})

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Not a genuine receipt" in html
    assert "<script>alert(1)" not in html


def test_one_changed_character_of_the_qr_payload_is_not_genuine(client, receipt):
    payload = receipt.signed_payload
    for index in (0, 5, len(payload) // 2, payload.index(".") + 1, len(payload) - 1):
        replacement = "B" if payload[index] != "B" else "C"
        changed = payload[:index] + replacement + payload[index + 1:]

        response = client.get(f"/verify?p={changed}")

        assert "Not a genuine receipt" in response.get_data(as_text=True), index


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "message"), [
    ("", "Enter the verification code printed under the QR code"),
    ("   ", "Enter the verification code printed under the QR code"),
    ("7KQM-X3PD", "Enter all 12 letters and numbers of the code, for example 7KQM-X3PD-9RTA"),
    ("7KQM-X3PD-9RTA-7KQM", "Enter all 12 letters and numbers of the code, for example "
                            "7KQM-X3PD-9RTA"),
    ("7KQM-X3PD-9RT0", "Enter the code using only the letters and numbers printed on the "
                       "receipt (the code never has the letters O, I or L, or the numbers 0 "
                       "or 1)"),
    ("<b>7KQM</b>", "Enter the code using only the letters and numbers printed on the receipt "
                    "(the code never has the letters O, I or L, or the numbers 0 or 1)"),
])
@pytest.mark.parametrize("locale", [ENGLISH, CHINESE])
def test_a_badly_typed_code_gets_an_error_summary_and_a_field_error(client, receipt, typed,
                                                                    message, locale):
    response = check_code(client, typed, locale)

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<title>" + words(locale, "Error:") in html
    assert words(locale, "There is a problem") in html
    expected = str(words(locale, message)).replace("'", "&#39;")
    assert html.count(expected) == 2  # in the summary and at the field
    assert 'href="#code"' in html
    assert "govuk-input--error" in html
    assert "<b>7KQM" not in html


def test_an_over_long_code_gets_a_field_error(client):
    response = check_code(client, "7KQM-" * 20)

    html = response.get_data(as_text=True)
    assert "There is a problem" in html
    assert "govuk-input--error" in html


def test_a_code_without_a_csrf_token_is_refused(client, receipt):
    response = client.post("/verify", data={"code": receipt.short_code})

    assert response.status_code == 400
    assert receipt.number not in response.get_data(as_text=True)


# --- status from the database -------------------------------------------------------------


@pytest.mark.parametrize("locale", [ENGLISH, CHINESE])
def test_a_partial_refund_shows_only_the_money_actually_given_back(client, receipt, locale):
    add_refund(receipt, 3_000, "succeeded")
    add_refund(receipt, 2_000, "processing")
    add_refund(receipt, 4_000, "failed")

    response = check_code(client, receipt.short_code, locale)

    text = text_of(response.get_data(as_text=True))
    assert response.status_code == 200
    assert words(locale, "Genuine receipt") in text
    with force_locale(locale):
        from portal.i18n import format_hkd

        refunded, paid = format_hkd(3_000), format_hkd(10_000)
    assert words(locale, "Refunded in part: %(amount)s", amount=refunded) in text
    assert words(locale, "Part of the payment was refunded: %(refunded)s of %(amount)s.",
                 refunded=refunded, amount=paid) in text
    assert words(locale, "Refunded in full") not in text


@pytest.mark.parametrize("locale", [ENGLISH, CHINESE])
def test_a_full_refund_is_shown(client, receipt, locale):
    add_refund(receipt, 6_000, "succeeded")
    add_refund(receipt, 4_000, "succeeded")

    response = client.get(f"/verify?p={receipt.signed_payload}", headers=headers(locale))

    text = text_of(response.get_data(as_text=True))
    assert words(locale, "Refunded in full") in text
    assert words(locale, "Genuine receipt") in text


@pytest.mark.parametrize("locale", [ENGLISH, CHINESE])
def test_a_voided_receipt_is_genuine_but_says_it_was_voided(client, receipt, locale):
    receipt.voided_at = utcnow()
    receipt.void_reason = "Issued in error"
    db.session.commit()

    response = check_code(client, receipt.short_code, locale)

    text = text_of(response.get_data(as_text=True))
    assert response.status_code == 200
    assert words(locale, "Genuine receipt, now voided") in text
    assert words(locale, "Voided") in text
    assert "Issued in error" not in text


def test_a_genuine_payload_whose_receipt_is_gone_says_its_status_is_unknown(client, receipt):
    payload = receipt.signed_payload
    db.session.execute(delete(Receipt).where(Receipt.id == receipt.id))
    db.session.commit()

    by_payload = client.get(f"/verify?p={payload}")
    by_code = check_code(client, receipt.short_code)

    text = text_of(by_payload.get_data(as_text=True))
    assert "Genuine receipt" in text
    assert "The signature is genuine, but we could not check" in text
    assert "Could not be checked" in text
    # Typing the code needs the database: without the row it is not a receipt we know.
    assert "Not a genuine receipt" in by_code.get_data(as_text=True)


def test_a_receipt_row_changed_behind_the_portals_back_is_not_vouched_for(client, receipt):
    body, signature = receipt.signed_payload.split(".")
    document = json.loads(signing.b64url_decode(body))
    document["amt"] = 1
    receipt.signed_payload = f"{signing.b64url_encode(signing.canonical_json(document))}." \
                             f"{signature}"
    db.session.commit()

    response = check_code(client, receipt.short_code)

    assert "Not a genuine receipt" in response.get_data(as_text=True)


def test_a_credit_note_is_shown_as_one(client, create_user, create_department):
    receipt = make_receipt(create_user, create_department, number="TD/2026-27/000001")
    note = make_receipt(create_user, create_department, number="TD/CN/2026-27/000001",
                        kind="credit_note", amount=3_000, payment=receipt.payment)
    add_refund(receipt, 3_000, "succeeded")

    text = text_of(check_code(client, note.short_code).get_data(as_text=True))

    assert "Genuine credit note" in text
    assert "Amount refunded HK$30.00" in text
    assert "Refunded to CHAN T** M**" in text


def test_receipts_signed_before_a_rotation_still_verify_on_the_page(client, create_user,
                                                                    create_department):
    old = make_receipt(create_user, create_department, number="TD/2026-27/000001")
    signing.rotate_key()
    db.session.commit()

    response = client.get(f"/verify?p={old.signed_payload}")

    assert "Genuine receipt" in response.get_data(as_text=True)


# --- guessing -----------------------------------------------------------------------------


def test_typing_codes_is_rate_limited_but_scanned_payloads_are_not(app, client, receipt,
                                                                   monkeypatch):
    monkeypatch.setitem(app.config, "VERIFY_RATE_LIMIT", "3 per minute")
    token = get_csrf(client, "/verify")

    answers = [client.post("/verify", data={"csrf_token": token, "code": "2345-6789-ABCD"})
               .status_code for _ in range(4)]
    genuine_after = client.post("/verify", data={"csrf_token": token,
                                                 "code": receipt.short_code})
    scanned = client.get(f"/verify?p={receipt.signed_payload}")

    assert answers == [200, 200, 200, 429]
    assert genuine_after.status_code == 429
    assert receipt.number not in genuine_after.get_data(as_text=True)
    assert scanned.status_code == 200
    assert "Genuine receipt" in scanned.get_data(as_text=True)
