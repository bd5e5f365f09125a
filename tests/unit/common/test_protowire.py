import pytest

from egov.procedures.v1 import procedures_pb2 as pb
from services.common import protowire
from services.common.errors import InvalidArgument


def test_a_reply_reads_back_the_same_as_a_dict_or_encoded() -> None:
    message = pb.GetProcedureResponse(procedure=pb.Procedure(code="1.001193", name="Đăng ký khai sinh", fee_vnd=0))
    as_dict = protowire.dump(message)
    as_bytes = protowire.encoded(message.SerializeToString())
    assert protowire.parse(pb.GetProcedureResponse, as_dict) == protowire.parse(pb.GetProcedureResponse, as_bytes) \
        == message


@pytest.mark.parametrize("wire", [
    {"$protobuf": "not base64!"},
    {"$protobuf": "////"},                            # base64, but not a message
    {"$protobuf": "", "procedure": {}},               # both forms at once
    {"$protobuf": 7},
])
def test_a_bad_encoded_reply_is_refused_naming_the_form(wire: dict[str, object]) -> None:
    with pytest.raises(InvalidArgument) as refused:
        protowire.parse(pb.GetProcedureResponse, wire)
    assert "GetProcedureResponse" in str(refused.value)
