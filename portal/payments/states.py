"""One compare-and-set for every state machine of the payments ledger.

Payments and refunds change state the same way: the move must be one the state machine
allows from the state read, and it happens only if the row is still in that state
(``UPDATE ... WHERE id = :id AND state = :read``). The loser of a race learns it from
the row count and gets the winner's row, never a second change.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from sqlalchemy import update

from portal.extensions import db


def compare_and_set(obj: Any, moves: Mapping[Any, frozenset[Any]], target: enum.Enum,
                    illegal: type[Exception], **values: Any) -> bool:
    """Move ``obj`` (a mapped row with ``id`` and ``state``) to ``target`` if still in
    the state read, setting ``values`` with it.

    ``moves`` maps each state to the states it may go to; ``illegal`` is raised for a move
    it forbids (a final state never changes). Returns False when another request moved
    the row first (``obj`` is then refreshed); on success ``obj`` carries the new values.
    """
    model = type(obj)
    source = type(target)(obj.state)
    if target not in moves[source]:
        raise illegal(f"{source} -> {target}")
    changes = {"state": target.value, **values}
    moved = db.session.execute(
        update(model).where(model.id == obj.id, model.state == source.value)
        .values(**changes).execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        db.session.refresh(obj)
        return False
    for name, value in changes.items():
        setattr(obj, name, value)
    return True
