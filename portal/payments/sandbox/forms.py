"""The sandbox's forms: card, challenge, FPS and cancel (CSRF from ``PortalForm``)."""

from __future__ import annotations

import re
from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import StringField
from wtforms.validators import AnyOf, InputRequired, StopValidation

from portal.forms import PortalForm, TextField
from portal.i18n import hong_kong_today
from portal.payments.sandbox import cards

_CVC = re.compile(r"[0-9]{3}")


def _required(message: Any) -> InputRequired:
    return InputRequired(message=message)


class CardForm(PortalForm):
    card_number = TextField(
        _l("Card number"),
        [_required(_l("Enter your card number"))],
        filters=[cards.digits_only],
        max_length=30,
    )
    expiry = TextField(
        _l("Expiry date"),
        [_required(_l("Enter the expiry date"))],
        description=_l("For example, 04/29"),
        max_length=10,
    )
    cvc = TextField(
        _l("Card security code"),
        [_required(_l("Enter the security code"))],
        description=_l("The last 3 digits on the back of the card"),
        filters=[cards.digits_only],
        max_length=10,
    )
    cardholder_name = TextField(
        _l("Name on card"),
        [_required(_l("Enter the name as it is written on the card"))],
        max_length=100,
    )

    def validate_card_number(self, field: Any) -> None:
        if not cards.valid_card_number(field.data or ""):
            raise StopValidation(_l("Enter a valid card number"))

    def validate_expiry(self, field: Any) -> None:
        parsed = cards.parse_expiry(field.data or "")
        if parsed is None:
            raise StopValidation(_l("Enter the expiry date as month and year, like 04/29"))
        if cards.expired(*parsed, today=hong_kong_today()):
            raise StopValidation(_l("The card has expired: check the expiry date"))

    def validate_cvc(self, field: Any) -> None:
        if not _CVC.fullmatch(field.data or ""):
            raise StopValidation(_l("Enter the 3-digit security code"))


class ChallengeForm(PortalForm):
    """The bank's check: the pressed button sends ``decision``."""

    decision = StringField(validators=[InputRequired(), AnyOf(("approve", "fail"))])


class CancelForm(PortalForm):
    """Only the CSRF token."""


class FpsPaidForm(PortalForm):
    """The button "I have paid in my banking app": only the CSRF token."""
