"""Routes of receipts: download, verification and the published keys."""

from __future__ import annotations

from flask import Blueprint

from portal.extensions import limiter
from portal.identity.auth import signed_in_required
from portal.receipts import downloads, views

bp = Blueprint("receipts", __name__)

# Typed codes are limited per address (guessing); scanned payloads are GETs, which cannot
# be guessed (only our keys sign them) and are left to the portal's rule for reads.
_verify_limited = limiter.limit(views.verify_rate_limit, methods=["POST"])
bp.add_url_rule("/verify", "verify", _verify_limited(views.verify), methods=["GET", "POST"])
bp.add_url_rule("/.well-known/receipt-keys.json", "keys", views.published_keys)
bp.add_url_rule("/applications/<reference>/receipts/<public_id>.pdf", "download",
                signed_in_required(downloads.download_receipt))
