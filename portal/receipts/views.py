"""The public side of receipts: the verify page and the published keys.

Anyone may check a receipt, credit note or issued document (a renewed licence), signed in
or not: by typing its short code (a POST, rate
limited per address, so codes cannot be guessed in bulk) or by scanning its QR code (a GET
with the signed payload, which cannot be guessed: only our keys make one). An unknown code
and a forged payload get the same "not genuine" page, so the answer says nothing about
which codes exist. Nothing personal is shown beyond the masked name the receipt carries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from wtforms.validators import InputRequired, ValidationError

from portal.catalogue.util import department_name
from portal.extensions import db
from portal.forms import PortalForm, SubmitButton, TextField
from portal.payments.models import Refund, RefundState
from portal.plugins.manager import services
from portal.receipts import signing
from portal.receipts.models import Receipt, ReceiptKind

#: How long browsers and proxies may keep the published keys. Short: a new key is used
#: as soon as it is made, and a verifier must see it within minutes.
KEYS_MAX_AGE_SECONDS = 300
def verify_rate_limit() -> str:
    """Typed codes per address (``VERIFY_RATE_LIMIT``): plenty for a person checking a
    pile of receipts, far too few to find a valid code among 31^12."""
    return current_app.config["VERIFY_RATE_LIMIT"]


_ENTER_CODE = _l("Enter the verification code printed under the QR code")


def _validate_code(_form: Any, field: Any) -> None:
    problem = signing.normalise_short_code(field.data)
    if problem is signing.ShortCodeProblem.EMPTY:  # only spaces or dashes
        raise ValidationError(_ENTER_CODE)
    if problem is signing.ShortCodeProblem.CHARACTERS:
        raise ValidationError(_l(
            "Enter the code using only the letters and numbers printed on the receipt "
            "(the code never has the letters O, I or L, or the numbers 0 or 1)"
        ))
    if problem is signing.ShortCodeProblem.LENGTH:
        raise ValidationError(_l(
            "Enter all 12 letters and numbers of the code, for example 7KQM-X3PD-9RTA"
        ))


class VerifyCodeForm(PortalForm):
    code = TextField(
        _l("Verification code"),
        [InputRequired(_ENTER_CODE), _validate_code],
        max_length=40,
        description=_l("The 12 letters and numbers printed under the QR code on the "
                       "receipt, for example 7KQM-X3PD-9RTA."),
    )
    submit = SubmitButton(_l("Check receipt"))


@dataclass(frozen=True)
class Outcome:
    """What the verify page says about one receipt."""

    receipt: signing.VerifiedReceipt | None
    #: Whether the database still knows the receipt (so its status could be checked).
    status_checked: bool = False
    voided: bool = False
    refunded: int = 0

    @property
    def genuine(self) -> bool:
        return self.receipt is not None

    @property
    def is_credit_note(self) -> bool:
        return self.receipt is not None and self.receipt.kind == ReceiptKind.CREDIT_NOTE

    @property
    def refunded_in_full(self) -> bool:
        return self.receipt is not None and 0 < self.receipt.amount <= self.refunded

    @property
    def refunded_in_part(self) -> bool:
        return 0 < self.refunded and not self.refunded_in_full

    @property
    def is_document(self) -> bool:
        return self.receipt is not None and self.receipt.is_document

    @property
    def expired(self) -> bool:
        """An issued document whose last valid day (as signed) is past, in Hong Kong."""
        from portal.i18n import hong_kong_today

        until = self.receipt.valid_until if self.receipt is not None else None
        return until is not None and until < hong_kong_today()


NOT_GENUINE = Outcome(receipt=None)


def _succeeded_refunds(payment_id: int) -> int:
    """Money actually given back: ``Payment.refunded_amount`` also counts refunds still
    being processed, which may yet fail, so the page sums only the succeeded ones."""
    total = db.session.scalar(
        select(func.coalesce(func.sum(Refund.amount), 0)).where(
            Refund.payment_id == payment_id, Refund.state == RefundState.SUCCEEDED
        )
    )
    return int(total or 0)


def _outcome(verified: signing.VerifiedReceipt, row: Receipt | None) -> Outcome:
    if row is None or row.number != verified.number:
        return Outcome(receipt=verified)
    refunded = 0
    if row.kind == ReceiptKind.RECEIPT:
        refunded = _succeeded_refunds(row.payment_id)
    return Outcome(receipt=verified, status_checked=True,
                   voided=row.voided_at is not None, refunded=refunded)


def check_payload(payload: str) -> Outcome:
    verified = signing.verify_payload(payload, signing.database_public_keys())
    if not isinstance(verified, signing.VerifiedReceipt):
        return NOT_GENUINE
    row = db.session.scalar(select(Receipt).where(Receipt.short_code == verified.short_code))
    return _outcome(verified, row)


def check_code(code: str) -> Outcome:
    row = db.session.scalar(
        select(Receipt).where(Receipt.short_code == code, Receipt.signed_payload.is_not(None))
    )
    if row is None or not row.signed_payload:
        return NOT_GENUINE
    # The stored payload is checked like a scanned one: a row changed behind the
    # application's back is not vouched for.
    verified = signing.verify_payload(row.signed_payload, signing.database_public_keys())
    if not isinstance(verified, signing.VerifiedReceipt) or verified.short_code != code:
        return NOT_GENUINE
    return _outcome(verified, row)


def _service_title(name: str) -> str:
    definition = services(current_app).active.get(name)
    return str(definition.title) if definition is not None else name


def _document_title(service: str, name: str | None) -> str:
    definition = services(current_app).active.get(service)
    spec = next((d for d in definition.documents if d.name == name), None) \
        if definition is not None else None
    return str(spec.title) if spec is not None else str(name)


def _result(outcome: Outcome) -> Any:
    receipt = outcome.receipt
    if receipt is not None and receipt.is_document:
        return render_template(
            "receipts/verify_document.html", outcome=outcome, document=receipt,
            title=_document_title(receipt.service, receipt.document),
            department=department_name(receipt.department),
            service=_service_title(receipt.service),
        )
    return render_template(
        "receipts/verify_result.html",
        outcome=outcome,
        department=department_name(receipt.department) if receipt else None,
        service=_service_title(receipt.service) if receipt else None,
    )


def verify() -> Any:
    form = VerifyCodeForm()
    if request.method == "POST":
        if form.validate_on_submit():
            code = signing.normalise_short_code(form.code.data)
            if isinstance(code, str):  # always, once the form's validator has passed
                return _result(check_code(code))
        return render_template("receipts/verify.html", form=form)
    payload = request.args.get("p")
    if payload is not None:
        return _result(check_payload(payload))
    return render_template("receipts/verify.html", form=form)


def published_keys() -> Any:
    response = jsonify(signing.published_keys_document())
    response.headers["Cache-Control"] = f"public, max-age={KEYS_MAX_AGE_SECONDS}"
    return response
