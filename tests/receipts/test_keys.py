"""The published signing keys and their rotation."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.receipts import signing
from portal.receipts.models import ReceiptSigningKey
from portal.receipts.signing import VerifiedReceipt
from tests.receipts.test_signing import make_receipt

KEYS_URL = "/.well-known/receipt-keys.json"


def test_the_keys_are_published_as_public_cacheable_json(client, create_user,
                                                         create_department):
    receipt = make_receipt(create_user, create_department)

    response = client.get(KEYS_URL)

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "public, max-age=300"
    document = response.get_json()
    key = db.session.scalar(select(ReceiptSigningKey))
    assert document == {"keys": [{
        "kid": receipt.key_id, "alg": "Ed25519", "public_key": key.public_key,
        "created_at": key.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"), "retired_at": None,
    }]}


def test_the_published_keys_verify_a_receipt_without_the_database(client, create_user,
                                                                   create_department):
    receipt = make_receipt(create_user, create_department)

    published = signing.keys_from_document(client.get(KEYS_URL).get_json())

    assert isinstance(signing.verify_payload(receipt.signed_payload, published),
                      VerifiedReceipt)


def test_the_keys_document_holds_no_private_key_or_personal_data(client, create_user,
                                                                 create_department):
    receipt = make_receipt(create_user, create_department)
    key = db.session.scalar(select(ReceiptSigningKey))
    private_raw = signing.b64url_encode(signing._private_key(key).private_bytes_raw())

    text = client.get(KEYS_URL).get_data(as_text=True)

    assert private_raw not in text
    assert key.private_key not in text
    for personal in ("CHAN", "citizen@example.com", receipt.payment.application.reference):
        assert personal not in text
    assert {field for entry in json.loads(text)["keys"] for field in entry} == {
        "kid", "alg", "public_key", "created_at", "retired_at"}


def test_no_keys_yet_publishes_an_empty_list(client):
    response = client.get(KEYS_URL)

    assert response.status_code == 200
    assert response.get_json() == {"keys": []}


def test_rotating_publishes_the_retired_key_and_the_new_one(app, client, create_user,
                                                            create_department):
    old = make_receipt(create_user, create_department, number="TD/2026-27/000001")

    result = app.test_cli_runner().invoke(args=["receipts", "rotate-key"])

    assert result.exit_code == 0, result.output
    assert f"Retired {old.key_id}." in result.output
    db.session.expire_all()
    new = make_receipt(create_user, create_department, number="TD/2026-27/000002")
    assert new.key_id != old.key_id
    assert f"New signing key {new.key_id}." in result.output
    entries = {entry["kid"]: entry for entry in client.get(KEYS_URL).get_json()["keys"]}
    assert set(entries) == {old.key_id, new.key_id}
    assert entries[old.key_id]["retired_at"] is not None
    assert entries[new.key_id]["retired_at"] is None
    published = signing.keys_from_document({"keys": list(entries.values())})
    for receipt in (old, new):
        assert isinstance(signing.verify_payload(receipt.signed_payload, published),
                          VerifiedReceipt)


def test_rotating_before_any_key_exists_just_makes_one(app):
    result = app.test_cli_runner().invoke(args=["receipts", "rotate-key"])

    assert result.exit_code == 0, result.output
    assert "Retired" not in result.output
    assert len(db.session.scalars(select(ReceiptSigningKey)).all()) == 1


def test_the_keys_command_lists_every_key_and_which_is_active(app, create_user,
                                                              create_department):
    old = make_receipt(create_user, create_department, number="TD/2026-27/000001")
    runner = app.test_cli_runner()
    runner.invoke(args=["receipts", "rotate-key"])
    db.session.expire_all()
    new = make_receipt(create_user, create_department, number="TD/2026-27/000002")

    result = runner.invoke(args=["receipts", "keys"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(old.key_id)
    assert "retired" in lines[0]
    assert lines[1].startswith(new.key_id)
    assert lines[1].endswith("active")


def test_the_keys_command_says_when_there_is_no_key(app):
    result = app.test_cli_runner().invoke(args=["receipts", "keys"])

    assert result.exit_code == 0
    assert "No signing key yet" in result.output


def _public_entry(**changes: object) -> dict[str, object]:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    raw = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    entry = {"kid": signing.key_id_for(raw), "alg": "Ed25519",
             "public_key": signing.b64url_encode(raw)}
    return {**entry, **changes}


def test_a_well_formed_keys_document_is_read():
    entry = _public_entry()

    assert list(signing.keys_from_document({"keys": [entry]})) == [entry["kid"]]


@pytest.mark.parametrize("document", [
    {"keys": [_public_entry(kid="0011223344556677")]},
    {"keys": [_public_entry(alg="RS256")]},
    {"keys": [_public_entry(public_key="AAAA")]},
    {"keys": [_public_entry(public_key=None)]},
    {"keys": "x"},
    [],
    None,
])
def test_a_keys_document_that_is_wrong_or_lies_about_a_key_id_is_refused(document):
    with pytest.raises(ValueError, match="key"):
        signing.keys_from_document(document)
