"""The gateway's settings from the environment, checked once at start-up."""

from dataclasses import dataclass
from pathlib import Path

from services.common.config import ConfigError, amqp_uri, env, env_float

MIB = 1024 * 1024


def env_int(name: str, default: int, minimum: int = 1) -> int:
    value = env_float(name, default)
    if value != int(value) or value < minimum:
        raise ConfigError(f"environment variable {name} must be a whole number >= {minimum}, got {value}")
    return int(value)


def env_seconds(name: str, default: float) -> float:
    value = env_float(name, default)
    if value <= 0:
        raise ConfigError(f"environment variable {name} must be a positive number of seconds, got {value}")
    return value


@dataclass(frozen=True)
class GatewayConfig:
    address: str
    workers: int
    max_message_bytes: int
    default_deadline: float
    max_deadline: float
    grace: float
    amqp_uri: str
    token_public_key: bytes

    @classmethod
    def from_env(cls) -> "GatewayConfig":
        key_file = Path(env("EGOV_TOKEN_PUBLIC_KEY_FILE"))
        try:
            token_public_key = key_file.read_bytes()
        except OSError as exc:
            raise ConfigError(f"EGOV_TOKEN_PUBLIC_KEY_FILE: cannot read {key_file}: {exc.strerror}") from exc
        config = cls(
            address=env("EGOV_GATEWAY_ADDRESS", "0.0.0.0:50051"),
            workers=env_int("EGOV_GATEWAY_WORKERS", 64),
            max_message_bytes=env_int("EGOV_GATEWAY_MAX_MESSAGE_BYTES", 4 * MIB),
            default_deadline=env_seconds("EGOV_GATEWAY_DEFAULT_DEADLINE_SECONDS", 10),
            max_deadline=env_seconds("EGOV_GATEWAY_MAX_DEADLINE_SECONDS", 30),
            grace=env_seconds("EGOV_GATEWAY_GRACE_SECONDS", 5),
            amqp_uri=amqp_uri(),
            token_public_key=token_public_key,
        )
        if config.default_deadline > config.max_deadline:
            raise ConfigError("EGOV_GATEWAY_DEFAULT_DEADLINE_SECONDS must not exceed "
                              "EGOV_GATEWAY_MAX_DEADLINE_SECONDS")
        return config
