"""Payments: the ledger, the providers behind it, and the citizen's way to pay."""

from __future__ import annotations

from typing import Any


def init_app(app: Any) -> None:
    """Register the built-in sandbox, collect every plugin's providers, add the routes."""
    import portal.payments.models  # noqa: F401 - part of the schema
    from portal.payments.blueprint import bp
    from portal.payments.sandbox import plugin as sandbox
    from portal.plugins.manager import services

    registry = services(app)
    if registry.plugin_manager.get_plugin("portal.payments.sandbox") is None:
        registry.plugin_manager.register(sandbox, name="portal.payments.sandbox")
    found: dict[str, Any] = {}
    for contributed in registry.hook("register_payment_providers")(app=app):
        for provider in contributed or []:
            found[provider.name] = provider
    app.extensions["payment_providers"] = found
    if app.config["PAYMENT_PROVIDER"] not in found:
        # Citizens are told they cannot pay online now; nothing fails harder than that.
        app.logger.error("payments are unavailable: PAYMENT_PROVIDER %r is not installed",
                         app.config["PAYMENT_PROVIDER"])
    app.register_blueprint(bp)
