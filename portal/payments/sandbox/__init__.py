"""The built-in sandbox payment provider: a pretend hosted payment page.

It behaves like a real provider: it keeps its own records (``sandbox_payments``), serves
its own pages at ``/sandbox-pay/<reference>`` and answers ``fetch_status`` from those
records only. Test card numbers choose the outcome (see ``cards``); FPS shows a pretend
QR code, then the citizen says they paid (see ``fps``). It is refused in
production unless ``SANDBOX_PAYMENTS_IN_PRODUCTION`` is set.

It is contributed through the hook ``register_payment_providers`` (``plugin.py``); nothing
here runs until that hook is called.
"""
