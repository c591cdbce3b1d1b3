"""The alert rules behave as their runbooks say: `promtool test rules` runs the unit tests of
deploy/observability/rules-tests/ (each alert fires on the series that should page, with its labels and
rendered annotations, and stays quiet with too little traffic, outside office hours, ...). promtool is
the one deploy/observability/provision.sh builds into the tools cache (no stack needed: ~1 s)."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from deploy.observability import observe

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "deploy" / "helm" / "observability" / "rules" / "passport-platform.rules.yml"
TESTS = REPO / "deploy" / "observability" / "rules-tests" / "passport-platform.test.yml"


def promtool_test(test_file: Path) -> subprocess.CompletedProcess:
    return subprocess.run([observe.tools()["PROMTOOL"], "test", "rules", str(test_file)],
                          capture_output=True, text=True, timeout=300)


def alerts() -> list[str]:
    return re.findall(r"^\s*- alert: (\w+)\s*$", RULES.read_text(), re.M)


def test_every_alert_has_a_firing_unit_test():
    # an alert_rule_test whose exp_alerts list is not empty (promtool itself parses and runs them)
    tested = set(re.findall(r"alertname: (\w+)\s*\n\s*exp_alerts:\s*\n\s*- exp_labels", TESTS.read_text()))
    assert len(alerts()) >= 21
    assert set(alerts()) - tested == set(), "alerts without a unit test that makes them fire"


def test_promtool_unit_tests_pass():
    out = promtool_test(TESTS)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout + out.stderr


def test_the_unit_tests_catch_a_broken_rule(tmp_path):
    """A rule whose threshold drifted (the minimum traffic of the error ratio raised tenfold) fails them."""
    (tmp_path / "rules").mkdir()
    broken = RULES.read_text().replace("grpc_server_handled_total[5m])) > 0.2", "grpc_server_handled_total[5m])) > 2")
    assert broken != RULES.read_text()
    (tmp_path / "rules" / RULES.name).write_text(broken)
    (tmp_path / "tests").mkdir()
    shutil.copy(TESTS, tmp_path / "tests" / TESTS.name)
    out = promtool_test(tmp_path / "tests" / TESTS.name)
    assert out.returncode != 0
    assert re.search(r"PassportGrpcErrorRatioHigh", out.stdout + out.stderr), out.stdout + out.stderr
