"""Get a certified copy of a birth record (Immigration Department): a built-in service,
registered through the ``portal.services`` entry point exactly like a third-party plugin."""
