"""ApplicantVerifier over nameko RPC to identity, which holds the exchange connections to the national
population database and the business registry (one client of each for the platform, not a copy here)."""

from typing import Any

from egov.identity.v1 import identity_pb2
from services.common.protowire import dump
from services.procedures.reception import ApplicantVerifier, Verdict


class IdentityVerifier(ApplicantVerifier):
    def __init__(self, identity: Any) -> None:
        self._identity = identity

    def _ask(self, request: identity_pb2.VerifyApplicantRequest) -> Verdict:
        reply = self._identity.verify_applicant(request=dump(request))
        try:
            return Verdict(str(reply.get("result", "")))
        except ValueError:
            return Verdict.UNREACHABLE

    def person(self, citizen_id: str, full_name: str, birth_date: str) -> Verdict:
        return self._ask(identity_pb2.VerifyApplicantRequest(id_number=citizen_id, full_name=full_name,
                                                             birth_date=birth_date))

    def business(self, tax_code: str, name: str) -> Verdict:
        return self._ask(identity_pb2.VerifyApplicantRequest(organisation=True, id_number=tax_code, full_name=name))
