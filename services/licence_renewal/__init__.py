"""Renew a driving licence (Transport Department): a built-in service, registered through
the ``portal.services`` entry point exactly like a third-party plugin."""
