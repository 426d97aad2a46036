"""Binding a step's form to posted data, as the portal does for each step."""

from __future__ import annotations

from typing import Any


def posted(app: Any, form_class: type, data: dict[str, Any], **kwargs: Any) -> Any:
    """``form_class`` bound to ``data`` posted in a request, validated (CSRF off)."""
    with app.test_request_context(method="POST", data=data):
        form = form_class(meta={"csrf": False}, **kwargs)
        form.validate()
        # Messages are lazy: read them while the request (and its language) is there.
        form.messages = {name: [str(error) for error in errors]
                         for name, errors in form.errors.items()}
        return form
