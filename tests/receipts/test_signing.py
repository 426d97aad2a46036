"""Signing receipts: payloads, keys, short codes and masked names."""

from __future__ import annotations

import json
import re
import secrets
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from portal.database import utcnow
from portal.extensions import db
from portal.receipts import signing
from portal.receipts.models import Receipt, ReceiptSigningKey
from portal.receipts.signing import Failure, VerificationFailure, VerifiedReceipt

ISSUED = datetime(2026, 11, 24, 12, 30, 5, tzinfo=UTC)


def make_receipt(
    create_user: Any,
    create_department: Any,
    *,
    number: str = "TD/2026-27/000123",
    amount: int = 10_000,
    kind: str = "receipt",
    email: str = "citizen@example.com",
    name_en: str = "CHAN Tai Man",
    name_zh: str | None = "陳大文",
    payment: Any = None,
    sign: bool = True,
) -> Receipt:
    """An issued receipt for a succeeded HK$100 payment, signed and committed."""
    from portal.applications.models import Application
    from portal.identity.models import User
    from portal.payments.models import Payment

    create_department()
    if payment is None:
        user = db.session.scalar(select(User).where(User.email == email)) or create_user(
            email, name_en=name_en, name_zh=name_zh)
        application = Application(
            reference=secrets.token_hex(4).upper(), user_id=user.id, service="pay_bill",
            department="TD", state="paid", answers={}, fee_amount=amount, locale="en",
        )
        db.session.add(application)
        db.session.flush()
        payment = Payment(
            public_id=secrets.token_hex(8), application_id=application.id,
            nonce=secrets.token_hex(8), amount=amount, state="succeeded", provider="fake",
            return_token_digest="0" * 64, expires_at=utcnow() + timedelta(hours=1),
            succeeded_at=utcnow(),
        )
        db.session.add(payment)
        db.session.flush()
    receipt = Receipt(
        public_id=secrets.token_hex(8), cause=f"{kind}:{secrets.token_hex(4)}", kind=kind,
        status="issued", payment_id=payment.id, department="TD", series=number.rsplit("/", 1)[0],
        sequence=int(number.rsplit("/", 1)[-1]), number=number, locale="en", amount=amount,
        currency="HKD", issued_at=ISSUED,
    )
    receipt.payment = payment
    db.session.add(receipt)
    db.session.flush()
    if sign:
        signing.sign_receipt(receipt)
    db.session.commit()
    return receipt


@pytest.fixture
def receipt(create_user, create_department) -> Receipt:
    return make_receipt(create_user, create_department)


def keys() -> dict[str, Any]:
    return signing.database_public_keys()


# --- round trip ---------------------------------------------------------------------------


def test_a_signed_receipt_verifies_and_says_what_the_receipt_says(receipt):
    result = signing.verify_payload(receipt.signed_payload, keys())

    assert isinstance(result, VerifiedReceipt)
    assert result.number == "TD/2026-27/000123"
    assert result.kind == "receipt"
    assert result.amount == 10_000
    assert result.currency == "HKD"
    assert result.issued_at == ISSUED
    assert result.department == "TD"
    assert result.service == "pay_bill"
    assert result.reference == receipt.payment.application.reference
    assert result.masked_name == "CHAN T** M** 陳*文"
    assert result.short_code == receipt.short_code
    assert result.key_id == receipt.key_id


def test_the_payload_is_compact_base64url_json_and_a_signature(receipt):
    body, signature = receipt.signed_payload.split(".")
    document = json.loads(signing.b64url_decode(body))

    assert document["v"] == 1
    assert document["kid"] == receipt.key_id
    assert len(signing.b64url_decode(signature)) == 64
    assert set(receipt.signed_payload) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    # Small enough for a QR code a phone reads easily from paper.
    assert len(receipt.signed_payload) < 450


def test_a_short_code_is_twelve_unambiguous_characters_in_three_groups(receipt):
    groups = receipt.short_code.split("-")

    assert [len(g) for g in groups] == [4, 4, 4]
    assert not set("".join(groups)) - set(signing.SHORT_CODE_ALPHABET)
    assert not set("01OIL") & set(signing.SHORT_CODE_ALPHABET)


def test_short_codes_differ_between_receipts(create_user, create_department):
    first = make_receipt(create_user, create_department, number="TD/2026-27/000001")
    second = make_receipt(create_user, create_department, number="TD/2026-27/000002")

    assert first.short_code != second.short_code


def test_a_short_code_already_taken_is_not_given_again(create_user, create_department,
                                                        monkeypatch):
    first = make_receipt(create_user, create_department, number="TD/2026-27/000001")
    codes = iter([first.short_code, first.short_code, "ABCD-EFGH-JKMN"])
    monkeypatch.setattr(signing, "new_short_code", lambda: next(codes))

    second = make_receipt(create_user, create_department, number="TD/2026-27/000002")

    assert second.short_code == "ABCD-EFGH-JKMN"


def test_signing_a_receipt_without_a_number_is_refused(create_user, create_department):
    unsigned = make_receipt(create_user, create_department, sign=False)
    unsigned.number = None

    with pytest.raises(ValueError, match="numbered"):
        signing.sign_receipt(unsigned)
    assert unsigned.signed_payload is None


def test_signing_adds_only_the_first_key_to_the_session(create_user, create_department):
    first = make_receipt(create_user, create_department, number="TD/2026-27/000001")
    second = make_receipt(create_user, create_department, number="TD/2026-27/000002",
                          sign=False)

    signing.sign_receipt(second)

    assert not db.session.new
    assert second.key_id == first.key_id
    assert db.session.scalar(select(func.count()).select_from(ReceiptSigningKey)) == 1


# --- tampering ----------------------------------------------------------------------------


def _changed(payload: str, index: int) -> list[str]:
    """The payload with the character at ``index`` replaced, every way a base64url or
    separator character could be (a sample that always includes the neighbours in the
    alphabet, where only unused trailing bits would differ)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
    original = payload[index]
    position = alphabet.index(original)
    picks = {alphabet[(position + step) % len(alphabet)] for step in (1, 2, 3, 16, 32)}
    return [payload[:index] + c + payload[index + 1:] for c in sorted(picks) if c != original]


def test_every_single_character_change_of_the_payload_is_rejected(receipt):
    payload = receipt.signed_payload
    published = keys()

    accepted = [
        index for index in range(len(payload)) for changed in _changed(payload, index)
        if isinstance(signing.verify_payload(changed, published), VerifiedReceipt)
    ]

    assert accepted == []


def test_every_single_byte_change_of_the_signed_json_is_rejected(receipt):
    body, signature = receipt.signed_payload.split(".")
    raw = signing.b64url_decode(body)
    published = keys()

    for index in range(len(raw)):
        flipped = raw[:index] + bytes([raw[index] ^ 0x01]) + raw[index + 1:]
        forged = f"{signing.b64url_encode(flipped)}.{signature}"
        assert not signing.verify_payload(forged, published), index


def test_a_changed_amount_re_encoded_fails_the_signature(receipt):
    body, signature = receipt.signed_payload.split(".")
    document = json.loads(signing.b64url_decode(body))
    document["amt"] = 1
    forged = f"{signing.b64url_encode(signing.canonical_json(document))}.{signature}"

    assert signing.verify_payload(forged, keys()) == VerificationFailure(
        Failure.BAD_SIGNATURE, receipt.key_id)


def test_a_payload_signed_by_a_stranger_names_an_unknown_key(receipt):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    body, _ = receipt.signed_payload.split(".")
    document = json.loads(signing.b64url_decode(body))
    document["kid"] = "0123456789abcdef"
    forged = signing.sign_document(document, Ed25519PrivateKey.generate())

    assert signing.verify_payload(forged, keys()) == VerificationFailure(
        Failure.UNKNOWN_KEY, "0123456789abcdef")


def test_a_stranger_claiming_our_key_id_fails_the_signature(receipt):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    body, _ = receipt.signed_payload.split(".")
    document = json.loads(signing.b64url_decode(body))
    forged = signing.sign_document(document, Ed25519PrivateKey.generate())

    assert signing.verify_payload(forged, keys()).reason is Failure.BAD_SIGNATURE


def test_another_version_is_refused_even_when_signed_by_us(receipt):
    body, _ = receipt.signed_payload.split(".")
    document = json.loads(signing.b64url_decode(body))
    document["v"] = 2
    key = signing.active_key()
    future = signing.sign_document(document, signing._private_key(key))

    assert signing.verify_payload(future, keys()).reason is Failure.UNSUPPORTED_VERSION


def test_a_signed_document_of_the_wrong_shape_is_refused(receipt):
    body, _ = receipt.signed_payload.split(".")
    document = json.loads(signing.b64url_decode(body))
    document["amt"] = "100.00"
    odd = signing.sign_document(document, signing._private_key(signing.active_key()))

    assert signing.verify_payload(odd, keys()).reason is Failure.MALFORMED


@pytest.mark.parametrize("payload", [
    None, 42, "", " ", ".", "..", "abc", "abc.def.ghi", "not base64!.AAAA",
    "e30.AAAA", "e30." + "A" * 86, "W10." + "A" * 86, "x" * 5000, "\x00.\x00", "日本.語",
    "eyJ2IjoiMSJ9." + "A" * 86,
])
def test_malformed_payloads_are_refused_without_raising(receipt, payload):
    result = signing.verify_payload(payload, keys())

    assert isinstance(result, VerificationFailure)
    assert not result


def test_padding_or_whitespace_inside_is_refused(receipt):
    body, signature = receipt.signed_payload.split(".")

    assert not signing.verify_payload(f"{body}==.{signature}", keys())
    assert not signing.verify_payload(f"{body}.{signature[:10]} {signature[10:]}", keys())


# --- keys ---------------------------------------------------------------------------------


def test_the_first_key_is_made_on_first_use_with_an_id_from_its_public_key(receipt):
    key = db.session.scalar(select(ReceiptSigningKey))

    assert receipt.key_id == key.key_id
    assert key.key_id == signing.key_id_for(signing.b64url_decode(key.public_key))
    assert len(key.key_id) == 16
    assert len(signing.b64url_decode(key.public_key)) == 32
    # The private key is stored encrypted, never in clear.
    private_raw = signing._private_key(key).private_bytes_raw()
    assert signing.b64url_encode(private_raw) not in key.private_key


def test_rotation_keeps_old_receipts_valid_and_signs_new_ones_with_the_new_key(
        create_user, create_department):
    old = make_receipt(create_user, create_department, number="TD/2026-27/000001")
    retired, new_key = signing.rotate_key()
    db.session.commit()
    new = make_receipt(create_user, create_department, number="TD/2026-27/000002")

    assert retired.key_id == old.key_id
    assert retired.retired_at is not None
    assert new.key_id == new_key.key_id != old.key_id
    published = keys()
    assert isinstance(signing.verify_payload(old.signed_payload, published), VerifiedReceipt)
    assert isinstance(signing.verify_payload(new.signed_payload, published), VerifiedReceipt)


def test_newest_unretired_key_signs_when_two_were_made_at_once(create_user, create_department):
    # What a race on SQLite can leave: two keys, neither retired. Both stay published and
    # valid; the newer one signs from then on.
    older = signing._new_key_row()
    older.created_at = utcnow() - timedelta(seconds=1)
    newer = signing._new_key_row()
    db.session.add_all([older, newer])
    db.session.commit()

    receipt = make_receipt(create_user, create_department)

    assert receipt.key_id == newer.key_id
    assert set(keys()) == {older.key_id, newer.key_id}


def test_two_processes_making_the_first_key_at_once_end_with_valid_published_keys(app):
    barrier = threading.Barrier(2)
    results: list[str] = []
    errors: list[BaseException] = []

    def make_first_key() -> None:
        with app.app_context():
            try:
                barrier.wait()
                key_id = signing.active_key().key_id
                db.session.commit()
                results.append(key_id)
            except Exception as error:  # noqa: BLE001 - reported below
                db.session.rollback()
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=make_first_key) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    db.session.expire_all()
    published = set(keys())
    if db.engine.dialect.name == "postgresql":
        # The advisory lock makes the second wait and use the first one's key.
        assert errors == []
        assert len(published) == 1
        assert results[0] == results[1]
    else:
        # SQLite: one writer at a time. A second creator either waits and adds its own key
        # or is refused (its job retries); every key a receipt could use is published.
        from sqlalchemy.exc import OperationalError

        assert all(isinstance(error, OperationalError) for error in errors), errors
        assert len(results) + len(errors) == 2
        assert set(results) <= published
        assert 1 <= len(published) <= 2
    assert signing.active_key().key_id in published


# --- masked names -------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "masked"), [
    ("CHAN Tai Man", "CHAN T** M**"),
    ("Chan Tai Man", "CHAN T** M**"),
    ("chan tai man", "CHAN T** M**"),
    ("Tai Man CHAN", "CHAN T** M**"),
    ("WONG Siu-ming", "WONG S**-M**"),
    ("O'BRIEN Mary Jane", "O'BRIEN M** J**"),
    ("LEE Ka", "LEE K**"),
    ("Cher", "C**"),
    ("  CHAN   Tai\tMan ", "CHAN T** M**"),
    ("", ""),
])
def test_english_names_show_the_surname_and_given_initials(name, masked):
    assert signing.masked_name_en(name) == masked


@pytest.mark.parametrize(("name", "masked"), [
    ("陳大文", "陳*文"),
    ("歐陽志明", "歐**明"),
    ("陳文", "陳*"),
    ("陳", "*"),
    (None, ""),
])
def test_chinese_names_show_the_first_and_last_character(name, masked):
    assert signing.masked_name_zh(name) == masked


@pytest.mark.parametrize("given", ["Alexandra", "Al", "Bartholomew"])
def test_a_masked_name_never_shows_the_length_or_more_than_the_initial(given):
    masked = signing.masked_name_en(f"CHAN {given}")

    assert masked == f"CHAN {given[0]}**"


def test_masked_name_joins_english_and_chinese(create_user):
    both = create_user("a@example.com", name_en="CHAN Tai Man", name_zh="陳大文")
    english_only = create_user("b@example.com", name_en="Tai Man CHAN", name_zh=None)

    assert signing.masked_name(both) == "CHAN T** M** 陳*文"
    assert signing.masked_name(english_only) == "CHAN T** M**"


# --- short code input ---------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "expected"), [
    ("7KQM-X3PD-9RTA", "7KQM-X3PD-9RTA"),
    ("7kqm x3pd 9rta", "7KQM-X3PD-9RTA"),
    ("7KQMX3PD9RTA", "7KQM-X3PD-9RTA"),
    (" 7KQM–X3PD–9RTA ", "7KQM-X3PD-9RTA"),
    ("", signing.ShortCodeProblem.EMPTY),
    (" - ", signing.ShortCodeProblem.EMPTY),
    ("7KQM-X3PD", signing.ShortCodeProblem.LENGTH),
    ("7KQM-X3PD-9RTAA", signing.ShortCodeProblem.LENGTH),
    ("7KQM-X3PD-9RT0", signing.ShortCodeProblem.CHARACTERS),
    ("7KQM-X3PD-9RT!", signing.ShortCodeProblem.CHARACTERS),
    ("<script>", signing.ShortCodeProblem.CHARACTERS),
])
def test_typed_short_codes_are_normalised_or_named_as_a_problem(typed, expected):
    assert signing.normalise_short_code(typed) == expected


# --- QR code ------------------------------------------------------------------------------


def _modules_of_svg(data_uri: str) -> list[list[int]]:
    """Read segno's SVG back into a matrix of dark (1) and light (0) modules.

    segno draws each row's dark runs as one path of ``M x y``, ``m dx dy`` and ``h n``
    moves (scaled by a transform); no decoder library is installed, so the test reads the
    drawing itself and compares it with the symbol the expected text makes.
    """
    from urllib.parse import unquote

    svg = unquote(data_uri.split(",", 1)[1])
    size = int(re.search(r"width='(\d+)'", svg).group(1))
    scale = int(re.search(r"scale\((\d+)\)", svg).group(1))
    path = re.search(r" d='([^']+)'", svg).group(1)
    dimension = size // scale
    matrix = [[0] * dimension for _ in range(dimension)]
    x = y = 0.0
    for command, a, b in re.findall(r"([MmHh])(-?[\d.]+)(?:\s(-?[\d.]+))?", path):
        if command == "M":
            x, y = float(a), float(b)
        elif command == "m":
            x, y = x + float(a), y + float(b)
        else:
            length = float(a)
            for column in range(int(x), int(x + length)):
                matrix[int(y)][column] = 1
            x += length
    return matrix


def test_the_qr_code_holds_the_verify_address_with_the_payload(app, receipt, monkeypatch):
    import segno

    from portal.receipts import qr

    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://portal.example.gov.hk")
    expected = f"https://portal.example.gov.hk/verify?p={receipt.signed_payload}"

    uri = qr.qr_data_uri(receipt)

    assert uri.startswith("data:image/svg+xml")
    drawn = _modules_of_svg(uri)
    symbol = segno.make_qr(expected, error="m", boost_error=True, mode="byte",
                           encoding="utf-8")
    border = qr.QUIET_ZONE
    wanted = [
        [1 if bit else 0 for bit in row]
        for row in symbol.matrix_iter(scale=1, border=border)
    ]
    assert drawn == wanted
    # A one-character change of the text would give another symbol: the comparison above
    # is specific to this payload.
    other = segno.make_qr(expected[:-1] + ("A" if expected[-1] != "A" else "B"),
                          error="m", boost_error=True, mode="byte", encoding="utf-8")
    assert [[1 if b else 0 for b in row] for row in other.matrix_iter(border=border)] != drawn
    assert symbol.error in {"M", "Q", "H"}


def test_an_unsigned_receipt_has_no_qr_code(create_user, create_department):
    from portal.receipts import qr

    unsigned = make_receipt(create_user, create_department, sign=False)

    with pytest.raises(ValueError, match="signed"):
        qr.qr_data_uri(unsigned)
