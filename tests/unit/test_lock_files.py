"""The hashed lock files (`make lock`) agree with the direct pins, and the images' locks with the
shared one (deploy/helm/check_dockerfiles.py, also run by `make charts`)."""
from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("check_dockerfiles", REPO / "deploy/helm/check_dockerfiles.py")
check_dockerfiles = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_dockerfiles)


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    for name in ("requirements.txt", "requirements-dev.txt", "requirements.lock", "requirements-dev.lock"):
        shutil.copy(REPO / name, tmp_path / name)
    shutil.copytree(REPO / "docker/requirements", tmp_path / "docker/requirements")
    return tmp_path


def test_the_committed_locks_are_consistent():
    assert check_dockerfiles.lock_problems(REPO) == []


def test_every_install_uses_the_hashes():
    assert "--require-hashes -r requirements-dev.lock" in (REPO / "Makefile").read_text()
    for dockerfile in (REPO / "docker").glob("*.Dockerfile"):
        text = dockerfile.read_text()
        assert text.count("--require-hashes -r") == 2, dockerfile.name  # the image's venv and protoc's
        assert "-r requirements.txt" not in text and "-c requirements.txt" not in text


def test_the_local_sinks_dependency_is_development_only():
    assert "aiosmtpd" not in check_dockerfiles.direct_pins(REPO / "requirements.txt")
    assert "aiosmtpd" in check_dockerfiles.locked(REPO / "requirements-dev.lock")[0]
    for lock in [REPO / "requirements.lock", *(REPO / "docker/requirements").glob("*.lock")]:
        assert "aiosmtpd" not in check_dockerfiles.locked(lock)[0], lock.name


def test_a_pin_changed_without_make_lock_is_reported(repo_copy: Path):
    req = repo_copy / "requirements.txt"
    req.write_text(req.read_text().replace("flask==3.1.3", "flask==3.1.2"))
    problems = check_dockerfiles.lock_problems(repo_copy)
    assert any("requirements.lock pins flask==3.1.3, requirements.txt says 3.1.2" in p for p in problems)


def test_an_entry_without_hash_and_a_drifted_image_lock_are_reported(repo_copy: Path):
    lock = repo_copy / "docker/requirements/web.lock"
    text = lock.read_text()
    start = text.index("flask==")
    # flask's entry loses its hashes and moves to another version than the shared lock's.
    lock.write_text(text[:start] + "flask==3.0.0" + _after_hashes(text, start))
    problems = check_dockerfiles.lock_problems(repo_copy)
    assert any("web.lock: no --hash for flask" in p for p in problems)
    assert any("web.lock pins flask==3.0.0" in p for p in problems)


def test_a_development_package_in_an_image_lock_is_reported(repo_copy: Path):
    lock = repo_copy / "docker/requirements/payment.lock"
    lock.write_text(lock.read_text() + "pytest==9.2.0 \\\n    --hash=sha256:" + "0" * 64 + "\n")
    problems = check_dockerfiles.lock_problems(repo_copy)
    assert any("payment.lock holds pytest, a development-only dependency" in p for p in problems)


def _after_hashes(text: str, start: int) -> str:
    """The lock text after the hash lines of the entry that starts at `start` (its comments stay)."""
    lines = text[start:].split("\n")
    rest = lines[1:]
    while rest and rest[0].lstrip().startswith("--hash"):
        rest.pop(0)
    return "\n" + "\n".join(rest)


def test_every_image_installs_what_its_code_imports():
    problems = [p for p in check_dockerfiles.check(REPO) if "is not in docker/requirements" in p]
    assert problems == []


def test_an_import_reached_through_the_shared_library_needs_the_images_lock():
    # payment imports servicekit's gRPC client, which imports identity, which imports jwt (PyJWT):
    # the payment image once shipped without it and did not start.
    installed = set(check_dockerfiles.locked(REPO / "docker/requirements/payment.lock")[0])
    problems = check_dockerfiles.missing_distributions(REPO, "docker/payment.Dockerfile", "payment",
                                                      installed - {"pyjwt"})
    assert any("libs/servicekit/identity.py" in p and "pyjwt is not in docker/requirements/payment.lock" in p
               for p in problems), problems
    assert all("pyjwt" in p for p in problems)
