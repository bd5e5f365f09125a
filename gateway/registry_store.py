"""The member registry in the gateway's own MongoDB database (`egov_gateway`): documents in and out,
the rules live in gateway.members. The operator layer's port (gateway.registry_admin.RegistryAdmin)
is implemented here; its in-memory twin passes the same contract suite.

Every change bumps one version counter (`settings/registry`); running gateways poll it, reload the
whole registry when it moves, and report the version they serve in `gateways` (one heartbeat
document per process), so the admin command can wait until a change is in force everywhere.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, MongoClient, ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from gateway.members import (
    Certificate,
    Channel,
    ExternalSystem,
    Grant,
    Limits,
    Member,
    MemberId,
    Registry,
    Subsystem,
    SubsystemId,
    check_code,
    check_fingerprint,
)
from gateway.registry_admin import CertificateRecord, GatewayInstance, GrantRecord, GroupRecord, RegistryAdmin
from services.common.errors import AlreadyExists, FailedPrecondition, NotFound

Document = dict[str, Any]
REGISTRY = "registry"


class RegistryStore(RegistryAdmin):
    def __init__(self, client: MongoClient[Document], db_name: str) -> None:
        self.db: Database[Document] = client[db_name]

    def ensure_indexes(self) -> None:
        self.db["certificates"].create_index([("subsystem", ASCENDING)])
        self.db["grants"].create_index([("client", ASCENDING)])
        self.db["gateways"].create_index([("seen_at", ASCENDING)])

    # -- reading (the gateway) ------------------------------------------------------------------
    def version(self) -> int:
        doc = self.db["settings"].find_one({"_id": REGISTRY})
        return int(doc["version"]) if doc else 0

    def load(self) -> Registry:
        settings = self.db["settings"].find_one({"_id": REGISTRY}) or {}
        return Registry.build(
            version=int(settings.get("version", 0)),
            members=[_member(d) for d in self.db["members"].find()],
            subsystems=[Subsystem(SubsystemId.parse(d["_id"]), Channel(d["channel"]))
                        for d in self.db["subsystems"].find()],
            certificates=[Certificate(d["_id"], SubsystemId.parse(d["subsystem"]), d["subject"], d["not_after"],
                                      revoked=d.get("revoked_at") is not None)
                          for d in self.db["certificates"].find()],
            groups={d["_id"]: [SubsystemId.parse(s) for s in d["subsystems"]] for d in self.db["groups"].find()},
            grants=[Grant(d["client"], d["method"]) for d in self.db["grants"].find()],
            maintenance=bool(settings.get("maintenance", False)),
            external_systems=[_external_system(d) for d in self.db["external_systems"].find()],
        )

    def heartbeat(self, instance: str, loaded_version: int) -> None:
        self.db["gateways"].replace_one(
            {"_id": instance}, {"loaded_version": loaded_version, "seen_at": datetime.now(UTC)}, upsert=True)

    def forget(self, instance: str) -> None:
        self.db["gateways"].delete_one({"_id": instance})

    def live_gateways(self, within: timedelta) -> list[GatewayInstance]:
        since = datetime.now(UTC) - within
        return [GatewayInstance(d["_id"], int(d["loaded_version"]), _utc(d["seen_at"]))
                for d in self.db["gateways"].find({"seen_at": {"$gte": since}})]

    # -- changes (the admin command); each returns the registry version that carries it ---------
    def add_member(self, member: Member) -> int:
        self._insert("members", {"_id": str(member.id), "member_class": member.id.member_class.value,
                                 "member_code": member.id.member_code, "name": member.name,
                                 "limits": _limits_doc(member.limits)}, f"member {member.id}")
        return self._bump()

    def set_limits(self, member: MemberId, limits: Limits) -> int:
        self._update("members", str(member), {"$set": {"limits": _limits_doc(limits)}}, f"member {member}")
        return self._bump()

    def update_member(self, member: Member) -> int:
        self._update("members", str(member.id), {"$set": {"name": member.name, "limits": _limits_doc(member.limits)}},
                     f"member {member.id}")
        return self._bump()

    def remove_member(self, member: MemberId) -> int:
        self._require("members", str(member), f"member {member}")
        if (self.db["subsystems"].count_documents({"member": str(member)}, limit=1)
                or self.db["external_systems"].count_documents({"member": str(member)}, limit=1)):
            raise FailedPrecondition("member", f"member {member} still has subsystems or external systems")
        self.db["members"].delete_one({"_id": str(member)})
        return self._bump()

    def set_channel(self, subsystem: SubsystemId, channel: Channel) -> int:
        self._update("subsystems", str(subsystem), {"$set": {"channel": channel.value}}, f"subsystem {subsystem}")
        return self._bump()

    def remove_subsystem(self, subsystem: SubsystemId) -> int:
        name = str(subsystem)
        self._require("subsystems", name, f"subsystem {name}")
        if (self.db["grants"].count_documents({"client": f"subsystem:{name}"}, limit=1)
                or self.db["certificates"].count_documents({"subsystem": name, "revoked_at": None}, limit=1)
                or self.db["groups"].count_documents({"subsystems": name}, limit=1)):
            raise FailedPrecondition("subsystem", f"subsystem {name} still has grants, certificates in force "
                                                  "or group places")
        self.db["subsystems"].delete_one({"_id": name})
        return self._bump()

    def add_subsystem(self, subsystem: Subsystem) -> int:
        self._require("members", str(subsystem.id.member), f"member {subsystem.id.member}")
        self._insert("subsystems", {"_id": str(subsystem.id), "member": str(subsystem.id.member),
                                    "channel": subsystem.channel.value}, f"subsystem {subsystem.id}")
        return self._bump()

    def register_certificate(self, certificate: Certificate) -> int:
        self._require("subsystems", str(certificate.subsystem), f"subsystem {certificate.subsystem}")
        self._insert("certificates", {"_id": certificate.fingerprint, "subsystem": str(certificate.subsystem),
                                      "subject": certificate.subject, "not_after": certificate.not_after,
                                      "registered_at": datetime.now(UTC), "revoked_at": None},
                     f"certificate {certificate.fingerprint}")
        return self._bump()

    def revoke_certificate(self, fingerprint: str) -> int:
        fingerprint = check_fingerprint(fingerprint)
        doc = self.db["certificates"].find_one_and_update(
            {"_id": fingerprint, "revoked_at": None}, {"$set": {"revoked_at": datetime.now(UTC)}})
        if doc is None:
            if self.db["certificates"].count_documents({"_id": fingerprint}):
                raise FailedPrecondition("fingerprint", f"certificate {fingerprint} is already revoked")
            raise NotFound("fingerprint", f"no certificate {fingerprint} is registered")
        return self._bump()

    def add_group(self, code: str, description: str) -> int:
        self._insert("groups", {"_id": check_code(code, "group"), "description": description, "subsystems": []},
                     f"group {code}")
        return self._bump()

    def remove_group(self, code: str) -> int:
        self._require("groups", code, f"group {code}")
        if self.db["grants"].count_documents({"client": f"group:{code}"}, limit=1):
            raise FailedPrecondition("group", f"group {code} still holds grants")
        self.db["groups"].delete_one({"_id": code})
        return self._bump()

    def add_to_group(self, code: str, subsystem: SubsystemId) -> int:
        self._require("subsystems", str(subsystem), f"subsystem {subsystem}")
        self._update("groups", code, {"$addToSet": {"subsystems": str(subsystem)}}, f"group {code}")
        return self._bump()

    def remove_from_group(self, code: str, subsystem: SubsystemId) -> int:
        self._update("groups", code, {"$pull": {"subsystems": str(subsystem)}}, f"group {code}")
        return self._bump()

    def add_grant(self, grant: Grant) -> int:
        kind, _, name = grant.client.partition(":")
        if kind == "group":
            self._require("groups", name, f"group {name}")
        else:
            self._require("subsystems", name, f"subsystem {name}")
        self._insert("grants", {"_id": f"{grant.client}|{grant.method}", "client": grant.client,
                                "method": grant.method, "granted_at": datetime.now(UTC)},
                     f"grant of {grant.method} to {grant.client}")
        return self._bump()

    def revoke_grant(self, grant: Grant) -> int:
        if self.db["grants"].delete_one({"_id": f"{grant.client}|{grant.method}"}).deleted_count == 0:
            raise NotFound("grant", f"{grant.client} has no grant of {grant.method}")
        return self._bump()

    def add_external_system(self, system: ExternalSystem) -> int:
        self._require("members", str(system.id.member), f"member {system.id.member}")
        taken = self.db["external_systems"].find_one({"services": {"$in": sorted(system.services)}})
        if taken is not None:
            raise AlreadyExists("service", f"{', '.join(sorted(set(taken['services']) & system.services))} "
                                           f"is already served by {taken['_id']}")
        self._insert("external_systems", {
            "_id": str(system.id), "member": str(system.id.member), "address": system.address,
            "server_name": system.server_name, "ca": system.ca.decode("ascii"), "services": sorted(system.services),
            "registered_at": datetime.now(UTC)}, f"external system {system.id}")
        return self._bump()

    def remove_external_system(self, system: SubsystemId) -> int:
        if self.db["external_systems"].delete_one({"_id": str(system)}).deleted_count == 0:
            raise NotFound("external_system", f"no external system {system} is registered")
        return self._bump()

    def set_maintenance(self, on: bool) -> int:
        self.db["settings"].update_one({"_id": REGISTRY}, {"$set": {"maintenance": on}}, upsert=True)
        return self._bump()

    # -- listing (the operator layer) -----------------------------------------------------------
    def certificate_records(self) -> list[CertificateRecord]:
        return [CertificateRecord(d["_id"], d["subsystem"], d["subject"], d["not_after"], _utc(d["registered_at"]),
                                  _utc(d.get("revoked_at")))
                for d in self.db["certificates"].find().sort("_id", ASCENDING)]

    def grant_records(self) -> list[GrantRecord]:
        return [GrantRecord(d["client"], d["method"], _utc(d["granted_at"]))
                for d in self.db["grants"].find().sort([("client", ASCENDING), ("method", ASCENDING)])]

    def group_records(self) -> list[GroupRecord]:
        return [GroupRecord(d["_id"], d.get("description", ""), tuple(sorted(d["subsystems"])))
                for d in self.db["groups"].find().sort("_id", ASCENDING)]

    # -- helpers --------------------------------------------------------------------------------
    def _bump(self) -> int:
        doc = self.db["settings"].find_one_and_update(
            {"_id": REGISTRY}, {"$inc": {"version": 1}}, upsert=True, return_document=ReturnDocument.AFTER)
        return int((doc or {})["version"])

    def _insert(self, collection: str, doc: Document, what: str) -> None:
        try:
            self.db[collection].insert_one(doc)
        except DuplicateKeyError:
            raise AlreadyExists(collection.rstrip("s"), f"{what} already exists") from None

    def _update(self, collection: str, key: str, change: Document, what: str) -> None:
        if self.db[collection].update_one({"_id": key}, change).matched_count == 0:
            raise NotFound(collection.rstrip("s"), f"no {what}")

    def _require(self, collection: str, key: str, what: str) -> None:
        if not self.db[collection].count_documents({"_id": key}, limit=1):
            raise NotFound(collection.rstrip("s"), f"no {what} is registered")


def _utc(value: Any) -> Any:
    """A time as stored (naive UTC unless the client is tz_aware), as an aware UTC time."""
    return value.replace(tzinfo=UTC) if isinstance(value, datetime) and value.tzinfo is None else value


def _limits_doc(limits: Limits) -> Document:
    return {"rate_per_second": limits.rate_per_second, "burst": limits.burst, "concurrency": limits.concurrency}


def _external_system(doc: Document) -> ExternalSystem:
    return ExternalSystem(SubsystemId.parse(doc["_id"]), doc["address"], doc["server_name"], doc["ca"].encode("ascii"),
                          frozenset(doc["services"]))


def _member(doc: Document) -> Member:
    limits = doc.get("limits") or {}
    return Member(MemberId.parse(doc["_id"]), doc["name"],
                  Limits(limits.get("rate_per_second"), limits.get("burst"), limits.get("concurrency")))
