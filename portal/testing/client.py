"""A test client whose requests never share the test's application context.

Flask reuses an application context that is already pushed when a request starts. The
fixtures push one for the whole test (so tests can use ``db.session``), which would make
``g`` (the signed-in user, the CSRF token) and the database session leak from one request
into the next: not what a browser sees. Each request here runs in a copy of the context
variables with no application context, so Flask builds a fresh one as in production.
"""

from __future__ import annotations

import contextvars
from typing import Any

from flask.globals import _cv_app
from flask.testing import FlaskClient


class IsolatedClient(FlaskClient):
    def open(self, *args: Any, **kwargs: Any) -> Any:
        def run() -> Any:
            _cv_app.set(None)  # type: ignore[arg-type]
            return super(IsolatedClient, self).open(*args, **kwargs)

        return contextvars.copy_context().run(run)
