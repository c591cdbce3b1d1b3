# The workflow of the passport platform. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUN_DIR ?= .run
export PYTHONPATH := $(CURDIR):$(CURDIR)/libs:$(CURDIR)/gen/python
PROTOS := $(wildcard protos/passport/v1/*.proto)
# helm from PATH, else the one deploy/helm/validate.sh built into the tools cache.
HELM ?= $(shell command -v helm 2>/dev/null || echo $${PASSPORT_CACHE:-$$HOME/.cache/passport-platform}/tools/helm-v3.22.0/helm)
NAMESPACE ?= passport

.PHONY: lock rotate-keys help up down logs status demo test unit integration bench protos venv provision provision-web clean deploy charts contracts observe dashboards
.PHONY: images cluster-up cluster-down cluster-test

help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# Every package, direct and indirect, from the hashed lock (`make lock`): a file whose hash is not
# in the lock is refused. pip itself is not upgraded (that download would be the one unhashed).
$(VENV)/.installed: requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --require-hashes -r requirements-dev.lock
	touch $@

venv: $(VENV)/.installed ## Python environment from the hashed lock requirements-dev.lock

lock: ## re-resolve requirements*.lock and docker/requirements/*.lock (hashes) from the direct pins, with a pinned uv
	bash deploy/lock.sh

gen/python/.stamp: $(VENV)/.installed $(PROTOS)
	rm -rf gen/python && mkdir -p gen/python
	$(PY) -m grpc_tools.protoc -Iprotos --python_out=gen/python --grpc_python_out=gen/python $(PROTOS)
	touch gen/python/passport/__init__.py gen/python/passport/v1/__init__.py $@

protos: gen/python/.stamp ## generate the Python code of protos/ into gen/python (the only place)

provision: ## fetch/build Kafka and FerretDB into the cache (~/.cache/passport-platform)
	deploy/local/provision.sh

provision-web: ## Debian chromium + chromium-driver and npm axe-core for the web app's browser tests (skips what is there)
	deploy/local/provision_web.sh

up: venv protos provision ## start Kafka, FerretDB, the five services and the gateway; seed demo data
	$(PY) -m deploy.local.stack up --run-dir $(RUN_DIR)

down: ## stop everything `make up` started
	$(PY) -m deploy.local.stack down --run-dir $(RUN_DIR)

status: ## show what is running
	$(PY) -m deploy.local.stack status --run-dir $(RUN_DIR)

rotate-keys: ## re-encrypt stored personal data of the running stack under the first keys (also what is still in clear); idempotent
	$(PY) -m deploy.local.stack rotate-keys --run-dir $(RUN_DIR)

logs: ## follow the logs of the running stack
	tail -n 20 -F $(RUN_DIR)/logs/*.log

demo: ## drive the applicant journey against the running stack
	$(PY) -m deploy.local.demo

unit: venv protos ## unit tests (no servers)
	$(PY) -m pytest -q tests/unit

integration: venv protos provision provision-web ## integration tests against real Kafka and FerretDB they start themselves
	$(PY) -m pytest -q tests/integration

test: venv protos provision provision-web ## all tests: unit, integration, then the attack replays of tests/security
	$(PY) -m pytest -q tests/unit tests/integration tests/security

bench: venv protos provision provision-web ## benchmarks; prints a table
	deploy/local/provision_web.sh lighthouse
	$(PY) -m tests.bench.run

charts: ## static checks of the Helm charts and Dockerfiles (helm lint, kubeconform, hadolint; also in `make test`)
	bash deploy/helm/validate.sh

contracts: ## buf lint + buf breaking of protos/ against the last landed main (also in `make test`)
	bash deploy/observability/contracts.sh

observe: venv protos ## Prometheus (built once into the cache) scraping the running `make up` stack with the cluster's alert rules; prints its UI URL
	$(PY) -m deploy.observability.observe up --run-dir $(RUN_DIR)

MINUTES ?= 30
dashboards: venv ## draw every dashboard from the local Prometheus (`make observe`) over the last MINUTES (30) into $(RUN_DIR)/dashboards/*.png
	$(PY) -m deploy.observability.render --prometheus http://127.0.0.1:$${PROMETHEUS_PORT:-9090} --minutes $(MINUTES) --out $(RUN_DIR)/dashboards

deploy: ## helm upgrade --install one chart: make deploy SERVICE=<chart> [NAMESPACE=passport] [HELM_ARGS="-f values.yaml"] (current kube context)
	@test -n "$(SERVICE)" -a -f "deploy/helm/$(SERVICE)/Chart.yaml" || { echo "usage: make deploy SERVICE=<one of: $$(cd deploy/helm && ls */Chart.yaml | cut -d/ -f1 | grep -vx platform-lib | tr '\n' ' ')>"; exit 2; }
	@# Dependencies (file://) are built in a temporary copy, service charts first (the umbrella packages them), so the checkout gets no charts/ or Chart.lock.
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; cp -R deploy/helm/. "$$tmp/"; \
	for c in $$(cd "$$tmp" && grep -l '^  - name: platform-lib' */Chart.yaml | cut -d/ -f1) $(SERVICE); do \
	  if grep -q '^dependencies:' "$$tmp/$$c/Chart.yaml"; then "$(HELM)" dependency build "$$tmp/$$c" >/dev/null; fi; done; \
	"$(HELM)" upgrade --install $(SERVICE) "$$tmp/$(SERVICE)" -n $(NAMESPACE) --wait --atomic --timeout 10m $(HELM_ARGS)

images: ## container images: a debootstrap minbase base, every service on it (buildah), tagged with the git revision (root)
	bash docker/build-images.sh

cluster-up: ## a real single-node Kubernetes here: Debian etcd/containerd/runc/CNI, Kubernetes + CoreDNS built from the Go proxy (root)
	bash deploy/cluster/cluster.sh up

cluster-down: ## stop and remove everything cluster-up started
	bash deploy/cluster/cluster.sh down

cluster-test: venv protos ## install the platform on the local cluster (make images cluster-up first) and exercise it
	$(PY) -m pytest -q -p no:cacheprovider tests/cluster

clean: down ## remove generated code and the run directory (not the cache)
	rm -rf gen $(RUN_DIR)
