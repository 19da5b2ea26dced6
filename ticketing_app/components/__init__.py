"""Shared page pieces: layout shell, navbar, countdown, status badges."""
