"""Access tokens signed with identity's private key (the gateway holds the public one)."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from services.common.caller import Caller
from services.common.config import ConfigError, env, env_float
from services.common.tokens import issue_token

DEFAULT_TTL_SECONDS = 3600.0


@dataclass(frozen=True)
class TokenSigner:
    private_key_pem: bytes
    ttl: timedelta

    def issue(self, caller: Caller, epoch: int = 0, methods: tuple[str, ...] = ("pwd",)) -> tuple[str, datetime]:
        return issue_token(self.private_key_pem, caller, self.ttl, epoch=epoch, methods=methods)

    @classmethod
    def from_environment(cls) -> "TokenSigner":
        path = Path(env("EGOV_TOKEN_PRIVATE_KEY_FILE"))
        try:
            key = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"EGOV_TOKEN_PRIVATE_KEY_FILE: cannot read {path}: {exc.strerror}") from exc
        ttl = env_float("EGOV_TOKEN_TTL_SECONDS", DEFAULT_TTL_SECONDS)
        if ttl <= 0:
            raise ConfigError(f"EGOV_TOKEN_TTL_SECONDS must be positive, got {ttl}")
        return cls(private_key_pem=key, ttl=timedelta(seconds=ttl))
