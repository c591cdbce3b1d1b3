"""The API keeps the promises of its OpenAPI document (/openapi.json).

Schemathesis (pinned in requirements-dev.txt) runs with every check (`--checks all`) against the
session stack, once with an applicant's token and once with the supervisor's, with a fixed seed
and a time budget per token. Any failure fails the test and is printed. schemathesis.toml next to
this file loads the hooks module and names the few operations whose 422 comes from a rule no JSON
Schema can state (see its comments and docs/openapi.md). Only 127.0.0.1 is addressed.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest

from tests.integration.conftest import staff_token

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).with_name("schemathesis.toml")
SEED = int(os.environ.get("OPENAPI_CONFORMANCE_SEED", "15"))  # another seed explores other corners
SECONDS_PER_TOKEN = int(os.environ.get("OPENAPI_CONFORMANCE_SECONDS", "90"))


def schemathesis(base_url: str, token: str, tmp_path: Path) -> subprocess.CompletedProcess:
    assert urllib.parse.urlsplit(base_url).hostname == "127.0.0.1"  # never anything but the local stack
    command = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "run",
               f"{base_url}/openapi.json", "--checks", "all", "--seed", str(SEED),
               "--max-time", str(SECONDS_PER_TOKEN),
               # one worker: the stack shares the machine, and hypothesis' lambda descriptions are not
               # thread-safe on Python 3.11 (a worker may die with "AST constructor recursion depth")
               "--workers", "1", "--request-timeout", "15",
               "--header", f"Authorization: Bearer {token}", "--no-color",
               "--report", "junit", "--report-dir", str(tmp_path)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=SECONDS_PER_TOKEN + 300)


def assert_conforms(run: subprocess.CompletedProcess, who: str) -> None:
    output = run.stdout + run.stderr
    marker = output.rfind(" SUMMARY ")
    summary = output[output.rfind("\n", 0, marker) + 1:] if marker >= 0 else output[-4000:]
    print(f"--- schemathesis as {who} ---\n{summary}")
    assert run.returncode == 0, f"schemathesis as {who} found failures (exit {run.returncode}):\n{output}"


@pytest.mark.parametrize("who", ["applicant", "supervisor"])
def test_the_api_conforms_to_its_openapi_document(api, stack, who, tmp_path):
    token = api.register_applicant()["token"] if who == "applicant" else staff_token(api, "SUPERVISOR")
    try:
        assert_conforms(schemathesis(stack.gateway_url, token, tmp_path), who)
    finally:
        if who == "supervisor":  # it may have opened TBK's waiting room: the tests after it book there
            api.delete("/v1/offices/TBK/waiting-room", token=token)
            time.sleep(2.5)  # the other gateway workers' cache of the switch
