"""Certified copies of a birth record: the service definition, registered through the
entry point."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portal.toolkit import (
    PAY_THEN_DECIDE,
    ServiceDefinition,
    Step,
    hookimpl,
    profile_address,
)

from .fees import FEE_PER_COPY, MAX_COPIES, copies_fee
from .forms import (
    CollectionOfficeForm,
    CopiesForm,
    DeliveryAddressForm,
    DeliveryForm,
    ParticularsForm,
)
from .i18n import _

NAME = "birth_record"



def wants_post(answers: Mapping[str, Any]) -> bool:
    """The delivery address is asked only when the copies are posted."""
    return answers.get("delivery_method") == "post"


def wants_collection(answers: Mapping[str, Any]) -> bool:
    """The registry is asked only when the copies are collected."""
    return answers.get("delivery_method") == "collect"


STEPS = (
    Step("particulars", _("The birth record"), ParticularsForm),
    Step("copies", _("Number of copies"), CopiesForm),
    Step("delivery", _("How you get the copies"), DeliveryForm),
    Step("collection_office", _("Where you collect the copies"), CollectionOfficeForm,
         condition=wants_collection),
    Step("delivery_address", _("Where we send the copies"), DeliveryAddressForm,
         condition=wants_post),
)


def prefill(user: Any) -> dict[str, str]:
    return profile_address(user)


DEFINITION = ServiceDefinition(
    name=NAME,
    title=_("Get a certified copy of a birth record"),
    summary=_("Order certified copies of a birth registered in Hong Kong, to collect at a "
              "births registry or to receive by post."),
    department="IMMD",
    category="records",
    workflow=PAY_THEN_DECIDE,
    steps=STEPS,
    fees=copies_fee,
    pay_before_processing=True,
    # Not a published pledge: a working assumption to be confirmed with the department.
    pledge_working_days=10,
    prefill=prefill,
    eligibility=_("You can apply for your own birth record, for your child's, or for "
                  "someone else's with their written consent."),
    requirements=(
        _("the name, date and place of birth as registered"),
        _("the birth registration number, if you have it"),
        _("a card or bank account to pay the fee"),
    ),
    fee_summary=_("HK$%(fee)d for each certified copy, up to %(most)d copies.",
                  fee=FEE_PER_COPY // 100, most=MAX_COPIES),
    keywords=("birth certificate", "birth record", "certified copy", "Immigration "
              "Department", "出生證明書", "出生紀錄", "出生登記", "核證副本", "入境事務處"),
)


@hookimpl
def register_services() -> list[ServiceDefinition]:
    return [DEFINITION]
