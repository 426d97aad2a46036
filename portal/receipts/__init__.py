"""Receipts and credit notes: numbering, rendering, signing and verification."""

from __future__ import annotations

from typing import Any


def init_app(app: Any) -> None:
    import portal.receipts.models  # noqa: F401 - part of the schema
    from portal.receipts.blueprint import bp

    app.register_blueprint(bp)
