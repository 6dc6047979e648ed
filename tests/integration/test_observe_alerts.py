"""deploy/alerts.yml: well-formed, accepted by promtool, and built only from series the daemon exports.

promtool (Debian package `prometheus`) is used where installed; CI installs it and sets
CI_REQUIRE_TOOLS=promtool, which turns the skip into a failure there.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import make_settings
from tests.tools import need_tool
from tevo_bridge.serve import running_daemon

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ALERTS = DEPLOY / "alerts.yml"
#: PromQL words that are not metric names.
PROMQL = frozenset({"sum", "rate", "increase", "time", "by", "without", "and", "or", "unless", "on", "ignoring",
                    "group_left", "group_right", "max", "min", "avg", "count", "bool", "offset", "abs", "clamp_min"})
#: Series Prometheus itself makes for every scrape target: nothing to export.
FROM_PROMETHEUS = frozenset({"up"})
DURATION = re.compile(r"^\d+[smhd]$")


def tool(name: str) -> str:
    """The tool's path; skipped where it is absent, failed where CI requires it (tests/tools.py)."""
    return need_tool(name, "it checks deploy/alerts.yml (Debian: apt-get install --no-install-recommends prometheus)")


def rules() -> list[dict]:
    document = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def metric_names(expr: str) -> set[str]:
    """Every metric an expression reads (label matchers, ranges, strings and numbers left out)."""
    bare = re.sub(r'"[^"]*"|\{[^}]*\}|\[[^\]]*\]', " ", expr)
    words = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", bare))
    return words - PROMQL


def test_every_rule_is_complete():
    found = rules()
    assert len({rule["alert"] for rule in found}) == len(found) >= 8
    for rule in found:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert "for" not in rule or DURATION.match(rule["for"]), rule["alert"]
        assert metric_names(rule["expr"]), rule["alert"]


def test_promtool_accepts_the_rules_and_their_unit_tests():
    promtool = tool("promtool")
    for args in (["check", "rules", ALERTS.name], ["test", "rules", "alerts_test.yml"]):
        result = subprocess.run([promtool, *args], cwd=DEPLOY, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr


def test_every_metric_the_alerts_use_is_exported_by_a_running_daemon(tmp_path, pos_db):
    settings = make_settings(tmp_path, pos_db, server={"admin_port": 0}, poller={"enabled": True, "interval": 60})
    with running_daemon(settings) as daemon:
        assert daemon.admin_url is not None
        text = httpx.get(daemon.admin_url + "/metrics", timeout=10).text
    exported = {s.name for family in text_string_to_metric_families(text) for s in family.samples}
    used = set().union(*(metric_names(rule["expr"]) for rule in rules())) - FROM_PROMETHEUS
    assert used and used <= exported, sorted(used - exported)
