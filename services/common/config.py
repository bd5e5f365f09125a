"""Configuration from the environment, with local defaults, checked at start-up."""

import os


class ConfigError(RuntimeError):
    pass


def env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None or value == "":
        raise ConfigError(f"environment variable {name} is required")
    return value


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"environment variable {name} must be a number, got {raw!r}") from exc


def amqp_uri() -> str:
    return env("EGOV_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")


def mongo_uri() -> str:
    return env("EGOV_MONGO_URI", "mongodb://127.0.0.1:27017/?directConnection=true")


def database_name(service: str) -> str:
    return env(f"EGOV_{service.upper()}_DB", f"egov_{service}")
