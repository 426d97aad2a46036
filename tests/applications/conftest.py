"""A small service of our own, so the engine is tested apart from the built-in ones."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from portal import toolkit as tk
from portal.plugins.manager import LoadedService, ServiceRegistry


class DetailsForm(tk.ServiceForm):
    full_name = tk.TextField("Full name", [tk.InputRequired("Enter your full name")],
                             max_length=80)
    kind = tk.RadiosField("Kind of permit", [tk.InputRequired("Select a kind of permit")],
                          choices=tk.as_choices([("day", "Day permit"), ("year", "Year permit")]))


class CopiesForm(tk.ServiceForm):
    copies = tk.WholeNumberField("Number of copies", [tk.InputRequired("Enter how many copies")],
                                 minimum=1, maximum=5)


class EvidenceForm(tk.ServiceForm):
    started_on = tk.DateField("Date you started", [tk.InputRequired("Enter the date")],
                              past_only=True)
    evidence = tk.UploadField("Evidence", [tk.InputRequired("Choose a file")],
                              kinds=("pdf", "png"), max_bytes=50_000)
    agree = tk.ConfirmField("I confirm this is true", [tk.InputRequired("Confirm this is true")])


class AddressStep(tk.AddressForm):
    pass


def fees(answers: Any) -> tk.Fee:
    if answers.get("kind") == "year":
        return tk.Fee(10_000 * (answers.get("copies") or 1))
    return tk.Fee(0)


WORKFLOW = tk.Workflow(
    states=("awaiting_payment", "received", "approved", "rejected", "withdrawn"),
    initial="awaiting_payment",
    terminal={"approved", "rejected", "withdrawn"},
    transitions=[
        tk.Transition("awaiting_payment", "payment_received", "received", {"system"}),
        tk.Transition("awaiting_payment", "withdraw", "withdrawn", {"citizen"}),
        tk.Transition("received", "withdraw", "withdrawn", {"citizen"}),
        tk.Transition("received", "approve", "approved", {"officer", "supervisor"}),
        tk.Transition("received", "reject", "rejected", {"officer", "supervisor"}),
    ],
)

SERVICE = tk.ServiceDefinition(
    name="test_permit",
    title="Test permit",
    summary="A permit used by the tests.",
    department="TD",
    category="transport",
    workflow=WORKFLOW,
    steps=[
        tk.Step("details", "Your details", DetailsForm),
        tk.Step("copies", "Copies", CopiesForm, condition=lambda a: a.get("kind") == "year"),
        tk.Step("address", "Your address", AddressStep),
        tk.Step("evidence", "Evidence", EvidenceForm),
    ],
    fees=fees,
    pledge_working_days=5,
    prefill=tk.profile_address,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def permit_service(app: Any) -> Iterator[tk.ServiceDefinition]:
    """Installs ``test_permit`` as the only active service for one test."""
    registry = ServiceRegistry()
    registry.entries.append(LoadedService("test_permit", "tests", "0", "active", "", SERVICE,
                                          "tests.applications"))
    saved = app.extensions["portal_services"]
    app.extensions["portal_services"] = registry
    try:
        yield SERVICE
    finally:
        app.extensions["portal_services"] = saved
