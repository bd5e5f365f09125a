"""Replaying archived events to exactly one queue (`egov-events replay`), split by job:

- publisher.py: the windowed-confirm publisher (reconnects; what was unconfirmed is sent again);
- stream_reader.py: a separate process reading the archive stream from the first wanted offset;
- sources.py: where a replay reads the selected events (the stream, the index, a list);
- checkpoint.py: the offset through which every event was confirmed, in a file, to resume;
- engine.py: one replay, all of the above together.

Two processes share the work when reading the stream, because on a small machine one Python process
cannot both parse the stream deliveries and build the publishes at the broker's speed.
"""
