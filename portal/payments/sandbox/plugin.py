"""The sandbox as a plugin: the hook ``register_payment_providers``.

Refused in production (``ENVIRONMENT == "production"``) unless
``SANDBOX_PAYMENTS_IN_PRODUCTION`` is set: then it contributes nothing and serves no
pages.
"""

from __future__ import annotations

import logging
from typing import Any

# The table is part of the schema even where the provider is refused: Alembic must know it.
import portal.payments.sandbox.models  # noqa: F401
from portal.plugins.hookspecs import hookimpl

log = logging.getLogger("portal.payments.sandbox")


def allowed(app: Any) -> bool:
    return app.config.get("ENVIRONMENT") != "production" or bool(
        app.config.get("SANDBOX_PAYMENTS_IN_PRODUCTION")
    )


@hookimpl
def register_payment_providers(app: Any) -> list[Any]:
    """The sandbox provider, and its pages at ``/sandbox-pay/`` (not in production)."""
    if not allowed(app):
        log.warning("sandbox payment provider refused: ENVIRONMENT is production "
                    "(set SANDBOX_PAYMENTS_IN_PRODUCTION to allow it, never with real users)")
        return []
    from portal.payments.sandbox.blueprint import bp
    from portal.payments.sandbox.provider import SandboxProvider

    if bp.name not in app.blueprints:
        app.register_blueprint(bp)
    return [SandboxProvider()]
