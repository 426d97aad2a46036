"""Routes of the notifications area."""

from __future__ import annotations

from flask import Blueprint

from portal.notifications import views

bp = Blueprint("notifications", __name__)

bp.add_url_rule("/dev/mailbox", "mailbox", views.mailbox)
bp.add_url_rule("/dev/mailbox/<int:email_id>", "mailbox_message", views.mailbox_message)
