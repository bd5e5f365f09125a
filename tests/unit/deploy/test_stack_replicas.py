"""The local stack's replicas: which processes a replicated stack declares, and what keeps two
gateways apart. Declarations only: nothing is started."""

from pathlib import Path

from deploy.local.stack import SERVICES, SINGLE_REPLICA, Stack


def test_two_replicas_declare_two_of_every_service_but_the_archive_and_two_gateways(tmp_path: Path) -> None:
    names = [c.name for c in Stack(tmp_path, replicas=2).components()]
    for service in SERVICES:
        expected = [service] if service in SINGLE_REPLICA else [service, f"{service}-2"]
        assert [n for n in names if n in (service, f"{service}-2")] == expected
    assert {"gateway", "gateway-front", "gateway-2", "gateway-2-front"} <= set(names)
    assert len(names) == len(set(names))


def test_one_replica_is_the_stack_as_it_was(tmp_path: Path) -> None:
    names = [c.name for c in Stack(tmp_path).components()]
    assert not [n for n in names if n.endswith("-2") or "-2-" in n]


def test_each_gateway_has_its_own_listeners_and_message_log_chain(tmp_path: Path) -> None:
    stack = Stack(tmp_path, replicas=2)
    first, second = (c for c in stack.components() if c.name in ("gateway", "gateway-2"))
    for key in ("EGOV_GATEWAY_ADDRESS", "EGOV_GATEWAY_AGENCY_ADDRESS", "EGOV_GATEWAY_OUTBOUND_ADDRESS",
                "EGOV_GATEWAY_AGENCY_SOCKET"):
        assert first.env[key] != second.env[key], key
    assert second.env["EGOV_GATEWAY_LOG_CHAIN"] == "gateway-2" != first.env.get("EGOV_GATEWAY_LOG_CHAIN", "gateway")
    assert stack.gateway_addresses() == [first.env["EGOV_GATEWAY_ADDRESS"], second.env["EGOV_GATEWAY_ADDRESS"]]


def test_replicas_of_the_services_with_callbacks_listen_on_ports_of_their_own(tmp_path: Path) -> None:
    stack = Stack(tmp_path, replicas=2)
    for service in ("payments", "postal"):
        assert stack.service_env(service)["EGOV_WEB_ADDRESS"] != stack.service_env(f"{service}-2")["EGOV_WEB_ADDRESS"]
        assert stack.service_env(f"{service}-2")["EGOV_WEB_ADDRESS"] == stack.service_env(f"{service}-2")[
            "EGOV_WEB_ADDRESS"]
