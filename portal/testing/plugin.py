"""Pytest fixtures for the portal and its service plugins.

The database: SQLite in a temporary folder, or PostgreSQL when
``PORTAL_TEST_DATABASE_URL`` names a server (a fresh database is created for the run and
dropped after). The schema is built by the real migrations, once per run; every test
starts from empty tables. Email goes over real SMTP to an aiosmtpd server.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

DEFAULT_PASSWORD = "Correct-Horse-Battery-42"  # noqa: S105 - test accounts only
TEST_SECRET_KEY = "test-secret-key-not-for-production-0123456789abcdef"  # noqa: S105


def pytest_report_header(config: pytest.Config) -> str:
    url = os.environ.get("PORTAL_TEST_DATABASE_URL")
    return f"portal database: {_redact(url) if url else 'SQLite (temporary file)'}"


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _normalise(url: str) -> str:
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


@pytest.fixture(scope="session")
def portal_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a database for this test run, created empty."""
    server = os.environ.get("PORTAL_TEST_DATABASE_URL")
    if not server:
        path = tmp_path_factory.mktemp("db") / "portal-test.db"
        yield f"sqlite:///{path}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin_url = make_url(_normalise(server))
    name = f"portal_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def smtp_sink() -> Iterator[Any]:
    """A real SMTP server on 127.0.0.1 that keeps every message (``.messages``)."""
    from portal.testing.smtp import SMTPSink

    sink = SMTPSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def portal_config() -> dict[str, Any]:
    """Extra settings for the test app; override this fixture in a plugin's conftest."""
    return {}


@pytest.fixture(scope="session")
def app(
    tmp_path_factory: pytest.TempPathFactory,
    portal_database_url: str,
    smtp_sink: Any,
    portal_config: dict[str, Any],
) -> Iterator[Any]:
    """The portal application, migrated to the latest schema."""
    from flask_migrate import upgrade

    from portal import create_app

    config = {
        "TESTING": True,
        "ENVIRONMENT": "testing",
        "SECRET_KEY": TEST_SECRET_KEY,
        "INSTANCE_PATH": str(tmp_path_factory.mktemp("instance")),
        # Receipts are written under the temporary instance folder, never a real one.
        "RECEIPTS_FOLDER": "",
        "DATABASE_URL": portal_database_url,
        "MAIL_BACKEND": "smtp",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": smtp_sink.port,
        "MAIL_TIMEOUT": 5,
        "PUBLIC_BASE_URL": "",
        "CELERY_BROKER_URL": "",
        "RATELIMIT_STORAGE_URI": "memory://",
        # Cheap argon2id parameters: a sign-in costs ~1 ms instead of ~0.1 s (the suite
        # signs in over a thousand times). tests/identity checks the standard profile.
        "PASSWORD_HASHING": "fast-for-tests",
        **portal_config,
    }
    application = create_app(config)
    from portal.testing.client import IsolatedClient

    application.test_client_class = IsolatedClient
    with application.app_context():
        upgrade(revision="heads")
    yield application
    from portal.extensions import db

    with application.app_context():
        db.engine.dispose()


def _empty_tables(application: Any) -> None:
    from sqlalchemy import text

    from portal.extensions import db

    with application.app_context():
        db.session.remove()
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        # DELETE, children first, on both databases: on tables holding a few rows it is
        # several times faster than PostgreSQL's TRUNCATE (which rewrites files), and it
        # runs before every test. Ids are not restarted: no test may count on them.
        with db.engine.begin() as conn:
            for table in tables:
                # Names come from the models' metadata, never from input.
                conn.execute(text(f"DELETE FROM {table}"))  # noqa: S608


@pytest.fixture(autouse=True)
def _portal_isolation(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tests that use the app start with empty tables, fresh rate limits and no mail."""
    if "app" not in request.fixturenames:
        yield
        return
    application = request.getfixturevalue("app")
    sink = request.getfixturevalue("smtp_sink")
    from portal.extensions import limiter

    _empty_tables(application)
    registry = application.extensions.get("portal_services")
    if registry is not None:  # services switched off by a test come back for the next
        registry.switched_off.clear()
        registry.failures.clear()
        registry._refreshed_at = float("-inf")
    with application.app_context():
        limiter.reset()
    sink.clear()
    if not sink.running:
        sink.start()
    from portal.extensions import db

    with application.app_context():
        yield
        db.session.remove()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def db_session(app: Any) -> Any:
    from portal.extensions import db

    return db.session


@pytest.fixture(scope="session")
def live_server(app: Any) -> Iterator[str]:
    """The app served over real HTTP on 127.0.0.1, for browser tests; yields the base URL."""
    from werkzeug.serving import make_server

    from portal.testing.smtp import free_port

    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    app.config["PUBLIC_BASE_URL"] = base
    yield base
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def create_department(app: Any) -> Callable[..., Any]:
    def factory(code: str = "TD", name_en: str = "Transport Department",
                name_zh: str = "運輸署") -> Any:
        from sqlalchemy import select

        from portal.extensions import db
        from portal.identity.models import Department

        existing = db.session.scalar(select(Department).where(Department.code == code))
        if existing is not None:
            return existing
        department = Department(code=code, name_en=name_en, name_zh=name_zh)
        db.session.add(department)
        db.session.commit()
        return department

    return factory


@pytest.fixture
def create_user(app: Any) -> Callable[..., Any]:
    """Make an account: ``create_user(email=..., role="officer", department=dept, ...)``."""

    def factory(
        email: str = "citizen@example.com",
        password: str | None = DEFAULT_PASSWORD,
        *,
        name_en: str = "CHAN Tai Man",
        name_zh: str | None = "陳大文",
        role: str = "citizen",
        department: Any = None,
        confirmed: bool = True,
        preferred_language: str = "en",
        totp_secret: str | None = None,
        **profile: Any,
    ) -> Any:
        from portal.database import utcnow
        from portal.extensions import db
        from portal.identity import util
        from portal.identity.models import Role, User

        user = User(
            email=email.lower(),
            name_en=name_en,
            name_zh=name_zh,
            role=Role(role),
            department_id=department.id if department is not None else None,
            preferred_language=preferred_language,
            email_confirmed_at=utcnow() if confirmed else None,
            **profile,
        )
        if password:
            util.set_password(user, password)
        if totp_secret:
            util.set_totp_secret(user, totp_secret)
        db.session.add(user)
        db.session.commit()
        return user

    return factory


@pytest.fixture
def create_staff(create_user: Callable[..., Any], create_department: Callable[..., Any]) -> Any:
    """Make a staff member with a confirmed TOTP secret (``user.test_totp_secret``)."""

    def factory(email: str = "officer@example.com", role: str = "officer",
                department_code: str | None = "TD", **kwargs: Any) -> Any:
        import pyotp

        secret = kwargs.pop("totp_secret", None) or pyotp.random_base32()
        needs_department = department_code and role != "portal_admin"
        department = create_department(department_code) if needs_department else None
        user = create_user(email, role=role, department=department, totp_secret=secret, **kwargs)
        user.test_totp_secret = secret
        return user

    return factory


def current_totp(secret: str, used_step: int | None = None) -> str:
    """A code for ``secret`` that the portal will accept (a step not used before)."""
    from portal.identity.util import TOTP

    totp = TOTP(secret)
    step = int(time.time()) // totp.interval
    if used_step is not None and step <= used_step:
        step = used_step + 1
    return totp.generate_otp(step)


@pytest.fixture
def sign_in(app: Any) -> Callable[..., Any]:
    """Sign a citizen in through the real form: ``sign_in(client, email, password)``."""
    from portal.testing.helpers import post_form

    def do(client: Any, email: str = "citizen@example.com",
           password: str = DEFAULT_PASSWORD) -> Any:
        response = post_form(client, "/sign-in", {"email": email, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
        return response

    return do


@pytest.fixture
def sign_in_staff(app: Any) -> Callable[..., Any]:
    """Sign staff in with password and TOTP: ``sign_in_staff(client, user)``."""
    from portal.testing.helpers import post_form

    def do(client: Any, user: Any, password: str = DEFAULT_PASSWORD) -> Any:
        from portal.extensions import db
        from portal.identity.models import User

        response = post_form(client, "/sign-in", {"email": user.email, "password": password})
        assert response.status_code == 302
        assert "/sign-in/security-code" in response.headers["Location"]
        fresh = db.session.get(User, user.id)
        db.session.refresh(fresh)
        code = current_totp(user.test_totp_secret, fresh.totp_last_step)
        response = post_form(client, "/sign-in/security-code", {"code": code})
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
        return response

    return do
