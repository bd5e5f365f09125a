"""The units tree the index is read against: the unit file of the catalogue edition procedures
imports at start (services/procedures/catalogue_admin.py, DEFAULT_EDITION), or the file
EGOV_SUPERVISION_UNITS_FILE names; read once at start-up."""

import json
import os
from pathlib import Path

from services.common.config import ConfigError
from services.procedures.catalogue_admin import DEFAULT_EDITION, shipped_files
from services.procedures.domain.unit_file import parse_units
from services.procedures.domain.units import UnitTree


def load_units(path: str = "") -> UnitTree:
    name = path or os.environ.get("EGOV_SUPERVISION_UNITS_FILE", "") or str(shipped_files(DEFAULT_EDITION)[0])
    try:
        return parse_units(json.loads(Path(name).read_text(encoding="utf-8"))).tree
    except (OSError, ValueError) as exc:
        raise ConfigError(f"EGOV_SUPERVISION_UNITS_FILE: cannot read {name}: {exc}") from exc
