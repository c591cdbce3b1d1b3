"""The deploy artifacts pass their static validation: deploy/helm/validate.sh lints every Helm
chart, renders each with its default and its production values, validates the output against
offline Kubernetes schemas (kubeconform -strict) and the platform's policy checks, and lints
every Dockerfile (hadolint). No cluster and no Docker engine are needed; the first run installs
the tools into the cache (a few minutes), later runs are offline."""
from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HELM = REPO / "deploy" / "helm"
CHARTS = ["platform-lib", "booking", "payment", "biometrics-capture", "notification", "complaint",
          "gateway", "web", "observability", "passport-platform"]
SERVICE_CHARTS = CHARTS[1:8] + CHARTS[9:]
DOCKERFILES = ["booking", "payment", "biometrics-capture", "notification", "complaint", "gateway", "web"]


def _build_outputs() -> set[Path]:
    return {p for p in HELM.glob("*/charts") if p.is_dir()} | set(HELM.glob("*/Chart.lock"))


def test_validate_script_passes_and_checks_every_chart_and_dockerfile():
    before = _build_outputs()
    proc = subprocess.run(["bash", str(HELM / "validate.sh")], cwd=REPO, capture_output=True,
                          text=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"validate.sh failed (exit {proc.returncode}):\n{out[-8000:]}"

    assert "FAIL" not in out, out[-8000:]
    lines = out.splitlines()
    for chart in CHARTS:
        assert any(l.startswith(f"PASS  helm lint --strict {chart} ") for l in lines), f"{chart} not linted"
    for chart in SERVICE_CHARTS:
        for variant in ("default", "production"):
            for step in ("helm template", "kubeconform -strict", "policy"):
                assert any(l.startswith(f"PASS  {step} {chart} (values: {variant},") for l in lines), \
                    f"{step} of {chart} with {variant} values not reported as passed"
    for name in DOCKERFILES:
        assert f"PASS  hadolint docker/{name}.Dockerfile" in lines, f"{name}.Dockerfile not checked"
    assert any(l.startswith("PASS  kubeconform rejects an invalid manifest (self-test") for l in lines)
    summary = next(l for l in lines if l.startswith("charts checked:"))
    assert summary.split(":", 1)[1].split() == CHARTS
    dockerfiles = next(l for l in lines if l.startswith("Dockerfiles checked:"))
    assert sorted(dockerfiles.split(":", 1)[1].split()) == sorted(f"docker/{n}.Dockerfile" for n in DOCKERFILES)
    assert any(l.endswith("checks passed, 0 failed") for l in lines)

    # `helm dependency build` ran in a temporary copy: the checkout got no charts/ or Chart.lock.
    assert _build_outputs() == before
