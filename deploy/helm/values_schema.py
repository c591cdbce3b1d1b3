"""Writes values.schema.json of every service chart and of the umbrella chart, derived from the
library defaults (platform-lib/templates/_defaults.tpl, which list every setting), so that a
misspelt key fails `helm lint`/`install` instead of being ignored.

    python deploy/helm/values_schema.py          # (re)write the files
    python deploy/helm/values_schema.py --check  # exit 1 if a file is missing or stale

Rules: a map whose default has keys accepts only those keys (unless it is free-form: env,
resources, selectors, ...); every scalar may also be null or "" (both mean "inherit").
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
SERVICES = ["booking", "payment", "biometrics-capture", "notification", "complaint", "gateway", "web"]
# Maps whose keys are the user's (names, Kubernetes fields): any key is accepted.
FREE_FORM = {"env", "secretEnv", "peers", "resources", "podAnnotations", "podLabels", "nodeSelector",
             "affinity", "annotations", "labels", "ingressFrom", "to"}


def defaults() -> dict:
    text = (HERE / "platform-lib/templates/_defaults.tpl").read_text()
    body = re.search(r'\{\{- define "platform-lib.defaults" -\}\}\n(.*?)\{\{- end -\}\}', text, re.S).group(1)
    return yaml.safe_load(body)


def schema_of(key: str, value) -> dict:
    if isinstance(value, dict):
        if key in FREE_FORM or not value:
            return {"type": ["object", "null"]}
        return {"type": ["object", "null"], "additionalProperties": False,
                "properties": {k: schema_of(k, v) for k, v in value.items()}}
    if isinstance(value, list):
        return {"type": ["array", "null"]}
    if isinstance(value, bool):
        return {"type": ["boolean", "null"]}
    if isinstance(value, int):
        return {"anyOf": [{"type": "integer"}, {"type": "null"}, {"const": ""}]}
    return {"type": ["string", "number", "null"]}


def service_schema() -> dict:
    props = {k: schema_of(k, v) for k, v in defaults().items()}
    glob = {k: v for k, v in props.items()}
    glob["prometheusRule"] = {"type": "object"}  # the observability chart's switch
    props["global"] = {"type": "object", "additionalProperties": False, "properties": glob}
    props["platform-lib"] = {"type": "object"}  # the library dependency's (empty) values
    props["enabled"] = {"type": "boolean"}
    props["nameOverride"] = {"type": "string"}
    # values-production.yaml also carries the umbrella's per-service sections; a service chart
    # installed alone ignores them.
    for name in SERVICES:
        props.setdefault(name, {"type": "object"})
    return {"$schema": "http://json-schema.org/draft-07/schema#", "title": "values of a passport service chart",
            "type": "object", "additionalProperties": False, "properties": props}


def umbrella_schema() -> dict:
    svc = service_schema()
    props = {"global": svc["properties"]["global"],
             "observability": {"type": "object"},
             # templates/kafka-setup.yaml: the topics and ACLs hook Job
             "kafkaSetup": {"type": "object", "additionalProperties": False, "properties": {
                 "enabled": {"type": "boolean"},
                 "image": {"type": "object", "additionalProperties": False, "properties": {
                     "registry": {"type": ["string", "null"]}, "repository": {"type": "string"},
                     "tag": {"type": ["string", "number", "null"]}}},
                 "username": {"type": "string"},
                 "passwordSecretName": {"type": "string"},
                 "waitSeconds": {"type": "integer", "minimum": 0},
                 "backoffLimit": {"type": "integer", "minimum": 0}}}}
    for name in SERVICES:
        props[name] = {"type": "object", "additionalProperties": False,
                       "properties": {k: v for k, v in svc["properties"].items() if k not in SERVICES}}
    return {"$schema": "http://json-schema.org/draft-07/schema#", "title": "values of the passport-platform chart",
            "type": "object", "additionalProperties": False, "properties": props}


def main() -> int:
    check = "--check" in sys.argv
    wanted = {HERE / c / "values.schema.json": service_schema() for c in SERVICES}
    wanted[HERE / "passport-platform/values.schema.json"] = umbrella_schema()
    stale = []
    for path, schema in wanted.items():
        text = json.dumps(schema, indent=2, sort_keys=True) + "\n"
        if check:
            if not path.is_file() or path.read_text() != text:
                stale.append(str(path.relative_to(HERE)))
        else:
            path.write_text(text)
    for s in stale:
        print(f"  {s} is stale: run python deploy/helm/values_schema.py")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
