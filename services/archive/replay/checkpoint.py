"""What a replay has already sent, in a file, so that a rerun resumes after it."""

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.archive.replay.publisher import ReplayFailed


@dataclass
class Checkpoint:
    """What a replay has already sent: every archived event up to `through_offset` (in the
    replay's selection) is confirmed by the broker. Written atomically."""

    path: Path
    replay: dict[str, Any]
    through_offset: int = -1
    sent: int = 0
    _saved: tuple[int, int] = field(default=(-1, 0), repr=False)

    @classmethod
    def open(cls, path: Path, replay: dict[str, Any]) -> "Checkpoint":
        if not path.exists():
            return cls(path, replay)
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("replay") != replay:
            raise ReplayFailed(f"checkpoint {path} belongs to another replay ({data.get('replay')}); "
                               "use another file or delete it")
        offset, sent = int(data["through_offset"]), int(data["sent"])
        return cls(path, replay, offset, sent, (offset, sent))

    def advance(self, offset: int) -> None:
        if offset > self.through_offset:
            self.through_offset = offset
        self.sent += 1

    def save(self) -> None:
        if (self.through_offset, self.sent) == self._saved:
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({"replay": self.replay, "through_offset": self.through_offset,
                                   "sent": self.sent}, indent=1), encoding="utf-8")
        os.replace(tmp, self.path)
        self._saved = (self.through_offset, self.sent)

