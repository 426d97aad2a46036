"""Documents issued on a decision (a renewed licence), through the receipts pipeline.

Placeholder contract for Step 4 (to be filled in): ``request_documents`` is called in the
transaction that approves an application; ``documents_for`` lists what was issued.
"""

from __future__ import annotations

from typing import Any


def request_documents(application: Any, definition: Any = None) -> list[Any]:
    """Ask for the documents the service issues on approval (none yet)."""
    return []


def documents_for(application: Any) -> list[Any]:
    """The documents issued for ``application`` (none yet)."""
    return []
