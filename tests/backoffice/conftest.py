"""A paid application and staff of its department (and of others), signed in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.payments.conftest import (  # noqa: F401 - fixtures
    _receipts_without_weasyprint,
    awaiting_payment,
    permit_service,
    provider,
)
from tests.payments.test_refunds import paid  # noqa: F401


@pytest.fixture
def staff_client(app, create_staff, sign_in_staff, monkeypatch) -> Callable[..., Any]:
    """``staff_client(role, department_code)``: a client signed in as that staff member."""
    monkeypatch.setitem(app.config, "SIGN_IN_RATE_LIMIT", "100 per minute")

    def make(role: str = "officer", department_code: str | None = "TD") -> Any:
        email = f"{role}.{department_code or 'none'}@example.com".lower()
        user = create_staff(email, role=role, department_code=department_code)
        client = app.test_client()
        sign_in_staff(client, user)
        client.user = user
        return client

    return make
