"""The shipments database and the postal operator's HTTP API."""
