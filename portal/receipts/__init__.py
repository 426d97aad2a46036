"""Receipts, credit notes and documents issued on approval: numbering, rendering, signing
and verification."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("portal.receipts")


def init_app(app: Any) -> None:
    import portal.receipts.models  # noqa: F401 - part of the schema
    from portal.public_urls import LOCAL_ENVIRONMENTS
    from portal.receipts.blueprint import bp

    app.register_blueprint(bp)
    if (not app.config.get("PUBLIC_BASE_URL")
            and app.config.get("ENVIRONMENT") not in LOCAL_ENVIRONMENTS):
        # Said at start, not only when the first receipt fails: every receipt stays
        # pending (each attempt failing) until the address to print on them is set.
        log.error("PORTAL_PUBLIC_BASE_URL is not set: links in emails, payments and "
                  "receipts (their QR code and verify address) cannot be made; receipts "
                  "stay pending until it is set")
