"""A container whose Secret or variable is missing stops at start, and its log ends with one line
naming what is missing: what an operator sees in `kubectl logs` or `docker compose logs`."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=120)


def test_a_service_without_its_smtp_password_file_names_it_and_exits(tmp_path: Path) -> None:
    # What notifications' provider set-up does when nameko starts it, uncaught, as in `nameko run`.
    done = _run([sys.executable, "-c", "from services.notifications.dependencies import MessageProviders\n"
                 "MessageProviders().setup()"],
                {"EGOV_SMTP_USERNAME": "egov-notifications", "EGOV_SMTP_PASSWORD_FILE": str(tmp_path / "absent")})
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"python: configuration: EGOV_SMTP_PASSWORD_FILE: cannot read {tmp_path / 'absent'}: No such file or directory")


def test_the_gateway_without_its_token_key_names_it_and_exits(tmp_path: Path) -> None:
    done = _run([sys.executable, "-m", "gateway"], {"EGOV_TOKEN_PUBLIC_KEY_FILE": str(tmp_path / "absent.pem")})
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1].startswith("gateway: EGOV_TOKEN_PUBLIC_KEY_FILE: cannot read")


def test_a_compose_job_without_a_password_names_it_and_exits() -> None:
    done = _run([sys.executable, "-m", "deploy.docker.database_users"], {"EGOV_MONGO_ROOT_URI": "mongodb://r:p@h/"})
    assert done.returncode == 2
    assert done.stderr.strip() == "database-users: environment variable EGOV_IDENTITY_MONGO_PASSWORD is required"
    done = _run([sys.executable, "-m", "deploy.rabbitmq.definitions", "boot"], {"EGOV_AMQP_URI": "amqp://a:b@h:5672/"})
    assert done.returncode == 2 and "EGOV_IDENTITY_BROKER_PASSWORD is required" in done.stderr
