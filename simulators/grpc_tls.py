"""Listening for the simulated external systems: plaintext, or TLS with a client certificate
required (`--tls-cert/--tls-key/--client-ca`), as a national system behind the exchange would: it
answers only the province's gateway, identified by the certificate the trusted CA issued it."""

import argparse
from pathlib import Path

import grpc


def add_tls_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tls-cert", type=Path, help="server certificate (PEM); with --tls-key and --client-ca")
    parser.add_argument("--tls-key", type=Path, help="its private key (PEM)")
    parser.add_argument("--client-ca", type=Path,
                        help="CA whose client certificates are accepted (the gateway's); one is required")


def listen(server: grpc.Server, address: str, args: argparse.Namespace) -> tuple[int, bool]:
    """Add the port to `server`; True when it is mutual TLS."""
    files = (args.tls_cert, args.tls_key, args.client_ca)
    if not any(files):
        return server.add_insecure_port(address), False
    if not all(files):
        raise SystemExit("--tls-cert, --tls-key and --client-ca go together")
    credentials = grpc.ssl_server_credentials(
        [(args.tls_key.read_bytes(), args.tls_cert.read_bytes())],
        root_certificates=args.client_ca.read_bytes(), require_client_auth=True)
    return server.add_secure_port(address, credentials), True
