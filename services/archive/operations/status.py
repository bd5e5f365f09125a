"""How the event plumbing is doing: how far the archive's index lags behind the stream, and each
service's queue and dead-letter depth."""

from typing import Any

from services.archive.operations.dead_letters import depths
from services.archive.ports import Broker, EventArchive


def status(broker: Broker, archive: EventArchive) -> dict[str, Any]:
    """JSON: stream_last_offset, index_position, index_lag (events in the stream not yet indexed),
    services [{service, queue, waiting, dead_letter_queue, parked}]."""
    end, position = broker.stream_end(), archive.position()
    lag = (end - (position if position is not None else -1)) if end is not None else 0
    return {"stream_last_offset": end, "index_position": position, "index_lag": max(lag, 0),
            "services": depths(broker)}
