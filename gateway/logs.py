"""One JSON object per log line, so the per-call lines can be searched by request or trace id.

Call threads only enqueue records; one thread formats and writes them, so a slow or contended
stderr never holds up a call.
"""

import atexit
import json
import logging
import logging.handlers
import queue
from datetime import UTC, datetime


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class _EnqueueRaw(logging.handlers.QueueHandler):
    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record   # formatted by the writer thread, not the calling one


def configure(level: str) -> None:
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    writer = logging.StreamHandler()
    writer.setFormatter(JsonFormatter())
    listener = logging.handlers.QueueListener(records, writer)
    listener.start()
    atexit.register(listener.stop)
    logging.basicConfig(level=level.upper(), handlers=[_EnqueueRaw(records)], force=True)
    logging.getLogger("pika").setLevel(logging.WARNING)
