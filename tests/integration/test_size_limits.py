"""Issue 12 item 14: a request over the size bound is answered RESOURCE_EXHAUSTED, naming the bound, on
the public port and through the agency front (HAProxy), with the gateway's production bound (4 MiB)
and requests past grpcio's own receive limit (5 MiB): 5 MiB + 1 byte and 12 MiB. Before, the front
turned the gateway's early refusal into CANCELLED ("Stream removed"), which clients retry forever."""

from collections.abc import Iterator

import grpc
import pytest

from tests.integration.test_gateway_agencies import (
    DESK,
    GET_PROCEDURE,
    AgencyPlatform,
    file_name,
    start_agency_platform,
)

MIB = 1024 * 1024
LIMIT = 4 * MIB                       # EGOV_GATEWAY_MAX_MESSAGE_BYTES' default


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgencyPlatform]:
    running = start_agency_platform(tmp_path_factory.mktemp("size-limits"), EGOV_GATEWAY_MAX_MESSAGE_BYTES=str(LIMIT))
    try:
        running.admin("members", "add", "GOV", "000.00.15.H57", "--name", "Sở Tư pháp tỉnh Thừa Thiên Huế")
        running.admin("subsystems", "add", DESK, "--channel", "counter")
        running.admin("certs", "register", DESK, str(running.certs / "agencies" / f"{file_name(DESK)}.pem"))
        running.admin("grants", "add", GET_PROCEDURE, "--subsystem", DESK)
        yield running
    finally:
        running.mongo.close()
        running.stack.stop()


def request_of(size: int) -> bytes:
    """A GetProcedureRequest of exactly `size` bytes: one long procedure_code (tag, varint length, digits)."""
    for length in range(size - 2, size - 8, -1):
        varint, value = bytearray(), length
        while True:
            varint.append((value & 0x7F) | (0x80 if value > 0x7F else 0))
            value >>= 7
            if not value:
                break
        if 1 + len(varint) + length == size:
            return b"\x0a" + bytes(varint) + b"9" * length
    raise ValueError(size)


def answer(platform: AgencyPlatform, agency: bool, body: bytes) -> tuple[grpc.StatusCode, str]:
    channel = platform.channel(platform.client_cert(DESK) if agency else None, agency=agency)
    try:
        channel.unary_unary(GET_PROCEDURE, None, None)(body, timeout=30)
    except grpc.RpcError as exc:
        return exc.code(), exc.details() or ""
    finally:
        channel.close()
    return grpc.StatusCode.OK, ""


@pytest.mark.parametrize("size", [5 * MIB + 1, 12 * MIB], ids=["5MiB+1", "12MiB"])
def test_through_the_agency_front_an_oversized_request_is_resource_exhausted_with_the_bound(
        platform: AgencyPlatform, size: int) -> None:
    before = platform.mongo["egov_gateway"]["message_log"].count_documents({})
    assert answer(platform, True, request_of(size)) == (
        grpc.StatusCode.RESOURCE_EXHAUSTED, f"request: {size} bytes exceeds the limit of {LIMIT} bytes")
    # The front answered it: nothing reached the gateway, so a flood of them cannot fill the log.
    assert platform.mongo["egov_gateway"]["message_log"].count_documents({}) == before


@pytest.mark.parametrize("size", [5 * MIB + 1, 12 * MIB], ids=["5MiB+1", "12MiB"])
def test_on_the_public_port_an_oversized_request_is_resource_exhausted_with_the_bound(
        platform: AgencyPlatform, size: int) -> None:
    code, details = answer(platform, False, request_of(size))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert f"({size} vs. {LIMIT + MIB})" in details        # grpcio's own receive bound, 1 MiB above ours


def test_just_over_the_bound_both_ports_say_the_same_and_a_request_at_the_bound_is_served(
        platform: AgencyPlatform) -> None:
    expected = (grpc.StatusCode.RESOURCE_EXHAUSTED, f"request: {LIMIT + 1} bytes exceeds the limit of {LIMIT} bytes")
    assert answer(platform, True, request_of(LIMIT + 1)) == expected
    assert answer(platform, False, request_of(LIMIT + 1)) == expected
    code, details = answer(platform, True, request_of(LIMIT))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith("procedure_code:")   # read, validated
