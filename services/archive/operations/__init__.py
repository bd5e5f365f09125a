"""The integration team's work on events, as plain functions over the archive's ports
(services/archive/ports.py): search, show, export and tail the archive (events.py); replay and
rebuild (replaying.py); list, show, re-drive and purge dead letters (dead_letters.py); how far
the index lags and how deep each queue is (status.py). `egov-events` only parses and prints;
tests run these on the in-memory ports (services/archive/fakes.py). Row field names are the stable
JSON of `egov-events ... --output json` (docs/INTEGRATION.md).
"""
