"""The citizen's dashboard: every application across every service, in one place."""

from __future__ import annotations

from typing import Any

from flask import render_template
from flask_login import current_user


def dashboard() -> Any:
    profile_complete = bool(current_user.mobile and current_user.district)
    return render_template(
        "applications/dashboard.html", applications=[], drafts=[],
        profile_complete=profile_complete,
    )
