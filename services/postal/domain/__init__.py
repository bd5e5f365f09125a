"""The postal rules: tracking numbers, the shipment's status progression, callback authentication."""
