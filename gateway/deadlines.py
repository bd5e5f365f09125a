"""The deadline a call gets at the gateway: the client's, or the default when it set none, capped."""

from dataclasses import dataclass

# grpcio reports a call without a deadline as one due in the far future.
NO_DEADLINE_BEYOND_SECONDS = 10 * 365 * 24 * 3600


@dataclass(frozen=True)
class DeadlinePolicy:
    default_seconds: float
    max_seconds: float
    stream_max_seconds: float = 300.0

    def seconds(self, client_remaining: float | None, streaming: bool = False) -> float:
        """The client's deadline, or the default when it set none, capped at the maximum; a stream's
        is its time limit, or the client's deadline if that comes first."""
        cap = self.stream_max_seconds if streaming else self.max_seconds
        if client_remaining is None or client_remaining > NO_DEADLINE_BEYOND_SECONDS:
            return cap if streaming else self.default_seconds
        return min(client_remaining, cap)
