"""`python -m gateway`: run the platform's gRPC gateway (settings: gateway/config.py)."""

import sys

from gateway.server import serve
from services.common.config import ConfigError

try:
    serve()
except ConfigError as exc:
    sys.exit(f"gateway: {exc}")
