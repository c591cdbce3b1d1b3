"""Contracts for independent deploys: deploy/observability/contracts.sh runs `buf lint` and
`buf breaking` (against the last landed main) on protos/. It passes on this repository, and it
really fails a change that would break a deployed peer (checked on a scratch git copy of protos/)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "deploy" / "observability" / "contracts.sh"


def run(*args, cwd=None, check=False) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600, check=check,
                          env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1"})


def contracts(repo: Path, **env) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), str(repo)], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **env})


def scratch_repo(tmp_path: Path) -> Path:
    """A git repository holding a copy of protos/, committed once."""
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "protos", repo / "protos")
    git = ["git", "-c", "user.name=ci", "-c", "user.email=ci@example.invalid", "-c", "commit.gpgsign=false"]
    run("git", "init", "-q", "-b", "main", cwd=repo, check=True)
    run(*git, "add", "protos", cwd=repo, check=True)
    run(*git, "commit", "-q", "-m", "landed", cwd=repo, check=True)
    return repo


def test_the_repository_passes_lint_and_breaking():
    out = contracts(REPO)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "PASS  buf lint" in out.stdout
    if run("git", "-C", str(REPO), "rev-parse", "--verify", "--quiet", "HEAD~1^{commit}").returncode == 0:
        # With history (CI's clone), breaking must really have run, not been skipped.
        assert "PASS  buf breaking" in out.stdout, out.stdout
    else:
        assert "buf breaking skipped" in out.stdout, out.stdout


def remove_first_field(repo: Path) -> None:
    """Drop the first field of the first message of payment.proto: a deployed peer still sends/reads it."""
    proto = repo / "protos" / "passport" / "v1" / "payment.proto"
    text = proto.read_text()
    m = re.search(r"message \w+ \{\n(\s+[^\n]*= 1;[^\n]*\n)", text)
    assert m, "payment.proto has a message with field number 1"
    proto.write_text(text.replace(m.group(1), "", 1))


def test_removing_a_field_of_a_landed_message_fails(tmp_path):
    repo = scratch_repo(tmp_path)
    assert contracts(repo).returncode == 0, "an unchanged copy passes"
    remove_first_field(repo)
    out = contracts(repo)
    assert out.returncode != 0, out.stdout
    assert "PASS  buf lint" in out.stdout and "deleted" in (out.stdout + out.stderr).lower(), out.stdout + out.stderr


def test_a_committed_breaking_change_fails_against_the_commit_before(tmp_path):
    """CI checks a clean clone of main: the break is committed, so the baseline is the landed parent."""
    repo = scratch_repo(tmp_path)
    remove_first_field(repo)
    git = ["git", "-c", "user.name=ci", "-c", "user.email=ci@example.invalid", "-c", "commit.gpgsign=false"]
    run(*git, "commit", "-q", "-am", "drop a field", cwd=repo, check=True)
    clone = tmp_path / "clone"  # what CI checks out: origin/main is HEAD itself
    run("git", "clone", "-q", str(repo), str(clone), check=True)
    out = contracts(clone)
    assert out.returncode != 0, out.stdout
    assert "buf breaking protos --against HEAD~1" in out.stdout, out.stdout
    assert "deleted" in (out.stdout + out.stderr).lower(), out.stdout + out.stderr


def test_a_lint_violation_fails(tmp_path):
    repo = scratch_repo(tmp_path)
    extra = repo / "protos" / "passport" / "v1" / "extra.proto"
    extra.write_text('syntax = "proto3";\npackage passport.v1;\nmessage bad_name { string X = 1; }\n')
    out = contracts(repo)
    assert out.returncode != 0 and "PASS  buf lint" not in out.stdout, out.stdout
    assert "PascalCase" in out.stdout + out.stderr, out.stdout + out.stderr


def test_without_history_breaking_is_skipped_with_a_note(tmp_path):
    copy = tmp_path / "nogit"
    shutil.copytree(REPO / "protos", copy / "protos")
    out = contracts(copy)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "buf breaking skipped" in out.stdout


def test_a_break_since_the_last_release_fails_even_when_the_last_commit_has_it(tmp_path):
    """A field dropped after release v0.1.0, then an unrelated commit: against HEAD~1 nothing changed,
    but a peer still running v0.1.0 would break, so the release check fails."""
    repo = scratch_repo(tmp_path)
    git = ["git", "-c", "user.name=ci", "-c", "user.email=ci@example.invalid", "-c", "commit.gpgsign=false"]
    run(*git, "tag", "-a", "v0.1.0", "-m", "release", cwd=repo, check=True)
    remove_first_field(repo)
    run(*git, "commit", "-q", "-am", "drop a field", cwd=repo, check=True)
    (repo / "README").write_text("unrelated\n")
    run(*git, "add", "README", cwd=repo, check=True)
    run(*git, "commit", "-q", "-m", "unrelated", cwd=repo, check=True)
    out = contracts(repo)
    assert out.returncode != 0, out.stdout
    assert "PASS  buf breaking against HEAD~1" in out.stdout, out.stdout
    assert "buf breaking protos --against v0.1.0" in out.stdout, out.stdout
    assert "deleted" in (out.stdout + out.stderr).lower(), out.stdout + out.stderr


def test_without_a_release_tag_the_release_check_is_skipped_with_a_note(tmp_path):
    repo = scratch_repo(tmp_path)
    (repo / "README").write_text("second commit\n")
    git = ["git", "-c", "user.name=ci", "-c", "user.email=ci@example.invalid", "-c", "commit.gpgsign=false"]
    run(*git, "add", "README", cwd=repo, check=True)
    run(*git, "commit", "-q", "-m", "second", cwd=repo, check=True)
    out = contracts(repo)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no release tag (v*) reachable from HEAD" in out.stdout, out.stdout
