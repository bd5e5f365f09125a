"""The identity nameko service: citizens, businesses and civil servants, and their access tokens.

Entrypoints translate the wire (protowire dicts, the caller) once, into domain commands
(domain/commands.py, through translation.py), delegate to the service layer (handlers.py,
registration.py, sign_in.py, civil_servants.py) and translate its domain answer into the response.
Identity consumes DossierSubmitted only, to know which agencies' civil servants may read a citizen's
record (domain/access.py).
"""

from typing import Any

from egov.identity.v1 import identity_pb2 as pb
from services.common.caller import Caller
from services.common.errors import DomainError
from services.common.events.envelope import decode
from services.common.protowire import dump, parse
from services.common.runtime.entrypoints import consume_events
from services.common.runtime.probes import PodProbes
from services.common.runtime.rpc import rpc  # verifies the caller's proof (caller_proof)
from services.common.runtime.store import Store
from services.identity import civil_servants, handlers, registration, sign_in
from services.identity import translation as tr
from services.identity.dependencies import (
    AccountIndexes,
    Businesses,
    ClientAddress,
    CodeLimits,
    Passwords,
    Population,
    Signer,
)

Wire = dict[str, Any]


class IdentityService:
    name = "identity"
    probes = PodProbes()   # /livez, /readyz of this process (services/common/runtime/probes.py)
    store = Store()
    population = Population()
    businesses = Businesses()
    signer = Signer()
    passwords = Passwords()
    indexes = AccountIndexes()
    client_address = ClientAddress()
    code_limits = CodeLimits()

    @consume_events("identity")  # type: ignore[untyped-decorator]
    def on_event(self, body: bytes) -> None:
        handlers.handle_event(self.store, decode(body))

    @rpc  # type: ignore[untyped-decorator]
    def health(self) -> dict[str, str]:
        self.store.db.command("ping")
        return {"status": "ok"}

    # Each RPC: the request parsed into its proto, translated once into a domain command
    # (translation.py), the service layer called with it, its domain answer translated into the response.
    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def request_verification_code(self, request: Wire, caller: Wire) -> Wire:
        command = tr.request_verification_code_command(parse(pb.RequestVerificationCodeRequest, request))
        return dump(tr.verification_code_response(registration.request_verification_code(
            self.store, self.population, self.code_limits, command, Caller.from_wire(caller), self.client_address)))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def register_citizen(self, request: Wire, caller: Wire) -> Wire:
        command = tr.register_citizen_command(parse(pb.RegisterCitizenRequest, request))
        return dump(tr.register_citizen_response(registration.register_citizen(
            self.store, self.passwords, command, Caller.from_wire(caller))))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def recover_account(self, request: Wire, caller: Wire) -> Wire:
        command = tr.recover_account_command(parse(pb.RecoverAccountRequest, request))
        return dump(tr.recover_account_response(registration.recover_citizen_account(
            self.store, self.passwords, self.signer.ttl, command, Caller.from_wire(caller))))

    @rpc  # type: ignore[untyped-decorator]
    def list_revocations(self, request: Wire, caller: Wire) -> Wire:
        command = tr.list_revocations_command(parse(pb.ListRevocationsRequest, request))
        return dump(tr.list_revocations_response(registration.list_revocations(self.store, command)))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def sign_in(self, request: Wire, caller: Wire) -> Wire:
        command = tr.sign_in_command(parse(pb.SignInRequest, request))
        return dump(tr.sign_in_response(sign_in.sign_in(
            self.store, self.signer, self.passwords, command, self.client_address)))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def sign_in_civil_servant(self, request: Wire, caller: Wire) -> Wire:
        command = tr.sign_in_civil_servant_command(parse(pb.SignInCivilServantRequest, request))
        return dump(tr.sign_in_response(sign_in.sign_in_civil_servant(
            self.store, self.signer, self.passwords, command, self.client_address)))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def get_citizen(self, request: Wire, caller: Wire) -> Wire:
        command = tr.get_citizen_command(parse(pb.GetCitizenRequest, request))
        return dump(tr.get_citizen_response(handlers.get_citizen(self.store, command, Caller.from_wire(caller))))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def register_business(self, request: Wire, caller: Wire) -> Wire:
        command = tr.register_business_command(parse(pb.RegisterBusinessRequest, request))
        return dump(tr.register_business_response(handlers.register_business(
            self.store, self.businesses, command, Caller.from_wire(caller))))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def register_civil_servant(self, request: Wire, caller: Wire) -> Wire:
        command = tr.register_civil_servant_command(parse(pb.RegisterCivilServantRequest, request))
        return dump(tr.register_civil_servant_response(civil_servants.register_civil_servant(
            self.store, self.passwords, command, Caller.from_wire(caller))))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def reset_second_factor(self, request: Wire, caller: Wire) -> Wire:
        command = tr.reset_second_factor_command(parse(pb.ResetSecondFactorRequest, request))
        return dump(tr.reset_second_factor_response(civil_servants.reset_second_factor(
            self.store, self.signer.ttl, command, Caller.from_wire(caller))))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def dismiss_civil_servant(self, request: Wire, caller: Wire) -> Wire:
        command = tr.dismiss_civil_servant_command(parse(pb.DismissCivilServantRequest, request))
        return dump(tr.dismiss_civil_servant_response(civil_servants.dismiss_civil_servant(
            self.store, self.signer.ttl, command, Caller.from_wire(caller))))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def verify_applicant(self, request: Wire) -> Wire:
        # No caller: only platform services reach this method (the gateway never serves it, and it
        # takes no caller to sign for); it answers a word about a match, never a person's data.
        command = tr.verify_applicant_command(parse(pb.VerifyApplicantRequest, request))
        return dump(tr.verify_applicant_response(handlers.verify_applicant(self.population, self.businesses,
                                                                           command)))
