"""Static checks of docker/*.Dockerfile that need no Docker engine (hadolint runs separately):

    python check_dockerfiles.py REPO

- the six Dockerfiles are one file: apart from the service's names, the EXPOSE/ENTRYPOINT tail
  and COPYs of extra files from services/, their instructions are the same;
- each runs what exists: `python -m services.<module>` (services/<module>/__main__.py), the
  gateway gunicorn on services.gateway.wsgi:app with services/gateway/gunicorn_conf.py;
- the image is complete: every import of the repository's own packages (services.*, servicekit.*,
  passport.v1.*) in a file the image copies resolves to a file the image copies (or, for
  passport.v1, to a proto the builder compiles). A service importing another service's module
  without its Dockerfile copying it would start in a container with ModuleNotFoundError;
- the image installs what its code imports: every third-party module imported by the service's
  own files and by the servicekit modules they reach is provided by a distribution in the image's
  lock (a servicekit module gaining `import jwt` must not leave an image without PyJWT);
- the hashed lock files (`make lock`) agree with their inputs: every entry carries hashes,
  requirements.lock and requirements-dev.lock pin each direct pin at its version, each image's
  docker/requirements/<module>.lock holds every name of its .txt at the version of requirements.lock
  (protoc.lock: of requirements-dev.lock), and no development-only package (the local sinks', the
  tests') is in the runtime lock or an image's.

Prints one line per problem; exits 1 if any.
"""
from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

MODULES = {"booking": "booking", "payment": "payment", "biometrics-capture": "biometrics_capture",
           "notification": "notification", "complaint": "complaint", "gateway": "gateway", "web": "web"}


def instructions(text: str) -> list[str]:
    """Dockerfile instructions, continuation lines joined, comments and blank lines dropped."""
    out, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        current += (" " if current else "") + stripped.rstrip("\\").strip()
        if not stripped.endswith("\\"):
            out.append(re.sub(r"\s+", " ", current))
            current = ""
    return out


def copied_sources(instrs: list[str], module: str) -> list[str]:
    """Repository paths the builder stage copies from the build context."""
    sources = []
    for ins in instrs:
        if not ins.startswith("COPY ") or "--from=" in ins:
            continue
        args = [a for a in ins.split()[1:] if not a.startswith("--")]
        sources += [a.replace("${SERVICE_MODULE}", module).rstrip("/") for a in args[:-1]]
    return sources


def is_extra_copy(ins: str) -> bool:
    if not ins.startswith("COPY ") or "--from=" in ins:
        return False
    srcs = ins.split()[1:-1]
    return all(s.startswith("services/") and s not in ("services/__init__.py", "services/${SERVICE_MODULE}/")
               for s in srcs)


def check(repo: Path) -> list[str]:
    problems = []
    protos = {p.stem for p in (repo / "protos/passport/v1").glob("*.proto")}
    if not protos:
        problems.append("no protos/passport/v1/*.proto for the builder to compile")
    for path in ("docker/requirements/protoc.lock", "services/__init__.py", "libs/servicekit/__init__.py"):
        if not (repo / path).is_file():
            problems.append(f"the images copy {path}, which does not exist")

    def body(name: str) -> list[str]:
        text = (repo / "docker" / f"{name}.Dockerfile").read_text()
        instrs = instructions(text)
        cut = next((i for i, ins in enumerate(instrs) if ins.startswith("EXPOSE")), len(instrs))
        module = MODULES[name]
        return [ins.replace(module, "@").replace(name, "@") for ins in instrs[:cut] if not is_extra_copy(ins)]

    reference = body("booking")
    for name, module in MODULES.items():
        where = f"docker/{name}.Dockerfile"
        path = repo / "docker" / f"{name}.Dockerfile"
        if not path.is_file():
            problems.append(f"{where} is missing")
            continue
        text = path.read_text()
        instrs = instructions(text)
        if body(name) != reference:
            problems.append(f"{where} differs from docker/booking.Dockerfile beyond the service's names")
        if f"ARG SERVICE_MODULE={module}" not in instrs:
            problems.append(f"{where}: SERVICE_MODULE must be {module}")
        if "USER 10001:10001" not in instrs:
            problems.append(f"{where}: the image must run as USER 10001:10001")
        entry = next((i for i in instrs if i.startswith("ENTRYPOINT")), "")
        if name == "web":  # the applicant web app: gunicorn on services.web.wsgi:app
            if not (repo / "services/web/wsgi.py").is_file():
                problems.append(f"{where} runs services/web/wsgi.py, which does not exist")
            if "gunicorn" not in entry or "services.web.wsgi:app" not in entry:
                problems.append(f"{where} must run gunicorn services.web.wsgi:app")
        elif name == "gateway":
            for f in ("wsgi.py", "gunicorn_conf.py"):
                if not (repo / "services/gateway" / f).is_file():
                    problems.append(f"{where} runs services/gateway/{f}, which does not exist")
            if "gunicorn" not in entry or "services.gateway.wsgi:app" not in entry:
                problems.append(f"{where} must run gunicorn services.gateway.wsgi:app")
        else:
            if entry != f'ENTRYPOINT ["python", "-m", "services.{module}"]':
                problems.append(f"{where} must run python -m services.{module}")
            if not (repo / "services" / module / "__main__.py").is_file():
                problems.append(f"{where}: services/{module}/__main__.py does not exist")
        problems += import_closure(repo, where, copied_sources(instrs, module), protos)
        lock = repo / f"docker/requirements/{module}.lock"
        if lock.is_file():
            problems += missing_distributions(repo, where, module, set(locked(lock)[0]))
    return problems


# Top-level (or dotted) module -> the distribution that provides it, where the names differ; any
# other third-party module is its own distribution's name. Longest dotted prefix wins.
DISTRIBUTIONS = {
    "PIL": "pillow", "cv2": "opencv-python-headless", "jwt": "pyjwt", "kafka": "kafka-python",
    "grpc": "grpcio", "grpc_health": "grpcio-health-checking", "grpc_reflection": "grpcio-reflection",
    "google.protobuf": "protobuf", "bson": "pymongo", "gridfs": "pymongo",
    "opentelemetry": "opentelemetry-api", "opentelemetry.sdk": "opentelemetry-sdk",
    "opentelemetry.exporter.otlp.proto.http": "opentelemetry-exporter-otlp-proto-http",
}
# Imports that a shared module makes only when a caller of another kind uses it.
ONLY_WHEN_CALLED = {("libs/servicekit/tracing.py", "flask"),  # Flask apps' request hooks (gateway, web)
                    ("libs/servicekit/errors.py", "grpc")}    # gRPC servicers' status codes


def _imports(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out += [(node.lineno, node.module)] + [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return out


def missing_distributions(repo: Path, where: str, module: str, installed: set[str]) -> list[str]:
    """Third-party imports of services/<module>/ and of the servicekit modules they reach, against
    the distributions of the image's lock."""
    todo = sorted((repo / "services" / module).rglob("*.py"))
    seen, problems, reported = set(), [], set()
    while todo:
        path = todo.pop()
        if path in seen or "__pycache__" in path.parts:
            continue
        seen.add(path)
        rel = str(path.relative_to(repo))
        for lineno, name in _imports(path):
            top = name.split(".")[0]
            if top == "servicekit":
                target = repo / "libs" / (name.replace(".", "/") + ".py")
                if target.is_file():
                    todo.append(target)
                continue
            if top in sys.stdlib_module_names or top in ("services", "passport", "__future__"):
                continue
            if (rel, top) in ONLY_WHEN_CALLED:
                continue
            prefix = max((k for k in DISTRIBUTIONS if name == k or name.startswith(k + ".")), key=len, default=None)
            dist = _name(DISTRIBUTIONS[prefix] if prefix else top)
            if dist not in installed and (rel, dist) not in reported:
                reported.add((rel, dist))
                problems.append(f"{where}: {rel}:{lineno} imports {name}, but {dist} is not in "
                                f"docker/requirements/{module}.lock (name it in {module}.txt, run `make lock`)")
    return problems


def import_closure(repo: Path, where: str, sources: list[str], protos: set[str]) -> list[str]:
    files: set[str] = set()
    for src in sources:
        p = repo / src
        if p.is_dir():
            files |= {str(f.relative_to(repo)) for f in p.rglob("*") if f.is_file() and "__pycache__" not in f.parts}
        elif p.is_file():
            files.add(src)
        else:
            return [f"{where} copies {src}, which does not exist"]
    # Where each importable name lives inside the image (PYTHONPATH=/app:/app/libs:/app/gen/python).
    def present(module: str) -> bool | None:
        parts = module.split(".")
        if parts[0] == "services":
            base = "/".join(parts)
        elif parts[0] == "servicekit":
            base = "libs/" + "/".join(parts)
        elif parts[:2] == ["passport", "v1"]:
            if len(parts) < 3:
                return True
            return re.sub(r"(_pb2_grpc|_pb2)$", "", parts[2]) in protos
        elif parts[0] in ("deploy", "tests", "libs", "gen"):
            return False
        else:
            return None  # third-party or standard library
        return f"{base}.py" in files or f"{base}/__init__.py" in files

    problems = []
    for f in sorted(x for x in files if x.endswith(".py")):
        tree = ast.parse((repo / f).read_text(), filename=f)
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                # `from pkg import name`: name is a submodule or an attribute of pkg.
                names = [node.module]
                for a in node.names:
                    sub = f"{node.module}.{a.name}"
                    if present(sub):
                        names = [node.module, sub]
            for name in names:
                if present(name) is False:
                    problems.append(f"{where}: {f}:{node.lineno} imports {name}, which the image does not copy")
    return problems


def _name(raw: str) -> str:
    return re.sub(r"[-_.]+", "-", raw).lower()


def direct_pins(path: Path) -> dict[str, str | None]:
    """name -> pinned version (None for a bare name) of a requirements input, following -r."""
    pins: dict[str, str | None] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-r "):
            pins.update(direct_pins(path.parent / line[3:].strip()))
            continue
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:==\s*([^\s;]+))?", line)
        if m:
            pins[_name(m.group(1))] = m.group(2)
    return pins


def locked(path: Path) -> tuple[dict[str, str], list[str]]:
    """name -> version of a hashed lock file, and the names of entries without a hash."""
    versions, unhashed, current = {}, [], None
    for line in path.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)", line)
        if m:
            current = _name(m.group(1))
            versions[current] = m.group(2)
            unhashed.append(current)
        elif current and "--hash=sha256:" in line and current in unhashed:
            unhashed.remove(current)
    return versions, unhashed


def lock_problems(repo: Path) -> list[str]:
    problems = []
    pairs = [("requirements.txt", "requirements.lock"), ("requirements-dev.txt", "requirements-dev.lock")]
    pairs += [(str(f.relative_to(repo)), str(f.with_suffix(".lock").relative_to(repo)))
              for f in sorted((repo / "docker/requirements").glob("*.txt"))]
    for src, _ in pairs[2:]:
        module = Path(src).stem
        if module != "protoc" and module not in MODULES.values():
            problems.append(f"{src} names no image of docker/")
    for module in MODULES.values():
        if not (repo / f"docker/requirements/{module}.txt").is_file():
            problems.append(f"docker/requirements/{module}.txt is missing")
    locks = {}
    for src, lock in pairs:
        if not (repo / lock).is_file():
            problems.append(f"{lock} is missing: run `make lock`")
            continue
        versions, unhashed = locked(repo / lock)
        locks[lock] = versions
        if unhashed:
            problems.append(f"{lock}: no --hash for {', '.join(unhashed)} (pip --require-hashes refuses it)")
        for name, version in direct_pins(repo / src).items():
            if name not in versions:
                problems.append(f"{lock} lacks {name} of {src}: run `make lock`")
            elif version and versions[name] != version:
                problems.append(f"{lock} pins {name}=={versions[name]}, {src} says {version}: run `make lock`")
    runtime, dev = locks.get("requirements.lock", {}), locks.get("requirements-dev.lock", {})
    for lock, versions in locks.items():
        if not lock.startswith("docker/"):
            continue
        reference = dev if lock.endswith("/protoc.lock") else runtime
        for name, version in versions.items():
            if reference.get(name) != version:
                problems.append(f"{lock} pins {name}=={version}, the shared lock {reference.get(name)}: run `make lock`")
    dev_only = set(direct_pins(repo / "requirements-dev.txt")) - set(direct_pins(repo / "requirements.txt"))
    for lock, versions in locks.items():
        if lock == "requirements-dev.lock" or lock.endswith("/protoc.lock"):
            continue
        for name in sorted(dev_only & set(versions)):
            problems.append(f"{lock} holds {name}, a development-only dependency (requirements-dev.txt)")
    return problems


def main() -> int:
    problems = check(Path(sys.argv[1]).resolve()) + lock_problems(Path(sys.argv[1]).resolve())
    for p in problems:
        print(f"  {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
