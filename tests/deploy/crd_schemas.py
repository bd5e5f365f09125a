"""JSON schemas for the custom resources the prod overlay uses, which kubernetes-validate does not know.

Transcribed from the operators' CustomResourceDefinitions (openAPIV3Schema), limited to the fields
this repository sets and strict (additionalProperties: false) wherever we set fields, so a misspelt
or misplaced field fails here rather than being pruned silently by the API server:
- RabbitmqCluster, rabbitmq.com/v1beta1: rabbitmq/cluster-operator config/crd/bases/rabbitmq.com_rabbitmqclusters.yaml
- MongoDBCommunity, mongodbcommunity.mongodb.com/v1: mongodb/mongodb-kubernetes-operator
  config/crd/bases/mongodbcommunity.mongodb.com_mongodbcommunity.yaml
- ServiceMonitor, PodMonitor, PrometheusRule, monitoring.coreos.com/v1: prometheus-operator
  example/prometheus-operator-crd/
- Certificate, Issuer, cert-manager.io/v1: cert-manager deploy/crds/
"""

from typing import Any

_OPEN_OBJECT: dict[str, Any] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
_QUANTITY: dict[str, Any] = {"anyOf": [{"type": "integer"}, {"type": "string"}]}
_RESOURCES: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "limits": {"type": "object", "additionalProperties": _QUANTITY},
        "requests": {"type": "object", "additionalProperties": _QUANTITY},
    },
}
_METADATA: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": {"type": "string"}, "namespace": {"type": "string"},
                   "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                   "annotations": {"type": "object", "additionalProperties": {"type": "string"}}},
}


def _resource(api_version: str, kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "properties": {"apiVersion": {"const": api_version}, "kind": {"const": kind},
                       "metadata": _METADATA, "spec": spec},
    }


RABBITMQ_CLUSTER = _resource("rabbitmq.com/v1beta1", "RabbitmqCluster", {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "replicas": {"type": "integer", "minimum": 0},
        "image": {"type": "string"},
        "imagePullSecrets": {"type": "array"},
        "resources": _RESOURCES,
        "persistence": {"type": "object", "additionalProperties": False,
                        "properties": {"storageClassName": {"type": "string"}, "storage": _QUANTITY}},
        "rabbitmq": {"type": "object", "additionalProperties": False, "properties": {
            "additionalPlugins": {"type": "array", "maxItems": 100,
                                  "items": {"type": "string", "pattern": r"^\w+$"}},
            "additionalConfig": {"type": "string", "maxLength": 2000},
            "advancedConfig": {"type": "string", "maxLength": 100000},
            "envConfig": {"type": "string", "maxLength": 100000},
            "erlangInetConfig": {"type": "string", "maxLength": 2000},
        }},
        "override": {"type": "object", "additionalProperties": False,
                     "properties": {"statefulSet": _OPEN_OBJECT, "service": _OPEN_OBJECT}},
        "service": _OPEN_OBJECT,
        "tls": _OPEN_OBJECT,
        "affinity": _OPEN_OBJECT,
        "tolerations": {"type": "array"},
        "terminationGracePeriodSeconds": {"type": "integer", "minimum": 0},
        "delayStartSeconds": {"type": "integer", "minimum": 0},
        "skipPostDeploySteps": {"type": "boolean"},
        "secretBackend": _OPEN_OBJECT,
    },
})

_ROLE = {"type": "object", "required": ["db", "name"], "additionalProperties": False,
         "properties": {"db": {"type": "string"}, "name": {"type": "string"}}}

MONGODB_COMMUNITY = _resource("mongodbcommunity.mongodb.com/v1", "MongoDBCommunity", {
    "type": "object",
    "required": ["security", "type", "users", "version"],
    "additionalProperties": False,
    "properties": {
        "members": {"type": "integer"},
        "arbiters": {"type": "integer"},
        "type": {"enum": ["ReplicaSet"]},
        "version": {"type": "string"},
        "featureCompatibilityVersion": {"type": "string"},
        "additionalMongodConfig": {"type": "object"},
        "replicaSetHorizons": {"type": "array"},
        "security": {"type": "object", "additionalProperties": False, "properties": {
            "authentication": {"type": "object", "required": ["modes"], "additionalProperties": False,
                               "properties": {
                                   "modes": {"type": "array",
                                             "items": {"enum": ["SCRAM", "SCRAM-SHA-256", "SCRAM-SHA-1"]}},
                                   "ignoreUnknownUsers": {"type": "boolean"}}},
            "tls": _OPEN_OBJECT,
            "roles": {"type": "array"},
        }},
        "users": {"type": "array", "items": {
            "type": "object",
            "required": ["name", "passwordSecretRef", "roles", "scramCredentialsSecretName"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string"},
                "db": {"type": "string"},
                "passwordSecretRef": {"type": "object", "required": ["name"], "additionalProperties": False,
                                      "properties": {"name": {"type": "string"}, "key": {"type": "string"}}},
                "roles": {"type": "array", "items": _ROLE},
                "scramCredentialsSecretName": {
                    "type": "string",
                    "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"},
            },
        }},
        "statefulSet": {"type": "object", "required": ["spec"], "additionalProperties": False,
                        "properties": {"spec": _OPEN_OBJECT}},
    },
})

_STRINGS = {"type": "object", "additionalProperties": {"type": "string"}}
_SELECTOR: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": {
    "matchLabels": _STRINGS, "matchExpressions": {"type": "array"}}}
_ENDPOINT: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": {
    "port": {"type": "string"}, "path": {"type": "string"}, "interval": {"type": "string", "pattern": r"^\d+[smh]$"},
    "scheme": {"enum": ["http", "https"]},
    "params": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}}}
SERVICE_MONITOR = _resource("monitoring.coreos.com/v1", "ServiceMonitor", {
    "type": "object", "required": ["selector", "endpoints"], "additionalProperties": False,
    "properties": {"selector": _SELECTOR, "endpoints": {"type": "array", "items": _ENDPOINT},
                   "namespaceSelector": {"type": "object"}}})
POD_MONITOR = _resource("monitoring.coreos.com/v1", "PodMonitor", {
    "type": "object", "required": ["selector", "podMetricsEndpoints"], "additionalProperties": False,
    "properties": {"selector": _SELECTOR, "podMetricsEndpoints": {"type": "array", "items": _ENDPOINT},
                   "namespaceSelector": {"type": "object"}}})
_RULE: dict[str, Any] = {"type": "object", "required": ["expr"], "additionalProperties": False, "properties": {
    "alert": {"type": "string"}, "record": {"type": "string"}, "expr": {"type": "string"},
    "for": {"type": "string", "pattern": r"^\d+[smh]$"}, "labels": _STRINGS, "annotations": _STRINGS}}
PROMETHEUS_RULE = _resource("monitoring.coreos.com/v1", "PrometheusRule", {
    "type": "object", "required": ["groups"], "additionalProperties": False,
    "properties": {"groups": {"type": "array", "items": {
        "type": "object", "required": ["name", "rules"], "additionalProperties": False,
        "properties": {"name": {"type": "string"}, "interval": {"type": "string"},
                       "rules": {"type": "array", "items": _RULE}}}}}})
_ISSUER_REF: dict[str, Any] = {"type": "object", "required": ["name"], "additionalProperties": False, "properties": {
    "name": {"type": "string"}, "kind": {"enum": ["Issuer", "ClusterIssuer"]}, "group": {"type": "string"}}}
CERTIFICATE = _resource("cert-manager.io/v1", "Certificate", {
    "type": "object", "required": ["secretName", "issuerRef"], "additionalProperties": False, "properties": {
        "secretName": {"type": "string"}, "issuerRef": _ISSUER_REF, "isCA": {"type": "boolean"},
        "commonName": {"type": "string", "maxLength": 64}, "dnsNames": {"type": "array", "items": {"type": "string"}},
        "duration": {"type": "string"}, "renewBefore": {"type": "string"},
        "usages": {"type": "array", "items": {"enum": ["digital signature", "key encipherment", "server auth",
                                                        "client auth", "cert sign", "crl sign"]}},
        "privateKey": {"type": "object", "additionalProperties": False, "properties": {
            "algorithm": {"enum": ["RSA", "ECDSA", "Ed25519"]}, "size": {"type": "integer"},
            "rotationPolicy": {"enum": ["Never", "Always"]}}}}})
ISSUER = _resource("cert-manager.io/v1", "Issuer", {
    "type": "object", "additionalProperties": False, "minProperties": 1, "maxProperties": 1, "properties": {
        "selfSigned": {"type": "object"},
        "ca": {"type": "object", "required": ["secretName"], "additionalProperties": False,
               "properties": {"secretName": {"type": "string"}}}}})

SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): SERVICE_MONITOR,
    ("monitoring.coreos.com/v1", "PodMonitor"): POD_MONITOR,
    ("monitoring.coreos.com/v1", "PrometheusRule"): PROMETHEUS_RULE,
    ("cert-manager.io/v1", "Certificate"): CERTIFICATE,
    ("cert-manager.io/v1", "Issuer"): ISSUER,
    ("rabbitmq.com/v1beta1", "RabbitmqCluster"): RABBITMQ_CLUSTER,
    ("mongodbcommunity.mongodb.com/v1", "MongoDBCommunity"): MONGODB_COMMUNITY,
}
