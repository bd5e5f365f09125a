"""Configuration from the environment, with local defaults, checked at start-up.

A ConfigError that reaches the top of a process (a missing variable or Secret file, found while a
service sets up) ends it with one line naming the setting, not a traceback: what an operator reads
in `kubectl logs` or `docker compose logs` for a container that will not start.
"""

import os
import sys
from types import TracebackType


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


def _config_error_in(error: BaseException | None) -> "ConfigError | None":
    while error is not None and not isinstance(error, ConfigError):
        error = error.__cause__ or error.__context__
    return error


def _one_line_for_config_errors(kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
    found = _config_error_in(error)
    if found is None:
        _default_excepthook(kind, error, tb)
        return
    program = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] not in ("", "-c") else "python"
    print(f"{program}: configuration: {found}", file=sys.stderr, flush=True)


_default_excepthook = sys.excepthook
sys.excepthook = _one_line_for_config_errors
