"""Operator commands sign their caller with the operators' own key (EGOV_OPERATOR_KEY_FILE), which
operators hold and services never do (services verify with its public half): kept apart from
services.common.caller_proof so that no service imports, or is given, the variable naming it."""

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from services.common.caller import OPERATOR as OPERATOR_CALLER
from services.common.caller_proof import OPERATOR, CallerSigner
from services.common.config import ConfigError

OPERATOR_KEY = "EGOV_OPERATOR_KEY_FILE"


def sign_as_operator(service: str, method: str, request: Any,
                     environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The operator caller for one operator command's RPC, signed with the operators' key (the file
    named by EGOV_OPERATOR_KEY_FILE in `environ`, the process's environment by default)."""
    name = (environ if environ is not None else os.environ).get(OPERATOR_KEY, "")
    if not name:
        raise ConfigError(f"{OPERATOR_KEY} is not set: operator commands are signed with the operators' key")
    try:
        signer = CallerSigner.from_file(Path(name), OPERATOR)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{OPERATOR_KEY}: cannot read an Ed25519 private key from {name}: {exc}") from exc
    return signer.sign(OPERATOR_CALLER, service, method, request)
