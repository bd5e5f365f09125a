"""Entry point of the MongoDB stand-in image (SecantusDB): authentication always on.

SecantusDB provisions users only while it runs without --auth. So on the first start (no marker in
/data/db) this starts it on loopback without auth, creates the root user named by
MONGO_INITDB_ROOT_USERNAME / MONGO_INITDB_ROOT_PASSWORD (the official mongo image's variables),
stops it, writes the marker, and only then serves on every interface with --auth. Later starts go
straight to the last step. The services' own users are made by the `database-users` job
(deploy/docker/database_users.py) with this root user, as against a real MongoDB.

A missing variable on the first start: one line naming it, exit 2. SIGTERM stops the server cleanly.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError

DATA = Path(os.environ.get("EGOV_STANDIN_DATA", "/data/db"))
MARKER = DATA / ".egov-root-user"
PORT = 27017


def server(host: str, auth: bool) -> list[str]:
    argv = ["secantusd-py", "--host", host, "--port", str(PORT), "--storage-path", str(DATA),
            "--log-level", "WARNING", "--noop-heartbeat-seconds", "10"]
    return [*argv, "--auth"] if auth else argv


def provision_root(user: str, password: str) -> None:
    process = subprocess.Popen(server("127.0.0.1", auth=False))
    try:
        client: MongoClient[dict[str, object]] = MongoClient(
            f"mongodb://127.0.0.1:{PORT}/?directConnection=true", serverSelectionTimeoutMS=1000)
        deadline = time.monotonic() + 60
        while True:
            try:
                client.admin.command("ping")
                break
            except PyMongoError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit("mongodb-standin: the server did not start for provisioning") from None
                time.sleep(0.2)
        users = client.admin.command("usersInfo", {"user": user, "db": "admin"})["users"]
        if not users:
            client.admin.command("createUser", user, pwd=password, roles=[{"role": "root", "db": "admin"}])
        client.close()
    finally:
        process.terminate()
        process.wait(timeout=60)
    MARKER.write_text(f"root user {user} created\n")
    print(f"mongodb-standin: root user {user!r} created", flush=True)


def main() -> int:
    if not MARKER.exists():
        names = ("MONGO_INITDB_ROOT_USERNAME", "MONGO_INITDB_ROOT_PASSWORD")
        missing = [name for name in names if not os.environ.get(name)]
        if missing:
            print(f"mongodb-standin: environment variable {missing[0]} is required", file=sys.stderr)
            return 2
        provision_root(os.environ["MONGO_INITDB_ROOT_USERNAME"], os.environ["MONGO_INITDB_ROOT_PASSWORD"])
    process = subprocess.Popen(server("0.0.0.0", auth=True))
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: process.send_signal(signum))
    return process.wait()


if __name__ == "__main__":
    sys.exit(main())
