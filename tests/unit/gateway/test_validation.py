"""Request validation against the real request messages of the platform's protos."""

import unicodedata

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from egov.common.v1 import caller_pb2, options_pb2
from egov.identity.v1 import identity_pb2 as idp
from egov.procedures.v1 import procedures_pb2 as pp
from gateway.methods import build_method_table, gateway_method_table
from gateway.validation import RuleError, normalize, prepare, validate
from services.common.errors import InvalidArgument


def document(**fields: object) -> pp.SubmittedDocument:
    values: dict[str, object] = {"document_code": "TK01", "file_name": "to-khai.pdf", "sha256": "a" * 64,
                                 "size_bytes": 1024}
    values.update(fields)
    return pp.SubmittedDocument(**values)  # type: ignore[arg-type]


def address(**fields: str) -> caller_pb2.Address:
    values = {"commune": "Phường Phú Hội", "district": "Thành phố Huế", "province": "Thừa Thiên Huế"}
    values.update(fields)
    return caller_pb2.Address(**values)


def submission(**fields: object) -> pp.SubmitDossierRequest:
    values: dict[str, object] = {
        "procedure_code": "1.001612", "documents": [document()], "payment_method": pp.PAYMENT_METHOD_ONLINE,
        "delivery": pp.Delivery(method=pp.DELIVERY_METHOD_POST, address=address()),
    }
    values.update(fields)
    return pp.SubmitDossierRequest(**values)  # type: ignore[arg-type]


def registration(**fields: object) -> idp.RegisterCitizenRequest:
    values: dict[str, object] = {
        "citizen_id": "046099001234", "full_name": "Nguyễn Thị Hoa", "birth_date": "1999-05-01",
        "phone": "+84905123456", "address": address(), "password": "mật-khẩu-dài",
        "notification_channels": [caller_pb2.NOTIFICATION_CHANNEL_SMS],
        "verification_id": "Vv3m1xF6k2R0aQ9", "verification_code": "482913",
    }
    values.update(fields)
    return idp.RegisterCitizenRequest(**values)  # type: ignore[arg-type]


def violation(message: Message) -> str:
    with pytest.raises(InvalidArgument) as refused:
        validate(message)
    return str(refused.value)


def test_valid_requests_pass() -> None:
    validate(submission())
    validate(registration())
    validate(pp.ListProceduresRequest())


def test_required_string_message_and_enum() -> None:
    assert violation(pp.GetProcedureRequest()) == "procedure_code: is required"
    assert violation(submission(delivery=None)) == "delivery: is required"
    assert violation(submission(payment_method=pp.PAYMENT_METHOD_UNSPECIFIED)) == "payment_method: is required"


def test_pattern_is_a_full_match() -> None:
    assert violation(registration(citizen_id="04609900123")) == "citizen_id: must match [0-9]{12}"
    assert violation(registration(citizen_id="046099001234x")) == "citizen_id: must match [0-9]{12}"
    # An optional pattern written to accept the empty string accepts it.
    validate(submission(applicant_citizen_id=""))
    assert violation(submission(applicant_citizen_id="123")) == "applicant_citizen_id: must match ([0-9]{12})?"


def test_string_lengths_count_characters_not_bytes() -> None:
    validate(registration(full_name="Ữ" * 120))    # 360 bytes in UTF-8, 120 characters
    assert violation(registration(full_name="Ữ" * 121)) == "full_name: must be at most 120 characters"
    validate(registration(password="mậtkhẩu1"))     # 8 characters
    assert violation(registration(password="mậtkhẩu")) == "password: must be at least 8 characters"


def test_integer_bounds() -> None:
    assert violation(pp.ListProceduresRequest(service_level=5)) == "service_level: must be at most 4"
    assert violation(pp.ListProceduresRequest(page_size=-1)) == "page_size: must be at least 0"
    validate(pp.ListProceduresRequest(service_level=4, page_size=500))


def test_repeated_item_counts() -> None:
    assert violation(submission(documents=[])) == "documents: must have at least 1 item"
    assert violation(submission(documents=[document()] * 51)) == "documents: must have at most 50 items"
    too_many_codes = pp.RequestSupplementRequest(code="X", reason="thiếu", missing_document_codes=["TK01"] * 51)
    assert violation(too_many_codes) == "missing_document_codes: must have at most 50 items"
    assert violation(registration(notification_channels=[])) == "notification_channels: must have at least 1 item"


def test_nested_paths_and_repeated_indices() -> None:
    no_commune = pp.Delivery(method=pp.DELIVERY_METHOD_POST, address=address(commune=""))
    assert violation(submission(delivery=no_commune)) == "delivery.address.commune: is required"
    assert violation(registration(address=address(district=""))) == "address.district: is required"
    documents = [document(), document(), document(sha256="A" * 64)]
    assert violation(submission(documents=documents)) == "documents[2].sha256: must match [0-9a-f]{64}"
    assert violation(submission(documents=[document(size_bytes=0)])) == "documents[0].size_bytes: must be at least 1"


def test_unknown_enum_numbers_are_refused_anywhere() -> None:
    assert violation(submission(payment_method=9)) == "payment_method: 9 is not a value of PaymentMethod"
    unknown_method = pp.Delivery(method=7)  # type: ignore[arg-type]
    assert violation(submission(delivery=unknown_method)) == "delivery.method: 7 is not a value of DeliveryMethod"
    assert violation(registration(notification_channels=[caller_pb2.NOTIFICATION_CHANNEL_SMS, 42])) == (
        "notification_channels[1]: 42 is not a value of NotificationChannel")


def test_the_first_violation_in_field_order_is_reported() -> None:
    assert violation(pp.SubmitDossierRequest()) == "procedure_code: is required"


# -- rules the real protos do not use yet: a message type made for the test -------------------
_counter = iter(range(1_000_000))


def message_with(field_type: int, rules: options_pb2.FieldRules, repeated: bool = False) -> type[Message]:
    n = next(_counter)
    file = descriptor_pb2.FileDescriptorProto(name=f"gateway_test/rules{n}.proto", package=f"gwtest{n}",
                                              syntax="proto3", dependency=["egov/common/v1/options.proto"])
    message = file.message_type.add(name="Probe")
    field = message.field.add(name="value", number=1, type=field_type,
                              label=descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED if repeated
                              else descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    field.options.Extensions[options_pb2.rules].CopyFrom(rules)
    descriptor_pool.Default().Add(file)
    return GetMessageClass(descriptor_pool.Default().FindMessageTypeByName(f"gwtest{n}.Probe"))


def test_bytes_lengths_count_bytes() -> None:
    probe = message_with(descriptor_pb2.FieldDescriptorProto.TYPE_BYTES,
                         options_pb2.FieldRules(required=True, min_len=2, max_len=4))
    assert violation(probe(value=b"")) == "value: is required"
    assert violation(probe(value=b"\x00")) == "value: must be at least 2 bytes"
    assert violation(probe(value=b"12345")) == "value: must be at most 4 bytes"
    validate(probe(value=b"1234"))


def test_repeated_strings_match_the_pattern_item_by_item() -> None:
    probe = message_with(descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
                         options_pb2.FieldRules(required=True, pattern="[A-Z]{2}[0-9]{2}", item_max_len=4),
                         repeated=True)
    assert violation(probe(value=[])) == "value: is required"
    assert violation(probe(value=["TK01", "tk02"])) == "value[1]: must match [A-Z]{2}[0-9]{2}"
    validate(probe(value=["TK01", "TK02"]))


def test_each_item_of_a_repeated_string_is_capped_before_its_pattern_is_tried() -> None:
    probe = message_with(descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
                         options_pb2.FieldRules(pattern="[A-Z]{2}[0-9]+", item_max_len=4), repeated=True)
    assert violation(probe(value=["TK01", "TK" + "0" * 100_000])) == "value[1]: must be at most 4 characters"
    assert violation(pp.RequestSupplementRequest(code="000.00.15.H57-260101-0001", reason="thiếu",
                                                 missing_document_codes=["TK01", "X" * 33])) == \
        "missing_document_codes[1]: must be at most 32 characters"


def test_a_repeated_string_field_without_an_item_cap_fails_at_start_up() -> None:
    probe = message_with(descriptor_pb2.FieldDescriptorProto.TYPE_STRING, options_pb2.FieldRules(max_len=5),
                         repeated=True)
    with pytest.raises(RuleError, match="needs item_max_len"):
        prepare(probe)


def test_every_request_of_the_platform_caps_its_repeated_string_items() -> None:
    for method in {**build_method_table(), **gateway_method_table()}.values():
        prepare(method.request_class)            # raises RuleError for an uncapped repeated string


NFD_NAME = unicodedata.normalize("NFD", "Nguyễn Thị Hoà")


def test_text_is_normalised_to_nfc_at_any_depth_and_in_repeated_items() -> None:
    request = submission(delivery=pp.Delivery(method=pp.DELIVERY_METHOD_POST, recipient_name=NFD_NAME,
                                              address=address(street=unicodedata.normalize("NFD", "Lê Lợi"))))
    assert normalize(request) is request
    assert request.delivery.recipient_name == "Nguyễn Thị Hoà" != NFD_NAME
    assert request.delivery.address.street == "Lê Lợi"
    codes = pp.RequestSupplementRequest(missing_document_codes=[unicodedata.normalize("NFD", "Tờ-khai")])
    assert normalize(codes).missing_document_codes[0] == "Tờ-khai"


def test_lengths_count_the_normalised_text_so_nfd_and_nfc_get_the_same_answer() -> None:
    name = "Ễ" * 120                                      # at the limit in NFC, 360 code points in NFD
    validate(normalize(registration(full_name=name)))
    validate(normalize(registration(full_name=unicodedata.normalize("NFD", name))))
    assert violation(normalize(registration(full_name=unicodedata.normalize("NFD", name + "Ễ")))) == \
        "full_name: must be at most 120 characters"


@pytest.mark.parametrize("field_type, rules", [
    (descriptor_pb2.FieldDescriptorProto.TYPE_INT32, options_pb2.FieldRules(pattern="[0-9]+")),
    (descriptor_pb2.FieldDescriptorProto.TYPE_STRING, options_pb2.FieldRules(has_min=True, min=1)),
    (descriptor_pb2.FieldDescriptorProto.TYPE_BOOL, options_pb2.FieldRules(required=True)),
    (descriptor_pb2.FieldDescriptorProto.TYPE_INT64, options_pb2.FieldRules(has_min=True, min=5, has_max=True, max=1)),
])
def test_a_rule_that_cannot_apply_fails_at_start_up(field_type: int, rules: options_pb2.FieldRules) -> None:
    with pytest.raises(RuleError):
        prepare(message_with(field_type, rules))
