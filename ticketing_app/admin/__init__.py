"""Operator tools run from a shell on the server (SPEC §12)."""
