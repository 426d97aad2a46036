"""Error pages in the user's language; a database outage answers 503, not a trace."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g, render_template
from flask_login import AnonymousUserMixin
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

from portal.extensions import db
from portal.log import current_request_id

#: Status codes with their own page; anything else uses the generic one.
PAGES = {400, 403, 404, 405, 413, 429, 500, 503}


def _render(status: int, **context: Any) -> tuple[str, int]:
    template = f"errors/{status}.html" if status in PAGES else "errors/generic.html"
    page = render_template(template, status=status, error_id=current_request_id(), **context)
    return page, status


def _database_unavailable(exc: Exception) -> Any:
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001, S110 - the connection may already be gone
        pass
    # Do not let the error page try to load the signed-in user from the same database.
    g._login_user = AnonymousUserMixin()
    current_app.logger.error("database unavailable: %s", type(exc).__name__)
    return _render(503)


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> Any:
        return _render(400, csrf=True)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Any:
        if exc.code is None or exc.code < 400:
            return exc
        response = _render(exc.code)
        if exc.code == 405 and hasattr(exc, "valid_methods") and exc.valid_methods:
            return response[0], 405, {"Allow": ", ".join(exc.valid_methods)}
        return response

    @app.errorhandler(OperationalError)
    def _operational(exc: OperationalError) -> Any:
        return _database_unavailable(exc)

    @app.errorhandler(DBAPIError)
    def _dbapi(exc: DBAPIError) -> Any:
        if exc.connection_invalidated or isinstance(exc, OperationalError):
            return _database_unavailable(exc)
        return _internal(exc)

    @app.errorhandler(InternalServerError)
    def _internal_server_error(exc: Exception) -> Any:
        return _internal(exc)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        if isinstance(exc, HTTPException):
            return _http(exc)
        return _internal(exc)

    def _internal(exc: Exception) -> Any:
        original = getattr(exc, "original_exception", None) or exc
        try:
            db.session.rollback()
        except Exception:  # noqa: BLE001, S110
            pass
        if _blame_service(original):
            return _render(503, service_failed=True)
        app.logger.error("unhandled error %s", current_request_id(), exc_info=original)
        return _render(500)


def _blame_service(exc: BaseException) -> bool:
    """When a plugin's own code raised, say so, and after ``SERVICE_FAILURE_LIMIT`` such
    requests switch the plugin off for every app process (``service_switches``), reported
    in the log, ``portal services`` and the administrators' services page, until an
    administrator switches it back on. The citizen is told the service has a problem;
    every other service goes on."""
    from portal.plugins.manager import services

    registry = services(current_app)
    entry = registry.blame(exc)
    if entry is None:
        return False
    error_id = current_request_id()
    current_app.logger.error("service plugin %s failed (error %s)", entry.entry_point,
                             error_id, exc_info=exc)
    if registry.record_failure(entry, exc, error_id,
                               current_app.config["SERVICE_FAILURE_LIMIT"],
                               current_app.config["SERVICE_FAILURE_WINDOW_SECONDS"]):
        current_app.logger.error("service plugin %s switched off: %s", entry.entry_point,
                                 registry.switched_off.get(entry.entry_point))
    return True
