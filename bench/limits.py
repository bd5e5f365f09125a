"""The gateway's caller limits, raised for the bench's stacks.

The bench measures what the platform costs, not the limits that protect it: its load generator calls
from one address (127.0.0.1), the gateway phase as one citizen and the agency phase as one member,
so the per-address, per-account and per-member limits (docs/SECURITY.md, item 6) would refuse most
of its calls and the figures would be the limiter's. A province's portal serves each citizen from
their own address and account, under the defaults.
"""

UNLIMITED = "1000000"
BENCH_ENV = {f"EGOV_GATEWAY_{who}_{what}": UNLIMITED
             for who in ("ADDRESS", "ACCOUNT", "MEMBER") for what in ("RATE", "BURST", "CONCURRENCY")}
