"""The service platform: hook specifications, the service contract and the plugin manager."""
