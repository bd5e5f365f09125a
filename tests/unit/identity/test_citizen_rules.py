"""Who may open a citizen account, and how their details are normalised."""

import unicodedata
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from services.common.errors import InvalidArgument
from services.identity.domain.citizen import CitizenApplication, check_application, open_account
from services.identity.domain.contact import Address, NotificationChannel
from services.identity.domain.passwords import hash_password, password_matches

TODAY = date(2026, 6, 1)
HUE = Address(street="12 Lê Lợi", commune="Phường Vĩnh Ninh", district="Thành phố Huế",
              province="Thừa Thiên Huế")
APPLICATION = CitizenApplication(
    citizen_id="046090012345", full_name="Nguyễn Văn An", birth_date="1990-05-14", phone="0905 123 456",
    email="an.nguyen@Example.VN", address=HUE, password="correct horse battery",
    notification_channels=[],
)


def test_a_valid_application_is_normalised() -> None:
    checked = check_application(replace(APPLICATION, full_name="  nguyễn   Văn  An "), TODAY)
    assert checked.citizen_id == "046090012345"
    assert checked.full_name == "nguyễn Văn An"
    assert checked.birth_date == date(1990, 5, 14)
    assert checked.phone == "+84905123456"
    assert checked.email == "an.nguyen@example.vn"
    assert checked.notification_channels == (NotificationChannel.SMS,)


def test_the_account_keeps_only_a_hash_of_the_password() -> None:
    now = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)
    citizen = open_account(check_application(APPLICATION, TODAY), hash_password, now)
    assert APPLICATION.password not in citizen.password_hash
    assert password_matches(APPLICATION.password, citizen.password_hash)
    assert citizen.registered_at == now


def test_a_name_typed_in_decomposed_unicode_is_stored_composed() -> None:
    decomposed = unicodedata.normalize("NFD", "Tôn Nữ Minh Châu")
    checked = check_application(replace(APPLICATION, citizen_id="046304002468", full_name=decomposed,
                                        birth_date="2004-08-09"), TODAY)
    assert checked.full_name == unicodedata.normalize("NFC", "Tôn Nữ Minh Châu")


def test_channels_keep_their_order_without_repeats() -> None:
    checked = check_application(replace(APPLICATION, notification_channels=[
        NotificationChannel.EMAIL, NotificationChannel.PUSH, NotificationChannel.EMAIL]), TODAY)
    assert checked.notification_channels == (NotificationChannel.EMAIL, NotificationChannel.PUSH)


def test_fourteen_today_is_old_enough() -> None:
    checked = check_application(replace(APPLICATION, citizen_id="046212000001", birth_date="2012-06-01"),
                                TODAY)
    assert checked.birth_date == date(2012, 6, 1)


@pytest.mark.parametrize(("change", "field"), [
    ({"citizen_id": "04609001234"}, "citizen_id"),                       # 11 digits
    ({"citizen_id": "04609001234X"}, "citizen_id"),
    ({"citizen_id": "003090012345"}, "citizen_id"),                      # 003 is no province
    ({"citizen_id": "046091012345"}, "citizen_id"),                      # says born 1991
    ({"citizen_id": "046290012345"}, "citizen_id"),                      # says born 2090
    ({"birth_date": "14/05/1990"}, "birth_date"),
    ({"birth_date": "19900514"}, "birth_date"),
    ({"birth_date": "1990-02-30"}, "birth_date"),
    ({"citizen_id": "046226000001", "birth_date": "2026-12-01"}, "birth_date"),     # in the future
    ({"citizen_id": "046212000001", "birth_date": "2012-06-02"}, "birth_date"),     # 14 tomorrow
    ({"full_name": "   "}, "full_name"),
    ({"full_name": "Nguyễn Văn An 2"}, "full_name"),
    ({"full_name": "Nguyễn-Văn An"}, "full_name"),
    ({"full_name": "A" * 121}, "full_name"),
    ({"phone": "0123456789"}, "phone"),                                  # not a Vietnamese number
    ({"phone": "+1 202 555 0123"}, "phone"),                             # valid, but not in Vietnam
    ({"phone": "không có"}, "phone"),
    ({"email": "an.nguyen@"}, "email"),
    ({"email": "an nguyen@example.vn"}, "email"),
    ({"address": replace(HUE, commune=" ")}, "address.commune"),
    ({"address": replace(HUE, district="")}, "address.district"),
    ({"address": replace(HUE, province="")}, "address.province"),
    ({"email": "", "notification_channels": [NotificationChannel.EMAIL]}, "email"),
    ({"password": "short"}, "password"),
    ({"password": "x" * 129}, "password"),
])
def test_each_refusal_names_the_field_at_fault(change: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        check_application(replace(APPLICATION, **change), TODAY)  # type: ignore[arg-type]
    assert refused.value.field == field
