"""Security headers, cookie flags, cache rules and safe redirects for every response."""

from __future__ import annotations

import io
import secrets
from urllib.parse import urlsplit

from flask import Flask, abort, g, request
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response


class PortalSessionInterface(SecureCookieSessionInterface):
    """Marks the session cookie Secure whenever the request came over TLS."""

    def get_cookie_secure(self, app: Flask) -> bool:  # type: ignore[override]
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)


def csp_nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def is_safe_next(target: str | None) -> bool:
    """Only a path on this portal is a safe place to go after sign-in.

    Refuses absolute URLs, scheme-relative ``//host`` and backslash tricks that browsers
    read as another host.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return False
    if "\\" in target or any(ord(ch) < 32 for ch in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def safe_next(target: str | None, default: str) -> str:
    return target if is_safe_next(target) else default


def init_body_limit(app: Flask) -> None:
    """Answer 413 to an over-large chunked body too.

    With no Content-Length, Werkzeug stops reading at MAX_CONTENT_LENGTH and parses what
    it got, silently cutting the body short. The body is read here first, before CSRF
    protection parses the form, so that a body over the limit is refused whole.
    """

    @app.before_request
    def _limit_chunked_body() -> None:
        limit = app.config.get("MAX_CONTENT_LENGTH")
        if not limit or "chunked" not in request.headers.get("Transfer-Encoding", "").lower():
            return
        data = request.environ["wsgi.input"].read(limit + 1)
        if len(data) > limit:
            abort(413)
        request.environ["wsgi.input"] = io.BytesIO(data)
        request.environ["wsgi.input_terminated"] = True


def init_app(app: Flask) -> None:
    app.session_interface = PortalSessionInterface()
    hops = int(app.config.get("PROXY_FIX_HOPS") or 0)
    if hops:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops
        )
    app.jinja_env.globals["csp_nonce"] = csp_nonce

    @app.after_request
    def _security_headers(response: Response) -> Response:
        nonce = g.get("csp_nonce")
        script_src = "'self'" + (f" 'nonce-{nonce}'" if nonce else "")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; "
            f"script-src {script_src}; "
            "style-src 'self'; img-src 'self' data:; font-src 'self'; "
            "connect-src 'self'; object-src 'none'; base-uri 'self'; "
            "form-action 'self'; frame-ancestors 'none'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"
        )
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if request.is_secure:
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )
        if request.endpoint != "static":
            # A page's wording depends on the language cookie and the browser's languages.
            response.vary.update(("Cookie", "Accept-Language"))
            personal = g.get("personal_page") or current_user.is_authenticated
            if personal or "Cache-Control" not in response.headers:
                response.headers["Cache-Control"] = "no-store" if personal else "no-cache"
        return response
