"""The event archive's search index, and `egov-events`, the integration team's tool."""
