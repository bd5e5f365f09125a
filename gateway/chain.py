"""The interceptor chain every platform call passes through, one concern each, outermost first:
the call, its deadline, its span, its metrics, its access log line, its message log record, the
digests of its bytes, its status, the size bound, then the platform's checks: maintenance,
authentication, authorization, and the limits of the caller (its member, account or address).

The same chain serves the public port and the agency socket, each from a worker pool of its own.
"""

from __future__ import annotations  # grpc's generic types exist only in its stubs

from collections.abc import Callable, Mapping
from typing import Any

import grpc

from gateway.auth import Authenticator
from gateway.call_interceptors import (
    CallInterceptor,
    DeadlineInterceptor,
    DigestInterceptor,
    SizeLimitInterceptor,
    StatusInterceptor,
)
from gateway.deadlines import DeadlinePolicy
from gateway.exchange_recorder import ExchangeRecorder
from gateway.interceptors import (
    AuthenticationInterceptor,
    AuthorizationInterceptor,
    CallerLimitsInterceptor,
    LimitsInterceptor,
    MaintenanceInterceptor,
)
from gateway.limits import Limiter, MemberLimiter
from gateway.members import Registry
from gateway.message_log import LogKey
from gateway.methods import Method
from gateway.observing_interceptors import (
    AccessLogInterceptor,
    MessageLogInterceptor,
    MetricsInterceptor,
    TracingInterceptor,
)


def interceptor_chain(table: Mapping[str, Method], *, deadlines: DeadlinePolicy, recorder: ExchangeRecorder,
                      log_key: LogKey, max_message_bytes: int, registry: Callable[[], Registry],
                      authenticator: Authenticator, members: MemberLimiter, accounts: Limiter,
                      addresses: Limiter) -> list[grpc.ServerInterceptor[Any, Any]]:
    return [
        CallInterceptor(table),
        DeadlineInterceptor(table, deadlines),
        TracingInterceptor(table),
        MetricsInterceptor(table),
        AccessLogInterceptor(table),
        MessageLogInterceptor(table, recorder, log_key),
        DigestInterceptor(table, recorder),
        StatusInterceptor(table),
        SizeLimitInterceptor(table, max_message_bytes),
        MaintenanceInterceptor(table, registry),
        AuthenticationInterceptor(table, authenticator),
        AuthorizationInterceptor(table, registry),
        LimitsInterceptor(table, members, registry),
        CallerLimitsInterceptor(table, accounts, addresses),
    ]
