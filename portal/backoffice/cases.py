"""The case view (placeholder: replaced by the full case view of Step 4)."""

from __future__ import annotations

from typing import Any

from flask import redirect, url_for

from portal.backoffice.access import case_or_404


def case(reference: str) -> Any:
    application = case_or_404(reference)
    return redirect(url_for("backoffice.application_payments", reference=application.reference))
