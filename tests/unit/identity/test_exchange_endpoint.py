"""Where identity sends its calls to external systems: through the gateway's outbound exchange."""

from pathlib import Path

import pytest

from services.common.config import ConfigError
from services.common.errors import Unavailable
from services.identity.adapters.exchange import DEFAULT_SUBSYSTEM, Endpoint
from services.identity.domain.population import Verification, require_match


def test_the_exchange_wins_over_a_direct_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EGOV_OUTBOUND_ADDRESS", "gateway:50053")
    monkeypatch.setenv("EGOV_POPULATION_ADDRESS", "population:50051")
    endpoint = Endpoint.from_env("EGOV_POPULATION_ADDRESS")
    assert endpoint.address == "gateway:50053"
    assert ("x-egov-client", DEFAULT_SUBSYSTEM) in endpoint.metadata("00-" + "1" * 32 + "-" + "2" * 16 + "-01")


def test_a_direct_address_alone_is_called_directly_without_naming_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EGOV_OUTBOUND_ADDRESS", raising=False)
    monkeypatch.setenv("EGOV_POPULATION_ADDRESS", "127.0.0.1:50061")
    endpoint = Endpoint.from_env("EGOV_POPULATION_ADDRESS")
    assert (endpoint.address, endpoint.self_named, endpoint.metadata()) == ("127.0.0.1:50061", "", [])


def test_a_client_certificate_needs_all_three_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "identity.pem").write_text("certificate")
    monkeypatch.setenv("EGOV_OUTBOUND_ADDRESS", "gateway:50053")
    monkeypatch.setenv("EGOV_OUTBOUND_TLS_CERT", str(tmp_path / "identity.pem"))
    with pytest.raises(ConfigError, match="EGOV_OUTBOUND_TLS_KEY"):
        Endpoint.from_env("EGOV_POPULATION_ADDRESS")


def test_a_refused_exchange_is_unavailable_with_a_message_for_the_operator() -> None:
    with pytest.raises(Unavailable, match="refused identity's access"):
        require_match(Verification.REFUSED)
