"""Issue 20 item 1: idle and trickling clients cannot starve holds of descriptors or memory (slow_clients.py)."""

from __future__ import annotations

import pytest

from tests.reliability.slow_clients import ATTACKS, NOFILE, SlowClientsRun, run_slow_clients

# Load tests: they measure holds answered while hundreds of hostile connections eat the CPU, so they run
# alone, not beside another pytest-xdist worker (README, Development).
pytestmark = pytest.mark.serial

RSS_SLACK_MB = 40  # "back near the baseline": what the allocator may keep, far below a parked burst


def check(run: SlowClientsRun) -> None:
    assert run.alive and not run.out_of_descriptors, run.figures()
    for attack in run.attacks:
        figures = attack.figures()
        # Holds were answered before, during and after the attack (each within httpx's 10 s timeout).
        assert attack.before.answered and attack.during.answered and attack.after.answered, figures
        # The daemon, not the attacker, closed every attack connection.
        assert attack.all_closed, figures
        assert attack.fds_peak < NOFILE and attack.fds_after <= attack.fds_before + 8, figures
        assert attack.rss_after < attack.rss_before + RSS_SLACK_MB, figures
        if attack.kind == "parked_unauthenticated":  # never read: no memory spent on them at all
            assert attack.rss_peak < attack.rss_before + RSS_SLACK_MB, figures


@pytest.mark.parametrize("http_parser", ["httptools", "h11"])  # the guard on either of uvicorn's parsers
def test_idle_and_trickling_clients_do_not_stall_holds(tmp_path, figures, http_parser):
    run = run_slow_clients(tmp_path, count=300, per_phase=3, http_parser=http_parser)  # more than the 256 files
    figures(run.figures())
    check(run)


@pytest.mark.full
def test_hundreds_of_idle_and_trickling_clients_do_not_stall_holds(tmp_path, figures):
    run = run_slow_clients(tmp_path, count=400, per_phase=10, kinds=ATTACKS)
    figures(run.figures())
    check(run)


def test_through_the_shipped_caddyfile_slow_clients_do_not_stall_holds_either(tmp_path, figures):
    run = run_slow_clients(tmp_path, count=100, per_phase=3, through_caddy=True,
                           kinds=["idle", "headers", "body_unauthenticated", "body_authenticated"])
    figures(run.figures())
    check(run)
