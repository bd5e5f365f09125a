"""The identity nameko service: citizens, businesses and civil servants, and their access tokens.

Entrypoints translate the wire (protowire dicts, the caller) and delegate to handlers.py.
Identity reacts to no events (see services/common/topology.py), so it has no consumer.
"""

from typing import Any

from nameko.rpc import rpc

from egov.identity.v1 import identity_pb2 as pb
from services.common.caller import Caller
from services.common.errors import DomainError
from services.common.protowire import dump, parse
from services.common.runtime.store import Store
from services.identity import handlers
from services.identity.dependencies import AccountIndexes, Businesses, Passwords, Population, Signer

Wire = dict[str, Any]


class IdentityService:
    name = "identity"
    store = Store()
    population = Population()
    businesses = Businesses()
    signer = Signer()
    passwords = Passwords()
    indexes = AccountIndexes()

    @rpc  # type: ignore[untyped-decorator]
    def health(self) -> dict[str, str]:
        self.store.db.command("ping")
        return {"status": "ok"}

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def register_citizen(self, request: Wire, caller: Wire) -> Wire:
        return dump(handlers.register_citizen(self.store, self.population, self.passwords,
                                              parse(pb.RegisterCitizenRequest, request),
                                              Caller.from_wire(caller)))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def sign_in(self, request: Wire, caller: Wire) -> Wire:
        return dump(handlers.sign_in(self.store, self.signer, self.passwords, parse(pb.SignInRequest, request)))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def sign_in_civil_servant(self, request: Wire, caller: Wire) -> Wire:
        return dump(handlers.sign_in_civil_servant(self.store, self.signer, self.passwords,
                                                   parse(pb.SignInCivilServantRequest, request)))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def get_citizen(self, request: Wire, caller: Wire) -> Wire:
        return dump(handlers.get_citizen(self.store, parse(pb.GetCitizenRequest, request),
                                         Caller.from_wire(caller)))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def register_business(self, request: Wire, caller: Wire) -> Wire:
        return dump(handlers.register_business(self.store, self.businesses,
                                               parse(pb.RegisterBusinessRequest, request),
                                               Caller.from_wire(caller)))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def register_civil_servant(self, request: Wire, caller: Wire) -> Wire:
        return dump(handlers.register_civil_servant(self.store, self.passwords,
                                                    parse(pb.RegisterCivilServantRequest, request),
                                                    Caller.from_wire(caller)))
