"""A CycloneDX 1.6 bill of materials of the Debian packages installed in a root file system.

    python3 -m deploy.docker.deb_sbom ROOTFS NAME > sbom.cdx.json

build-images.sh runs it on each debootstrapped root before `docker import`, so every image carries
the list of Debian packages it was made from (the platform image adds its Python packages, from
cyclonedx-py). Each package becomes a component with its purl (pkg:deb/debian/NAME@VERSION?arch=A);
the output is stable for the same packages (no timestamp, sorted), so two builds can be compared.
Standard library only: it runs on the host before any virtualenv exists.
"""

import hashlib
import json
import sys
import urllib.parse
import uuid
from pathlib import Path
from typing import Any


def installed_packages(status_file: Path) -> list[dict[str, str]]:
    """dpkg's status file: one stanza per package; only those whose status ends in 'installed'."""
    packages = []
    for stanza in status_file.read_text(encoding="utf-8", errors="replace").split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line and not line[0].isspace() and ":" in line:
                name, _, value = line.partition(":")
                fields[name] = value.strip()
        if fields.get("Package") and fields.get("Status", "").endswith(" installed"):
            packages.append(fields)
    return sorted(packages, key=lambda f: (f["Package"], f.get("Architecture", "")))


def bill_of_materials(rootfs: Path, name: str) -> dict[str, Any]:
    components = []
    for fields in installed_packages(rootfs / "var/lib/dpkg/status"):
        package, version, arch = fields["Package"], fields.get("Version", ""), fields.get("Architecture", "")
        purl = f"pkg:deb/debian/{package}@{urllib.parse.quote(version, safe='')}?arch={arch}"
        component: dict[str, Any] = {"type": "library" if package.startswith("lib") else "application",
                                     "bom-ref": purl, "name": package, "version": version, "purl": purl}
        if fields.get("Source"):
            component["properties"] = [{"name": "debian:source", "value": fields["Source"]}]
        components.append(component)
    digest = hashlib.sha256(json.dumps(components, sort_keys=True).encode()).hexdigest()
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": f"urn:uuid:{uuid.UUID(digest[:32])}",
        "version": 1,
        "metadata": {"component": {"type": "operating-system", "name": name, "bom-ref": name}},
        "components": components,
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python3 -m deploy.docker.deb_sbom ROOTFS NAME", file=sys.stderr)
        return 2
    rootfs, name = Path(argv[0]), argv[1]
    if not (rootfs / "var/lib/dpkg/status").is_file():
        print(f"{rootfs}: no var/lib/dpkg/status: not a Debian root file system", file=sys.stderr)
        return 1
    json.dump(bill_of_materials(rootfs, name), sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
