"""Pay a government bill (Treasury): a built-in service, registered through the
``portal.services`` entry point exactly like a third-party plugin."""
