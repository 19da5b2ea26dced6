"""Thin Reflex states, one per area: read input, call one service, map the result to vars."""
