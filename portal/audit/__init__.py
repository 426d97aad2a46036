"""The audit log: who did what to which record, chained by SHA-256 so that a row altered
or removed afterwards is found by ``portal audit verify``.

Call :func:`portal.audit.log.record` inside the transaction of the action it describes:
the event is committed with the action or rolled back with it.
"""

from __future__ import annotations

from typing import Any


def init_app(app: Any) -> None:
    import portal.audit.models  # noqa: F401 - part of the schema
