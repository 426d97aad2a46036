"""Renew a driving licence: the service definition, registered through the entry point."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from portal.toolkit import (
    PAY_THEN_DECIDE,
    DocumentSpec,
    ServiceDefinition,
    Step,
    hookimpl,
    mask_hkid,
    profile_address,
    years_after,
)

from .fees import FULL_LICENCE_FEES, PROBATIONARY_LICENCE_FEE, renewal_fee
from .forms import (
    LICENCE_TYPES,
    HealthForm,
    LicenceAddressForm,
    LicenceDetailsForm,
    LicenceTypeForm,
    PhotoForm,
    ValidityForm,
)
from .i18n import _

NAME = "licence_renewal"

#: Years the renewed licence runs, by the validity period chosen.
VALIDITY_YEARS = {"10_years": 10, "3_years": 3, "1_year": 1}
#: A probationary licence has no period to choose; it is issued for 10 years, as the
#: standard full licence is. NOT VERIFIED against the Transport Department's rules (like
#: its fee, see fees.py): check before the service goes live.
DEFAULT_VALIDITY_YEARS = 10


def is_full_licence(answers: Mapping[str, Any]) -> bool:
    """A validity period is chosen only for a full licence (a probationary one has none)."""
    return answers.get("licence_type") == "full"


STEPS = (
    Step("licence_details", _("Your driving licence"), LicenceDetailsForm),
    Step("licence_type", _("Type of licence"), LicenceTypeForm),
    Step("validity", _("Validity period"), ValidityForm, condition=is_full_licence),
    Step("photo", _("Your photo"), PhotoForm),
    Step("address", _("Where to send your new licence"), LicenceAddressForm),
    Step("health", _("Health declaration"), HealthForm),
)


def prefill(user: Any) -> dict[str, str]:
    return profile_address(user)


def licence_valid_until(answers: Mapping[str, Any], valid_from: date) -> date:
    """The last day of the renewed licence: the period chosen from the day of approval."""
    years = VALIDITY_YEARS.get(answers.get("validity_period") or "", DEFAULT_VALIDITY_YEARS)
    return years_after(valid_from, years)


def licence_facts(answers: Mapping[str, Any]) -> list[tuple[Any, Any]]:
    """What the licence prints besides the holder and the dates. The licence number is
    the holder's identity card number, so only a masked part of it is printed."""
    lines: list[tuple[Any, Any]] = [
        (_("Driving licence number"), mask_hkid(answers.get("licence_number") or "")),
    ]
    kinds = {choice.value: choice.label for choice in LICENCE_TYPES}
    if answers.get("licence_type") in kinds:
        lines.append((_("Type of licence"), kinds[answers["licence_type"]]))
    return lines


#: Issued when the application is approved: the renewed licence, numbered TD/LIC/...
LICENCE = DocumentSpec(
    name="licence",
    title=_("Driving licence"),
    series="LIC",
    validity=licence_valid_until,
    facts=licence_facts,
    template="licence.html",
)


DEFINITION = ServiceDefinition(
    name=NAME,
    title=_("Renew a driving licence"),
    summary=_("Renew your full or probationary Hong Kong driving licence online and get "
              "the new licence by post."),
    department="TD",
    category="transport",
    # One renewal in progress per licence, for each citizen.
    exclusive_key=lambda answers: answers.get("licence_number"),
    workflow=PAY_THEN_DECIDE,
    steps=STEPS,
    fees=renewal_fee,
    pay_before_processing=True,
    # The Transport Department posts licences applied for other than at a counter within
    # 10 working days of receiving the application (1823 Call Centre).
    pledge_working_days=10,
    prefill=prefill,
    eligibility=_("You can renew a full driving licence from 4 months before it expires, "
                  "and a probationary driving licence from 15 days before it expires. A "
                  "licence that expired more than 3 years ago cannot be renewed."),
    requirements=(
        _("your driving licence number"),
        _("a recent colour photo of your face (JPG or PNG, up to 2 MB)"),
        _("the address in Hong Kong where we should send the new licence"),
        _("a card or bank account to pay the fee"),
    ),
    fee_summary=_("HK$%(ten_years)d for a full licence valid for 10 years. Drivers aged 70 "
                  "or over pay HK$%(one_year)d for 1 year or HK$%(three_years)d for 3 "
                  "years. HK$%(probationary)d to renew a probationary licence.",
                  ten_years=FULL_LICENCE_FEES["10_years"] // 100,
                  one_year=FULL_LICENCE_FEES["1_year"] // 100,
                  three_years=FULL_LICENCE_FEES["3_years"] // 100,
                  probationary=PROBATIONARY_LICENCE_FEE // 100),
    documents=(LICENCE,),
    keywords=("driving licence", "driver's licence", "renew", "renewal", "Transport "
              "Department", "駕駛執照", "駕照", "車牌", "續期", "續領", "運輸署"),
)


@hookimpl
def register_services() -> list[ServiceDefinition]:
    return [DEFINITION]
