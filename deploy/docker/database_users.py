"""One-shot set-up for docker compose (the `database-users` service): one MongoDB user per component,
with `readWrite` on its own database only (deploy/users.py), made or updated with the root user of
EGOV_MONGO_ROOT_URI. Each password comes from EGOV_<COMPONENT>_MONGO_PASSWORD (deploy/compose.env), so
a password changed there applies at the next `make up`. Works the same against MongoDB and the
SecantusDB stand-in. In Kubernetes the MongoDB operator makes the same users (k8s/overlays/prod).

A missing variable: one line naming it, exit 2.
"""

import os
import sys
import time
from typing import Any

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from deploy.users import COMPONENTS, mongo_roles, password_variable


def ensure_user(client: MongoClient[Any], user: str, password: str, roles: list[dict[str, str]]) -> str:
    known = client.admin.command("usersInfo", {"user": user, "db": "admin"})["users"]
    if known:
        client.admin.command("updateUser", user, pwd=password, roles=roles)
        return "updated"
    client.admin.command("createUser", user, pwd=password, roles=roles)
    return "created"


def wait_for(client: MongoClient[Any], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            client.admin.command("ping")
            return
        except PyMongoError as exc:
            if time.monotonic() > deadline:
                raise SystemExit(f"database-users: MongoDB did not answer within {seconds:.0f} s: {exc}") from exc
            time.sleep(0.5)


def main() -> int:
    needed = ["EGOV_MONGO_ROOT_URI", *(password_variable(c, "MONGO") for c in COMPONENTS)]
    missing = [name for name in needed if not os.environ.get(name)]
    if missing:
        print(f"database-users: environment variable {missing[0]} is required", file=sys.stderr)
        return 2
    client: MongoClient[Any] = MongoClient(os.environ["EGOV_MONGO_ROOT_URI"], serverSelectionTimeoutMS=2000)
    try:
        wait_for(client, 60)
        for component in COMPONENTS:
            outcome = ensure_user(client, component, os.environ[password_variable(component, "MONGO")],
                                  mongo_roles(component))
            print(f"MongoDB user {component}: {outcome}, readWrite on {mongo_roles(component)[0]['db']} only")
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
