"""Routes of receipts: download, verification and the published keys."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("receipts", __name__)
