"""App push provider simulator (notifications to the Hue-S app): `python -m simulators.push --port N`.

Recipients are the citizen's device ID in the app (the app registers devices under the citizen ID);
see simulators/http_inbox.py for the API."""

import argparse
import re

from simulators.http_inbox import (
    Inbox,
    add_security_arguments,
    make_gateway,
    read_api_key,
    secure,
    serve_until_terminated,
)

DEVICE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def check_device(to: str) -> str | None:
    return None if DEVICE_ID.fullmatch(to) else "must be a device ID (letters, digits, . _ : -)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    add_security_arguments(parser)
    args = parser.parse_args()
    server = make_gateway(args.host, args.port, Inbox(), check_device, "push", read_api_key(args.api_key_file))
    scheme = secure(server, args.tls_cert, args.tls_key)
    print(f"push provider simulator on {scheme}://{args.host}:{args.port}/messages", flush=True)
    serve_until_terminated([server])


if __name__ == "__main__":
    main()
