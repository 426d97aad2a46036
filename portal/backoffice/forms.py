"""Forms of the back office."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField
from wtforms.validators import DataRequired, InputRequired, StopValidation

from portal.applications.util import normalise_reference
from portal.forms import (
    PortalForm,
    RadiosField,
    SubmitButton,
    TextAreaField,
    TextField,
    ValidationError,
    as_choices,
)
from portal.i18n import format_hkd
from portal.payments.refunds import REASON_MAX_LENGTH

#: An amount as staff type it: digits (a thousands comma allowed), at most one point.
_AMOUNT = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)$")
#: Written in front of an amount by habit; forgiven.
_CURRENCY_PREFIX = re.compile(r"^(HK\$|\$|HKD)", re.IGNORECASE)


class FindApplicationForm(PortalForm):
    """Search by reference (a GET form: a search changes nothing, so it needs no CSRF)."""

    class Meta:
        csrf = False

    reference = TextField(
        _l("Application reference"),
        [DataRequired(_l("Enter the application reference"))],
        max_length=30,
        description=_l("For example, K7MX-4P9Q-R"),
    )
    submit = SubmitButton(_l("Find application"))

    def validate_reference(self, field: Any) -> None:
        normalised = normalise_reference(field.data)
        if normalised is None:
            raise ValidationError(
                _l("Enter the reference as it is written, like K7MX-4P9Q-R"))
        field.data = normalised


def parse_hkd(text: str) -> int:
    """Dollars and cents as typed (``1,234.5``, ``HK$50``) in integer cents.

    :raises ValidationError: with the message for the person typing it.
    """
    compact = _CURRENCY_PREFIX.sub("", text.replace(",", "").replace(" ", ""))
    if not _AMOUNT.match(compact):
        raise ValidationError(_l("Enter the amount as a number, like 50.00"))
    try:
        value = Decimal(compact)
    except InvalidOperation as exc:
        raise ValidationError(_l("Enter the amount as a number, like 50.00")) from exc
    if value <= 0:
        raise ValidationError(_l("Enter an amount more than HK$0.00"))
    if "." in compact and len(compact.split(".", 1)[1]) > 2:
        raise ValidationError(_l("Enter the amount with no more than 2 decimal places, "
                                 "like 50.25"))
    return int(value * 100)


def format_amount_input(cents: int) -> str:
    """Cents as the amount field shows them (``50.00``)."""
    return f"{cents // 100}.{cents % 100:02d}"


class RefundForm(PortalForm):
    """The amount and reason of a refund of one payment, checked against what remains."""

    amount = TextField(
        _l("Amount to refund, in HK$"),
        [DataRequired(_l("Enter the amount to refund"))],
        max_length=20,
    )
    reason = TextAreaField(
        _l("Reason for the refund"),
        [DataRequired(_l("Enter the reason for the refund"))],
        max_length=REASON_MAX_LENGTH,
        description=_l("Say why the money is given back. The applicant sees this reason "
                      "with the refund."),
    )
    submit = SubmitButton(_l("Continue"))

    def __init__(self, *args: Any, remaining: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.remaining = remaining
        #: The amount in cents, once the form validated.
        self.cents: int | None = None

    def validate_amount(self, field: Any) -> None:
        cents = parse_hkd(field.data)
        if cents > self.remaining:
            raise ValidationError(
                _l("Enter an amount no more than %(amount)s, what remains of this payment",
                   amount=format_hkd(self.remaining)))
        self.cents = cents


class ConfirmRefundForm(PortalForm):
    """The confirmation's button; the nonce makes a repeated submission one refund."""

    nonce = HiddenField()


APPROVE = "approve"
DECLINE = "decline"


class _DecisionField(RadiosField):
    def pre_validate(self, form: Any) -> None:
        # A value that is not one of the choices (a forged post) reads as no choice.
        if self.data not in (APPROVE, DECLINE):
            raise StopValidation(_l("Select whether to approve or decline the refund"))


class RefundDecisionForm(PortalForm):
    """A second person's decision on a refund above the department's threshold."""

    decision = _DecisionField(
        _l("Your decision"),
        [InputRequired(_l("Select whether to approve or decline the refund"))],
        choices=as_choices([
            (APPROVE, _l("Approve: the money is sent back now")),
            (DECLINE, _l("Decline: nothing is refunded")),
        ]),
    )
    decline_reason = TextAreaField(
        _l("Reason for declining"),
        max_length=REASON_MAX_LENGTH,
        description=_l("Only if you decline. Staff of your department see this reason; "
                      "the applicant does not."),
    )
    submit = SubmitButton(_l("Record the decision"))

    def validate_decline_reason(self, field: Any) -> None:
        if self.decision.data == DECLINE and not field.data:
            raise ValidationError(_l("Enter the reason for declining the refund"))
