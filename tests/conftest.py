"""The portal's own tests use the fixtures of the ``portal.testing`` pytest plugin."""
