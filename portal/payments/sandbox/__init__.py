"""The built-in sandbox payment provider: a pretend hosted payment page.

It behaves like a real provider: it keeps its own records (``sandbox_payments``), serves
its own pages at ``/sandbox-pay/<reference>`` and answers ``fetch_status`` from those
records only. Test card numbers choose the outcome (see ``cards``); FPS shows a pretend
QR code, then the citizen says they paid (see ``fps``). It is refused in
production unless ``SANDBOX_PAYMENTS_IN_PRODUCTION`` is set.

When a payment becomes final it sends the portal a signed webhook over HTTP from a
background job, retried with back-off and sometimes sent twice (see ``webhooks``); it
refunds succeeded payments once per refund id, never more than was paid (see
``refunds``). Its settings, all read on each call, are listed in ``provider``.

It is contributed through the hook ``register_payment_providers`` (``plugin.py``); nothing
here runs until that hook is called.
"""
