"""Public pages of the portal: home, help, the statements, health and language."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, redirect, render_template, request, session, url_for
from flask_login import current_user
from sqlalchemy import text

from portal.extensions import db
from portal.i18n import normalise_locale
from portal.security import safe_next


def home() -> Any:
    return render_template("core/home.html")


def accessibility() -> Any:
    return render_template("core/accessibility.html")


def privacy() -> Any:
    return render_template("core/privacy.html")


def cookies() -> Any:
    return render_template("core/cookies.html")


def help_page() -> Any:
    return render_template("core/help.html")


def healthz() -> Any:
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    except Exception:  # noqa: BLE001 - any failure means the database is not usable
        current_app.logger.exception("health check: database unreachable")
        db.session.rollback()
        return jsonify(status="unavailable", database="unreachable"), 503
    return jsonify(status="ok", database="ok")


def switch_language(code: str) -> Any:
    """Switch the language and go back to the same page."""
    locale = normalise_locale(code)
    target = safe_next(request.args.get("next"), url_for("core.home"))
    if locale is None or locale not in current_app.config["LANGUAGES"]:
        return redirect(target)
    session["locale"] = locale
    if current_user.is_authenticated and current_user.preferred_language != locale:
        current_user.preferred_language = locale
        db.session.commit()
    return redirect(target)
