"""Dashboard logouts in the store (``revoke_session`` / ``session_revoked``), on SQLite and on PostgreSQL alike:
a revoked session stays refused for every process that opens the store, until its cookie would have expired."""

from __future__ import annotations

import time

import pytest


@pytest.fixture
def store(store_backend):
    s = store_backend.open()
    yield s
    s.close()


def test_a_revoked_session_is_refused_by_every_process_that_opens_the_store(store, store_backend):
    assert not store.session_revoked("sid-1")
    store.revoke_session("sid-1", time.time() + 3600)
    assert store.session_revoked("sid-1") and not store.session_revoked("sid-2")
    other = store_backend.open()  # a restart, or another replica
    try:
        assert other.session_revoked("sid-1")
    finally:
        other.close()


def test_revoking_twice_keeps_the_later_expiry(store):
    store.revoke_session("sid-1", time.time() + 60)
    store.revoke_session("sid-1", time.time() + 3600)
    assert store.session_revoked("sid-1") and store.count("revoked_sessions") == 1


def test_a_revocation_is_forgotten_once_its_cookie_has_expired_anyway(store):
    store.revoke_session("old", time.time() - 1)  # its cookie can no longer be replayed
    assert not store.session_revoked("old")
    store.revoke_session("new", time.time() + 3600)  # each logout prunes the ones that ran out
    assert store.count("revoked_sessions") == 1 and store.session_revoked("new")
