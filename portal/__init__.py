"""The one-stop digital services portal.

``create_app`` is the only way the application is built: by ``wsgi.py`` for gunicorn,
by the ``portal`` command, by the Celery worker and by the tests.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from portal.config import DefaultConfig

__all__ = ["create_app"]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the portal application.

    :param config: settings applied last, over the defaults and ``PORTAL_*`` variables.
    """
    instance_path = (config or {}).get("INSTANCE_PATH") or os.environ.get("PORTAL_INSTANCE_PATH")
    app = Flask(
        __name__,
        instance_path=str(Path(instance_path).resolve()) if instance_path else None,
        instance_relative_config=True,
    )
    app.config.from_object(DefaultConfig)
    app.config.from_prefixed_env("PORTAL")
    if config:
        app.config.update(config)
    _normalise_config(app)

    from portal import log as portal_logging

    portal_logging.init_app(app)

    from portal.extensions import babel, csrf, db, limiter, login_manager, migrate
    from portal.security import init_body_limit

    # Registered before CSRF protection, whose check reads the form.
    init_body_limit(app)
    db.init_app(app)
    migrate.init_app(
        app, db, directory=str(Path(__file__).parent / "migrations"),
        render_as_batch=True, compare_type=True,
    )
    from portal.plugins.manager import init_migrations

    init_migrations()
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)

    from portal import i18n, jobs, security

    i18n.init_app(app, babel)
    security.init_app(app)
    jobs.init_app(app)

    from portal import errors
    from portal.applications.blueprint import bp as applications_bp
    from portal.backoffice.blueprint import bp as backoffice_bp
    from portal.catalogue.blueprint import bp as catalogue_bp
    from portal.core.blueprint import bp as core_bp
    from portal.identity.blueprint import bp as identity_bp
    from portal.notifications.blueprint import bp as notifications_bp

    app.register_blueprint(core_bp)
    app.register_blueprint(identity_bp)
    app.register_blueprint(catalogue_bp)
    app.register_blueprint(applications_bp)
    app.register_blueprint(backoffice_bp)
    app.register_blueprint(notifications_bp)
    errors.init_app(app)

    from portal import templating
    from portal.identity import auth
    from portal.plugins import manager

    auth.init_app(app)
    templating.init_app(app)
    manager.init_app(app)
    from portal import payments

    payments.init_app(app)
    from portal import receipts

    receipts.init_app(app)
    from portal import audit

    audit.init_app(app)

    from portal.cli import register_commands

    register_commands(app)
    return app


def _normalise_config(app: Flask) -> None:
    cfg = app.config
    cfg["ENVIRONMENT"] = str(cfg.get("ENVIRONMENT") or "production")
    debug_asked = cfg.get("DEBUG") or os.environ.get("FLASK_DEBUG", "").lower() in {"1", "true"}
    if debug_asked and cfg["ENVIRONMENT"] != "development":
        # Also catches `portal --debug run` and FLASK_DEBUG, which Flask applies later.
        raise RuntimeError("Debug mode is only allowed with PORTAL_ENVIRONMENT=development.")
    from portal.identity.passwords import HASHERS

    hashing = cfg.get("PASSWORD_HASHING") or "standard"
    if hashing not in HASHERS or (hashing != "standard" and cfg["ENVIRONMENT"] != "testing"):
        raise RuntimeError("PASSWORD_HASHING must be 'standard' (only the tests may lower it).")
    cfg["PASSWORD_HASHING"] = hashing

    database_url = cfg.get("DATABASE_URL") or cfg.get("SQLALCHEMY_DATABASE_URI")
    if not database_url:
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        database_url = f"sqlite:///{Path(app.instance_path) / 'portal.db'}"
    if database_url.startswith(("postgres://", "postgresql://")):
        # psycopg 3 is the driver we ship; the bare scheme would ask for psycopg2.
        database_url = "postgresql+psycopg://" + database_url.split("://", 1)[1]
    cfg["SQLALCHEMY_DATABASE_URI"] = database_url
    cfg["DATABASE_URL"] = database_url
    engine_options = dict(cfg.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if database_url.startswith("sqlite"):
        engine_options.setdefault(
            "connect_args", {"timeout": cfg["SQLITE_BUSY_TIMEOUT"], "check_same_thread": False}
        )
    else:
        engine_options.setdefault("pool_pre_ping", True)
    cfg["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options
    cfg["EMBEDDED"] = database_url.startswith("sqlite")

    if not cfg.get("SECRET_KEY"):
        if cfg["ENVIRONMENT"] != "development" and not cfg["EMBEDDED"]:
            raise RuntimeError("Set PORTAL_SECRET_KEY: a production database needs a fixed key.")
        cfg["SECRET_KEY"] = _instance_secret(app)

    if not cfg.get("UPLOAD_FOLDER"):
        cfg["UPLOAD_FOLDER"] = str(Path(app.instance_path) / "uploads")
    services = cfg.get("SERVICES")
    if isinstance(services, str):
        cfg["SERVICES"] = [s.strip() for s in services.split(",") if s.strip()]
    if isinstance(cfg.get("LANGUAGES"), str):
        cfg["LANGUAGES"] = [s.strip() for s in cfg["LANGUAGES"].split(",")]


def _instance_secret(app: Flask) -> str:
    """A random key kept in the instance folder, for the embedded default."""
    path = Path(app.instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key
