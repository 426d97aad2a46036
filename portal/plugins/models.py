"""Services switched off while running, shared by every app process."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from portal.database import UTCDateTime, utcnow
from portal.extensions import db


class ServiceSwitch(db.Model):
    """A plugin switched off after failing requests; deleting the row switches it on."""

    __tablename__ = "service_switches"

    #: The plugin's entry-point name.
    entry_point: Mapped[str] = mapped_column(String(40), primary_key=True)
    #: The error's type and id (never its message, which may hold personal data).
    reason: Mapped[str] = mapped_column(String(300))
    switched_off_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
