"""``portal receipts ...``: issuing, verifying and the signing keys."""

from __future__ import annotations

import click


@click.group("receipts")
def receipts_group() -> None:
    """Receipts and credit notes."""
