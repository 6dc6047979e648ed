"""Telling people when they are needed: the outbox's notifier task, its messages, and `tevo-bridge notify`."""
