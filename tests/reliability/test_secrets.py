"""Part 6: known secrets appear in no log line and no error body."""

from __future__ import annotations

import pytest

from tests.reliability.secrets_scan import SecretsRun, run_secrets, scan


def test_the_scan_finds_a_secret_where_there_is_one():
    result = SecretsRun()
    scan(result, "log", ["nothing here", "token=s3cret-value-123 leaked"], ["s3cret-value-123"])
    assert len(result.hits) == 1


def test_no_secret_in_the_demo_log_or_any_error_body(tmp_path, figures):
    run = run_secrets(tmp_path, demo_orders=13)
    figures(run.figures())
    assert run.log_lines > 100 and run.error_bodies > 10
    assert run.hits == []


@pytest.mark.full
def test_no_secret_in_a_long_demo_log_or_any_error_body(tmp_path, figures):
    run = run_secrets(tmp_path, demo_orders=65)
    figures(run.figures())
    assert run.hits == []
