"""Domain events on NATS JetStream: the outbox relay, the `tail` and `replay` CLI."""

from ticketing_app.events.relay import Relay, relay_from_settings, run_relay

__all__ = ["Relay", "relay_from_settings", "run_relay"]
