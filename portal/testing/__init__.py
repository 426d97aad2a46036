"""Test support for the portal and for service plugins.

Installed as the pytest plugin ``portal`` (entry point ``pytest11``), so any project that
installs the portal gets the fixtures: ``app``, ``client``, ``db_session``, ``smtp_sink``,
``live_server``, ``create_user``, ``create_department``, ``create_staff``, ``sign_in``
and ``sign_in_staff``. See ``portal.testing.plugin`` for each.
"""
