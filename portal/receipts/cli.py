"""``portal receipts ...``: issuing, verifying and the signing keys."""

from __future__ import annotations

from typing import Any

import click
from flask.cli import with_appcontext


@click.group("receipts")
def receipts_group() -> None:
    """Receipts and credit notes."""


@receipts_group.command("issue-pending")
@click.option("--limit", default=1000, show_default=True, help="At most this many.")
@with_appcontext
def issue_pending(limit: int) -> None:
    """Issue receipts whose job was lost or failed (those due now)."""
    from portal.receipts.issue import issue_due

    issued = issue_due(limit=limit)
    click.echo(f"{issued} receipt(s) issued")


def _operator(getpass: Any) -> str:
    """Who runs the command, for the log (a container may have no user name)."""
    try:
        return str(getpass.getuser())
    except Exception:  # noqa: BLE001 - no name is no reason to refuse
        return "unknown"


@receipts_group.command("void")
@click.argument("number")
@click.option("--reason", required=True, help="Why it is voided (kept, at most 500 characters).")
@with_appcontext
def void_command(number: str, reason: str) -> None:
    """Void an issued receipt or credit note (issued in error). It keeps its number and
    file; the verify page then says it is voided. Cannot be undone."""
    import getpass

    from sqlalchemy import select

    from portal.extensions import db
    from portal.receipts.models import Receipt
    from portal.receipts.voiding import VoidRefused, void_receipt

    receipt = db.session.scalar(select(Receipt).where(Receipt.number == number.strip()))
    if receipt is None:
        raise click.ClickException(f"no receipt numbered {number!r}")
    try:
        void_receipt(receipt, reason, actor=f"cli:{_operator(getpass)}")
    except VoidRefused as error:
        raise click.ClickException(f"not voided: {error}") from error
    click.echo(f"Receipt {receipt.number} voided.")


# --- signing keys and offline verification (see docs/receipts.md) -------------------------


@receipts_group.command("keys")
@with_appcontext
def keys_command() -> None:
    """List the signing keys (all published; the active one signs new receipts)."""
    from sqlalchemy import select

    from portal.extensions import db
    from portal.receipts.models import ReceiptSigningKey
    from portal.receipts.signing import newest_active_key

    active = newest_active_key()
    rows = db.session.scalars(
        select(ReceiptSigningKey).order_by(ReceiptSigningKey.created_at, ReceiptSigningKey.id)
    ).all()
    if not rows:
        click.echo("No signing key yet: one is made when the first receipt is signed.")
    for row in rows:
        state = "active" if active is not None and row.id == active.id else (
            f"retired {row.retired_at:%Y-%m-%d %H:%M} UTC" if row.retired_at else "not used")
        click.echo(f"{row.key_id}  created {row.created_at:%Y-%m-%d %H:%M} UTC  {state}")


@receipts_group.command("rotate-key")
@with_appcontext
def rotate_key_command() -> None:
    """Retire the active signing key and make a new one. Retired keys stay published, so
    receipts signed with them keep verifying."""
    from portal.extensions import db
    from portal.receipts.signing import rotate_key

    retired, new = rotate_key()
    db.session.commit()
    if retired is not None:
        click.echo(f"Retired {retired.key_id}.")
    click.echo(f"New signing key {new.key_id}.")


@receipts_group.command("verify")
@click.argument("pdf", required=False, type=click.Path(dir_okay=False))
@click.option("--payload", help="A payload as scanned from a QR code (the p= value).")
@click.option("--keys", "keys_file", type=click.Path(dir_okay=False),
              help="A downloaded receipt-keys.json (no network or database needed).")
@click.option("--keys-url", help="Where to download receipt-keys.json from (https).")
@with_appcontext
def verify_command(pdf: str | None, payload: str | None, keys_file: str | None,
                   keys_url: str | None) -> None:
    """Check a receipt PDF (or a scanned payload) against the published keys, offline.

    Works the same for an issued document (a renewed licence). Exits 0 and prints what
    the receipt says when it is genuine; exits 1 with the reason
    when it is not (not a PDF, no payload, changed, or signed with an unknown key).
    """
    from portal.receipts import offline, signing

    if (pdf is None) == (payload is None):
        raise click.UsageError("give a PDF file or --payload, not both")
    if keys_file and keys_url:
        raise click.UsageError("give --keys or --keys-url, not both")
    data = b""
    try:
        if payload is None:
            try:
                with open(pdf, "rb") as handle:  # type: ignore[arg-type]
                    data = handle.read()
            except OSError as error:
                raise offline.OfflineError(f"cannot read {pdf}: {error.strerror}") from error
            payload = offline.payload_from_pdf(data)
        if keys_file:
            keys = offline.keys_from_file(keys_file)
        elif keys_url:
            keys = offline.keys_from_url(keys_url)
        else:
            keys = signing.database_public_keys()
    except offline.OfflineError as error:
        raise click.ClickException(f"NOT VERIFIED: {error}") from error
    result = signing.verify_payload(payload, keys)
    if not isinstance(result, signing.VerifiedReceipt):
        raise click.ClickException(f"NOT GENUINE: {offline.describe_failure(result)}")
    if pdf is not None:
        try:
            missing = offline.printed_mismatches(data, result)
        except offline.OfflineError as error:
            raise click.ClickException(f"NOT VERIFIED: {error}") from error
        if missing:
            what = "document" if result.is_document else "receipt"
            raise click.ClickException(
                "NOT GENUINE: the printed document does not match its signed payload "
                f"(not printed on it: {'; '.join(missing)}). The signed payload is "
                f"genuine ({what} {result.number}) but the pages are not that {what}."
            )
    if result.is_document:
        _echo_document(result, checked_pdf=pdf is not None)
        return
    from portal.receipts.numbering import HONG_KONG

    kind = "Credit note" if result.kind == "credit_note" else "Receipt"
    local = result.issued_at.astimezone(HONG_KONG)
    click.echo(f"GENUINE: the signature is valid (key {result.key_id}).")
    if pdf is not None:
        click.echo("The printed number, amount and code match the signed payload.")
    click.echo(f"{kind} number:        {result.number}")
    click.echo(f"Amount:                {result.currency} {result.amount // 100:,}."
               f"{result.amount % 100:02d}")
    click.echo(f"Issued:                {local:%Y-%m-%d %H:%M:%S} HKT "
               f"({result.issued_at:%Y-%m-%dT%H:%M:%SZ})")
    click.echo(f"Department:            {result.department}")
    click.echo(f"Service:               {result.service}")
    click.echo(f"Application reference: {result.reference}")
    click.echo(f"Payer:                 {result.masked_name}")
    click.echo(f"Short code:            {result.short_code}")
    click.echo(f"Key id:                {result.key_id}")
    click.echo("Refunds and voiding are not shown offline: check the verify page for them.")


def _echo_document(result: Any, *, checked_pdf: bool) -> None:
    """What a genuine issued document (a renewed licence) says."""
    from portal.receipts.numbering import HONG_KONG

    local = result.issued_at.astimezone(HONG_KONG)
    click.echo(f"GENUINE: the signature is valid (key {result.key_id}).")
    if checked_pdf:
        click.echo("The printed number, days of validity and code match the signed payload.")
    click.echo(f"Document number:       {result.number}")
    click.echo(f"Document:              {result.document}")
    click.echo(f"Valid from:            {result.valid_from:%Y-%m-%d}")
    click.echo("Valid until:           " + (f"{result.valid_until:%Y-%m-%d}"
                                             if result.valid_until else "no end date"))
    click.echo(f"Issued:                {local:%Y-%m-%d %H:%M:%S} HKT "
               f"({result.issued_at:%Y-%m-%dT%H:%M:%SZ})")
    click.echo(f"Department:            {result.department}")
    click.echo(f"Service:               {result.service}")
    click.echo(f"Application reference: {result.reference}")
    click.echo(f"Holder:                {result.masked_name}")
    click.echo(f"Short code:            {result.short_code}")
    click.echo(f"Key id:                {result.key_id}")
    click.echo("Voiding and expiry are not shown offline: check the verify page for them.")
