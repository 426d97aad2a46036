"""Headers, cookies, error pages and health, as QUALITY.md asks."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from portal.testing.helpers import post_form


def test_security_headers_on_every_page(client):
    response = client.get("/")
    headers = response.headers
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'self'" in csp
    assert "script-src 'self' 'nonce-" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert len(headers["X-Request-ID"]) >= 8


def test_the_inline_script_carries_the_csp_nonce(client):
    response = client.get("/")
    nonce = response.headers["Content-Security-Policy"].split("'nonce-")[1].split("'")[0]
    assert f'<script nonce="{nonce}">' in response.get_data(as_text=True)


def test_session_cookie_is_httponly_and_samesite(client):
    client.get("/sign-in")
    cookie = client.get_cookie("portal_session")
    assert cookie.http_only
    assert cookie.same_site == "Lax"
    assert not cookie.secure


def test_session_cookie_is_secure_over_tls(client):
    response = client.get("/sign-in", base_url="https://portal.example")
    assert "Secure" in response.headers["Set-Cookie"]
    assert "max-age" in response.headers["Strict-Transport-Security"]


def test_an_incoming_request_id_is_kept_and_a_bad_one_replaced(client):
    assert client.get("/", headers={"X-Request-ID": "lb-1234567890"}).headers["X-Request-ID"] == "lb-1234567890"
    assert client.get("/", headers={"X-Request-ID": "<script>"}).headers["X-Request-ID"] != "<script>"


@pytest.mark.parametrize("lang", ["en", "zh-hk"])
def test_404_page_in_both_languages(client, lang):
    client.get(f"/language/{lang}")
    response = client.get("/no-such-page")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert ("Page not found" in page) == (lang == "en")
    assert ("找不到網頁" in page or "找不到" in page) == (lang == "zh-hk")


def test_405_answers_with_allow(client):
    response = client.post("/")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert "cannot be used that way" in response.get_data(as_text=True)


def test_a_500_shows_an_error_id_and_never_a_trace(app, client, monkeypatch):
    def broken():
        raise RuntimeError("secret internals")

    monkeypatch.setitem(app.view_functions, "core.help", broken)
    response = client.get("/help")
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert response.headers["X-Request-ID"] in page
    assert "secret internals" not in page
    assert "Traceback" not in page
    assert "Sorry, there is a problem with the service" in page


def test_413_for_an_oversized_body(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    try:
        response = client.post("/sign-in", data={"email": "x" * 5000})
    finally:
        app.config["MAX_CONTENT_LENGTH"] = 10 * 1024 * 1024
    assert response.status_code == 413
    assert "too large" in response.get_data(as_text=True)


def test_413_for_an_oversized_chunked_body(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    try:
        response = client.post(
            "/sign-in",
            input_stream=__import__("io").BytesIO(b"email=" + b"x" * 5000),
            headers={"Transfer-Encoding": "chunked",
                     "Content-Type": "application/x-www-form-urlencoded"},
            # What a WSGI server says of a de-chunked body with no Content-Length.
            environ_overrides={"wsgi.input_terminated": True},
        )
    finally:
        app.config["MAX_CONTENT_LENGTH"] = 10 * 1024 * 1024
    assert response.status_code == 413


def test_healthz_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_database_outage_gives_503_and_recovers_without_restart(app, client, monkeypatch):
    from sqlalchemy.orm import Session

    real_execute = Session.execute

    def down(self, *args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(Session, "execute", down)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"
    # Pages that need no database keep working during the outage.
    page = client.get("/sign-in?x=1")
    monkeypatch.setattr(Session, "execute", real_execute)
    assert client.get("/healthz").status_code == 200
    assert page.status_code == 200


def test_a_database_error_in_a_page_gives_the_friendly_503(app, client, create_user, sign_in, monkeypatch):
    create_user()
    sign_in(client)
    from sqlalchemy.orm import Session

    def down(self, *args, **kwargs):
        raise OperationalError("SELECT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(Session, "execute", down)
    monkeypatch.setattr(Session, "scalar", down)
    response = client.get("/dashboard")
    assert response.status_code == 503
    assert "Sorry, the service is unavailable" in response.get_data(as_text=True)


def test_debug_is_refused_outside_development():
    from portal import create_app

    with pytest.raises(RuntimeError, match="Debug mode"):
        create_app({"DEBUG": True, "ENVIRONMENT": "production", "DATABASE_URL": "sqlite://",
                    "SECRET_KEY": "x" * 32})


def test_production_database_needs_a_secret_key(monkeypatch):
    from portal import create_app

    monkeypatch.delenv("PORTAL_SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="PORTAL_SECRET_KEY"):
        create_app({"DATABASE_URL": "postgresql://localhost/none"})


def test_portal_environment_variables_override_defaults(monkeypatch, tmp_path):
    from portal import create_app

    monkeypatch.setenv("PORTAL_MAIL_PORT", "2525")
    monkeypatch.setenv("PORTAL_SERVICES", "licence_renewal, bills")
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["MAIL_PORT"] == 2525
    assert app.config["SERVICES"] == ["licence_renewal", "bills"]
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_sign_out_needs_a_csrf_token(client, create_user, sign_in):
    create_user()
    sign_in(client)
    assert client.post("/sign-out").status_code == 400
    assert client.get("/dashboard").status_code == 200
    assert post_form(client, "/sign-out", {}, form_url="/dashboard").status_code == 302
