"""SMS gateway simulator (a brandname SMS provider): `python -m simulators.sms --port N`.

Recipients are E.164 numbers; see simulators/http_inbox.py for the API."""

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

E164 = re.compile(r"\+[1-9][0-9]{7,14}")


def check_phone(to: str) -> str | None:
    return None if E164.fullmatch(to) else "must be a phone number in E.164 form, e.g. +84905123456"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    add_security_arguments(parser)
    args = parser.parse_args()
    server = make_gateway(args.host, args.port, Inbox(), check_phone, "sms", read_api_key(args.api_key_file))
    scheme = secure(server, args.tls_cert, args.tls_key)
    print(f"SMS gateway simulator on {scheme}://{args.host}:{args.port}/messages", flush=True)
    serve_until_terminated([server])


if __name__ == "__main__":
    main()
