"""Helpers for the acceptance tests: processes, peers, the gateway and MCP clients."""
