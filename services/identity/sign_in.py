"""The service layer of signing in: a password checked under progressive delay
(domain/sign_in_limits.py), scrypt bounded per process (adapters/password_hashing.py), for civil
servants a second factor (domain/second_factor.py), then a token of the account's current session
epoch."""

from datetime import UTC, datetime

from services.common.caller import Caller, CallerKind
from services.common.errors import FailedPrecondition, Unauthenticated
from services.identity.adapters.password_hashing import PasswordHasher
from services.identity.adapters.repository import IdentityRepository
from services.identity.adapters.second_factors import SecondFactors
from services.identity.adapters.sessions import SessionStore
from services.identity.adapters.sign_in_failures import FailureStore
from services.identity.adapters.signing import TokenSigner
from services.identity.domain import commands
from services.identity.domain import sign_in_limits as limits
from services.identity.domain.passwords import MAX_PASSWORD, unknown_account_hash
from services.identity.domain.second_factor import accepted_step
from services.identity.domain.sessions import AccessToken
from services.identity.handlers import UnitOfWork

WRONG_CREDENTIALS = "citizen ID or password is wrong"
WRONG_CIVIL_SERVANT_CREDENTIALS = "civil servant ID, password or one-time code is wrong"


def sign_in(uow: UnitOfWork, signer: TokenSigner, passwords: PasswordHasher, command: commands.SignIn,
            client_address: str = "", now: datetime | None = None) -> AccessToken:
    caller = Caller(CallerKind.CITIZEN, subject=command.citizen_id)
    citizen = uow.repository(IdentityRepository).citizen(command.citizen_id)
    checked = PasswordCheck(uow, passwords, caller.actor, client_address, now)
    if not checked.holds(citizen.password_hash if citizen else None, command.password):
        raise Unauthenticated("password", WRONG_CREDENTIALS)
    checked.succeeded()
    return issue(uow, signer, caller)


def sign_in_civil_servant(uow: UnitOfWork, signer: TokenSigner, passwords: PasswordHasher,
                          command: commands.SignInCivilServant, client_address: str = "",
                          now: datetime | None = None) -> AccessToken:
    """Password and second factor; a dismissed civil servant is told the same as a wrong password."""
    moment = now or datetime.now(UTC)
    civil_servant = uow.repository(IdentityRepository).civil_servant(command.civil_servant_id)
    account = Caller(CallerKind.CIVIL_SERVANT, subject=command.civil_servant_id).actor
    checked = PasswordCheck(uow, passwords, account, client_address, moment)
    if not checked.holds(civil_servant.password_hash if civil_servant else None, command.password) \
            or civil_servant is None:
        raise Unauthenticated("password", WRONG_CIVIL_SERVANT_CREDENTIALS)
    factors = uow.repository(SecondFactors)
    factor = factors.get(civil_servant.civil_servant_id)
    if factor is not None and factor.dismissed:
        raise Unauthenticated("password", WRONG_CIVIL_SERVANT_CREDENTIALS)
    if factor is None or not factor.enrolled:   # told only to whoever knows the password
        raise FailedPrecondition("totp_code", "no second factor is enrolled for this account: an operator must "
                                              "reset it (egov-admin reset-second-factor)")
    step = accepted_step(factor, command.totp_code.strip(), moment)
    if step is None or not factors.use_step(factor.civil_servant_id, step):
        checked.failed()
        raise Unauthenticated("password", WRONG_CIVIL_SERVANT_CREDENTIALS)
    checked.succeeded()
    caller = Caller(CallerKind.CIVIL_SERVANT, subject=civil_servant.civil_servant_id,
                    agency_code=civil_servant.agency_code, role=civil_servant.role,
                    appointments=civil_servant.appointments)
    return issue(uow, signer, caller, methods=("pwd", "otp"))


def issue(uow: UnitOfWork, signer: TokenSigner, caller: Caller, methods: tuple[str, ...] = ("pwd",)
          ) -> AccessToken:
    token, expires = signer.issue(caller, epoch=uow.repository(SessionStore).epoch(caller.actor), methods=methods)
    return AccessToken(token, expires)


class PasswordCheck:
    """One sign-in's password check: refused at once while a wait is due, counted when it fails."""

    def __init__(self, uow: UnitOfWork, passwords: PasswordHasher, account: str, client_address: str,
                 now: datetime | None) -> None:
        self._failures = uow.repository(FailureStore)
        self._passwords = passwords
        self._account = account
        self._address = client_address
        self._now = now or datetime.now(UTC)
        self._keys = limits.counted_keys(account, client_address)
        self._counted = False

    def holds(self, stored_hash: str | None, password: str) -> bool:
        """True only for an existing account and its password; an unknown account costs as much time
        and is counted the same. A failure is counted here; a success is cleared by `succeeded`, once
        every factor has held."""
        wait, self._counted = self._failures.wait(self._keys, self._now)
        if wait:
            raise limits.refusal(wait)
        matches = len(password) <= MAX_PASSWORD and self._passwords.matches(
            password, stored_hash or unknown_account_hash())
        if matches and stored_hash is not None:
            return True
        self.failed()
        return False

    def failed(self) -> None:
        self._failures.record(self._keys, self._now)

    def succeeded(self) -> None:
        if self._counted:
            self._failures.clear(limits.cleared_keys(self._account, self._address))
