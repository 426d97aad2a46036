"""Hook specifications: the one place that says what a plugin can contribute or hear.

Bodies are docstrings only. ``register_*`` hooks contribute things; events, added as the
platform raises them, are named in the past tense (``application_submitted``).
A test fails when a hook here has no docstring, or when the plugin guide does not name it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from portal.plugins.service import ServiceDefinition

PROJECT = "portal"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_services() -> list[ServiceDefinition]:  # type: ignore[empty-body]
    """Contribute e-services to the portal.

    Called once when the application starts, for each plugin found through the
    ``portal.services`` entry point group (and allowed by ``PORTAL_SERVICES``). A plugin
    that raises here, or returns something that is not a valid ``ServiceDefinition``, is
    disabled and reported; the other plugins and the portal go on.

    :return: the plugin's service definitions (usually one).
    """


@hookspec
def application_submitted(application: Any) -> None:
    """A citizen submitted an application (after the transaction committed).

    Called for every loaded plugin, whichever service the application belongs to; check
    ``application.service``. Do slow work in a background job. An exception here is
    logged and does not undo the submission.

    :param application: the new ``Application`` (reference, service, state, answers).
    """


@hookspec
def application_transitioned(application: Any, event: Any) -> None:
    """An application moved from one workflow state to another (after commit).

    :param application: the ``Application``, already in its new state.
    :param event: the ``ApplicationEvent`` recording the move: ``action``,
        ``from_state``, ``to_state``, ``actor_role`` and ``created_at``.
    """


@hookspec
def register_demo_data() -> int:  # type: ignore[empty-body]
    """Add this plugin's own demo records (say, bills to pay) to the embedded demo.

    Called by ``portal demo`` after the core's demo accounts and departments exist, only on
    the embedded default (SQLite). Must be idempotent: running it twice adds nothing new.
    The caller commits.

    :return: how many new records were added.
    """


@hookspec
def register_payment_providers(app: Any) -> list[Any]:  # type: ignore[empty-body]
    """Contribute payment providers (the built-in sandbox is one).

    Called once when the application starts. A provider has a ``name`` and the methods
    of ``portal.payments.providers.PaymentProvider``: ``create_payment(request)`` returns
    the provider's reference and page, ``fetch_status(reference)`` its answer. A provider
    that serves pages of its own may register a blueprint on ``app`` here.
    ``PAYMENT_PROVIDER`` chooses which one payments use.

    :param app: the Flask application being built.
    :return: the plugin's providers.
    """
