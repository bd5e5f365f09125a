"""Container entry and health-check scripts (run as python -m deploy.docker.<name>)."""
