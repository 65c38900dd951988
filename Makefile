# chaoslab — an observability and resilience lab for Go microservices.
# `make help` lists the targets. Tool binaries are built from pinned versions
# (tools/go.mod) into .tools/ (gitignored), once.

SHELL       := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
GO          ?= go
TOOLS_DIR   := $(CURDIR)/.tools
TOOLS_BIN   := $(TOOLS_DIR)/bin
BIN         := $(CURDIR)/bin
REPORTS     := $(CURDIR)/reports
GOTESTSUM   := $(TOOLS_BIN)/gotestsum
# The pinned lab tools (`make tools`; versions in tools/README.md).
K6               := $(TOOLS_BIN)/k6
TOXIPROXY_SERVER := $(TOOLS_BIN)/toxiproxy-server
TOXIPROXY_CLI    := $(TOOLS_BIN)/toxiproxy-cli
JAEGER           := $(TOOLS_BIN)/jaeger
PROMETHEUS       := $(TOOLS_BIN)/prometheus
PROMTOOL         := $(TOOLS_BIN)/promtool
# The registry of the shop's lab (etcd; in `make tools`), and with it the
# Kubernetes test control plane (`make tools-kube`, not in `make tools`).
ETCD             := $(TOOLS_BIN)/etcd
KUBE_APISERVER   := $(TOOLS_BIN)/kube-apiserver
SERVICES    := gateway orders inventory payments issuer nats shipping
# Packages of the unit and in-process integration layer. Plain `go test ./...`
# runs them too, without the tests behind `-tags tools` (those run the pinned
# k6 and promtool); the integration and e2e layers are behind `-tags
# integration` and `-tags e2e`.
UNIT_PKGS   = $(shell $(GO) list ./services/... ./faults/... ./harness/... ./internal/... ./cmd/... ./dashboards/... ./labs/... | grep -v -e /contracttest -e /integration)
# The second system under test, a Go module of its own (examples/bookings):
# its unit tests run in the unit layer, its scenarios in `make chaos-example`.
EXAMPLE     := examples/bookings
# Packages of the contract layer.
CONTRACT_PKGS := ./contracts/... ./services/contracttest/...

.DEFAULT_GOAL := help

## help: list the targets
.PHONY: help
help:
	@echo "chaoslab — make targets:"
	@grep -hE '^## [a-zA-Z0-9_-]+:' $(MAKEFILE_LIST) | sed -E 's/^## ([^:]+): /\1\t/' | awk -F'\t' '{printf "  %-18s %s\n", $$1, $$2}'

## build: build the shop's services and the chaoslab CLI into bin/
.PHONY: build
build:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ $(addprefix ./services/cmd/,$(SERVICES)) ./cmd/chaoslab

# ---- container images ----------------------------------------------------
# Images are built locally from static binaries, FROM scratch: nothing is
# pulled. IMAGE_TAG names the shop's images chaoslab/<service>:$(IMAGE_TAG).
IMAGE_TAG   ?= dev
IMAGE_DIR   := $(BIN)/image
GOARCH_HOST := $(shell $(GO) env GOARCH)
# The shop's images: its services, and its registry — the pinned etcd
# (.tools/bin/etcd), in the same kind of image (SERVICE=registry). Not in
# SERVICES: that list is what `go build` builds.
IMAGE_SERVICES := $(SERVICES) registry

## images: build the shop's images chaoslab/<service>:$(IMAGE_TAG) from ./Dockerfile (static binaries, FROM scratch): its services and its registry (etcd)
.PHONY: images
images: image-binaries
	@for s in $(IMAGE_SERVICES); do \
	  echo ">> docker build chaoslab/$$s:$(IMAGE_TAG)"; \
	  docker build -q --build-arg SERVICE=$$s -t chaoslab/$$s:$(IMAGE_TAG) . >/dev/null; \
	done
	@docker images --format '{{.Repository}}:{{.Tag}}\t{{.Size}}' 'chaoslab/*'

# The stand-ins for the third-party images, from the pinned static tools, for
# machines that cannot pull (COMPOSE_OFFLINE=1). Prometheus must be the
# static build: PROMETHEUS_FROM_SOURCE=1 make tools.
OFFLINE_TOOLS := toxiproxy:toxiproxy-server jaeger:jaeger prometheus:prometheus k6:k6

## images-offline: build chaoslab/{toxiproxy,jaeger,prometheus,k6}:local from the pinned tools (compose without an image registry)
.PHONY: images-offline
images-offline: tools
	@if ! go version -m $(PROMETHEUS) >/dev/null 2>&1 || ldd $(PROMETHEUS) >/dev/null 2>&1; then \
	  echo "images-offline needs a static Prometheus: PROMETHEUS_FROM_SOURCE=1 make tools"; exit 2; fi
	@for pair in $(OFFLINE_TOOLS); do \
	  name=$${pair%%:*}; bin=$${pair#*:}; ctx=$(IMAGE_DIR)/tools/$$name; \
	  mkdir -p $$ctx && cp -L $(TOOLS_BIN)/$$bin $$ctx/ && \
	  echo ">> docker build chaoslab/$$name:local (docker/$$name.Dockerfile)" && \
	  docker build -q -f docker/$$name.Dockerfile -t chaoslab/$$name:local $$ctx >/dev/null; \
	done

# image-binaries: the services as static linux binaries, and the pinned
# static etcd as registry, the context ./Dockerfile copies from.
.PHONY: image-binaries
image-binaries: $(ETCD)
	@mkdir -p $(IMAGE_DIR)/services/rootfs/data $(IMAGE_DIR)/services/rootfs/tmp
	CGO_ENABLED=0 GOOS=linux GOARCH=$(GOARCH_HOST) $(GO) build -trimpath -o $(IMAGE_DIR)/services/ $(addprefix ./services/cmd/,$(SERVICES))
	install -m 0755 $(ETCD) $(IMAGE_DIR)/services/registry

## generate: regenerate the gRPC code from services/api (needs protoc: apt-get install protobuf-compiler libprotobuf-dev)
.PHONY: generate
generate:
	$(GO) generate ./services/api/...

## check-generated: fail when regenerating the gRPC code changes anything
.PHONY: check-generated
check-generated: generate
	@git diff --exit-code -- services/api || { echo "generated code is stale: run 'make generate' and commit"; exit 1; }
	$(MAKE) -C $(EXAMPLE) generate-check

## slo: regenerate the Prometheus rules in slo/rules from the SLO definitions slo/slos.yaml
.PHONY: slo
slo:
	$(GO) run ./cmd/chaoslab slo generate

## slo-check: fail when slo/rules is stale; promtool check and unit-test the burn-rate rules
.PHONY: slo-check
slo-check: tools
	$(GO) run ./cmd/chaoslab slo check
	$(PROMTOOL) check rules slo/rules/*.yml
	$(PROMTOOL) test rules slo/tests/*.yml

## compose-file: regenerate docker-compose.yml and compose/ (prometheus.yml, toxiproxy.json, jaeger.yaml) from the lab file labs/shop/lab.yaml
.PHONY: compose-file
compose-file:
	$(GO) run ./cmd/chaoslab compose-file

## manifests: write the lab's Kubernetes manifests into k8s/ (kustomize base + overlays, k6-operator TestRun; K8S_LAB=file, K8S_DIR=dir, K8S_FLAGS=...); docs/kubernetes.md
.PHONY: manifests
K8S_LAB  ?= labs/shop/lab.yaml
K8S_DIR  ?= k8s
K8S_FLAGS ?=
manifests:
	$(GO) run ./cmd/chaoslab manifests -lab $(K8S_LAB) -o $(K8S_DIR) $(K8S_FLAGS)

## compose-file-check: fail when docker-compose.yml or compose/ is stale with the lab file; docker-compose config -q
.PHONY: compose-file-check
compose-file-check:
	$(GO) run ./cmd/chaoslab compose-file -check
	@if command -v docker-compose >/dev/null 2>&1; then docker-compose config -q && echo "docker-compose.yml: valid"; \
	  else echo "docker-compose is not installed: its config check was left out"; fi

## lint: go vet (every build tag: tools, integration, e2e) and gofmt
.PHONY: lint
lint:
	$(GO) vet -tags tools,integration,e2e ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# ---- pinned tool binaries -------------------------------------------------
# The go.mod files under tools/ are the pins; tools/README.md has the table and
# how to bump one. Each binary is a file target on its go.mod/go.sum: built
# once (static, CGO_ENABLED=0), then rebuilt only when a pin changes.

## tools: build the pinned lab tools into .tools/bin once (k6, toxiproxy, jaeger, prometheus, etcd, gotestsum)
.PHONY: tools
tools: $(GOTESTSUM) $(K6) $(TOXIPROXY_SERVER) $(TOXIPROXY_CLI) $(JAEGER) $(PROMETHEUS) $(PROMTOOL) $(ETCD)
	@echo "tools up to date in .tools/bin (prometheus: $$(cut -d' ' -f1-3 $(PROMETHEUS_SOURCE_FILE)))"

# tool_build: print one progress line, then build a pinned tool statically.
# $(1) binary, $(2) module directory, $(3) module, $(4) package,
# $(5) first-build time, $(6) optional variable to stamp with the version (-X).
define tool_build
@mkdir -p $(TOOLS_BIN)
@v=$$($(GO) -C $(2) list -m -f '{{.Version}}' $(3)); \
echo ">> building $(notdir $(1)) $$v ($(4), pinned in $(2)/go.mod), first build $(5)"; \
CGO_ENABLED=0 $(GO) -C $(2) build -trimpath $(if $(6),-ldflags "-X $(6)=$$v") -o $(1) $(4)
endef

$(GOTESTSUM): tools/go.mod tools/go.sum
	$(call tool_build,$@,tools,gotest.tools/gotestsum,gotest.tools/gotestsum,~30 s)

$(K6): tools/go.mod tools/go.sum
	$(call tool_build,$@,tools,go.k6.io/k6,go.k6.io/k6,~2 min)

$(TOXIPROXY_SERVER): tools/go.mod tools/go.sum
	$(call tool_build,$@,tools,github.com/Shopify/toxiproxy/v2,github.com/Shopify/toxiproxy/v2/cmd/server,~1 min (seconds after k6),github.com/Shopify/toxiproxy/v2.Version)

$(TOXIPROXY_CLI): tools/go.mod tools/go.sum
	$(call tool_build,$@,tools,github.com/Shopify/toxiproxy/v2,github.com/Shopify/toxiproxy/v2/cmd/cli,~5 s,github.com/Shopify/toxiproxy/v2.Version)

$(JAEGER): tools/jaeger/go.mod tools/jaeger/go.sum
	$(call tool_build,$@,tools/jaeger,github.com/jaegertracing/jaeger,github.com/jaegertracing/jaeger/cmd/jaeger,~6 min,github.com/jaegertracing/jaeger/internal/version.latestVersion)

## tools-kube: build the pinned etcd and kube-apiserver into .tools/bin (the API server the Kubernetes manifests are dry-run against; not in `make tools`)
.PHONY: tools-kube
tools-kube: $(ETCD) $(KUBE_APISERVER)
	@echo "tools-kube up to date in .tools/bin (etcd, kube-apiserver)"

$(ETCD): tools/kube/go.mod tools/kube/go.sum tools/kube/cmd/etcd/main.go
	$(call tool_build,$@,tools/kube,go.etcd.io/etcd/server/v3,./cmd/etcd,~2 min)

# k8s.io/kubernetes replaces its staging modules with ./staging: tools/kube
# requires each at its published v0.37.2 instead.
$(KUBE_APISERVER): tools/kube/go.mod tools/kube/go.sum
	$(call tool_build,$@,tools/kube,k8s.io/kubernetes,k8s.io/kubernetes/cmd/kube-apiserver,~20 min,k8s.io/component-base/version.gitVersion)

# Prometheus and promtool: tools/prometheus.sh links the ones on PATH when they
# are >= 2.42 (Debian 12's package), else builds Prometheus 3 from
# tools/prometheus/go.mod, and records the choice in .tools/prometheus.source.
# The choice sticks until PROMETHEUS_FROM_SOURCE=1 (build) or =0 (PATH) says
# otherwise. Linked binaries get no file prerequisites: make follows the link
# to the packaged binary's old mtime and would otherwise relink every time.
PROMETHEUS_FROM_SOURCE ?=
PROMETHEUS_SOURCE_FILE := $(TOOLS_DIR)/prometheus.source
prometheus_recorded := $(if $(wildcard $(PROMETHEUS_SOURCE_FILE)),$(firstword $(file <$(PROMETHEUS_SOURCE_FILE))))
prometheus_want := $(if $(filter 1,$(PROMETHEUS_FROM_SOURCE)),source,$(if $(filter 0,$(PROMETHEUS_FROM_SOURCE)),path,$(or $(prometheus_recorded),auto)))

$(PROMETHEUS) $(PROMTOOL) &: $(if $(filter path,$(prometheus_want)),,tools/prometheus.sh tools/prometheus/go.mod tools/prometheus/go.sum) $(if $(filter-out $(prometheus_recorded),$(prometheus_want)),prometheus-choice-changed)
	@GO='$(GO)' tools/prometheus.sh $(prometheus_want) $(TOOLS_BIN) $(PROMETHEUS_SOURCE_FILE)

.PHONY: prometheus-choice-changed
prometheus-choice-changed:

## test: the test command: the whole pyramid — lint, unit, integration (containers), contract, e2e (JUnit in reports/)
.PHONY: test
test: lint test-unit test-integration test-contract test-e2e

## test-unit: unit tests and in-process integration tests (services, faults, harness, CLI, dashboards), with the pinned tools' tests (-tags tools)
.PHONY: test-unit
test-unit: tools tools-kube
	@mkdir -p $(REPORTS)
	$(GOTESTSUM) --format pkgname-and-test-fails --junitfile $(REPORTS)/unit.xml --jsonfile $(REPORTS)/unit.json -- -tags tools -race -count=1 -timeout 10m $(UNIT_PKGS)
	cd $(EXAMPLE) && $(GOTESTSUM) --format pkgname-and-test-fails --junitfile $(REPORTS)/example-unit.xml --jsonfile $(REPORTS)/example-unit.json -- -count=1 -timeout 5m ./...

## test-integration: (-tags integration) testcontainers-go: each gRPC service's image behind a Toxiproxy container; deadlines, retries, breaker
.PHONY: test-integration
test-integration: tools image-binaries
	@mkdir -p $(REPORTS)
	TESTCONTAINERS_RYUK_DISABLED=true TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1 \
	  $(GOTESTSUM) --format pkgname-and-test-fails --junitfile $(REPORTS)/integration.xml --jsonfile $(REPORTS)/integration.json -- -tags integration -count=1 -timeout 10m ./services/integration/...

## test-contract: gRPC breaking changes, the gateway→orders pact, the gateway against docs/openapi.yaml
.PHONY: test-contract
test-contract: tools
	@mkdir -p $(REPORTS)
	$(GOTESTSUM) --format pkgname-and-test-fails --junitfile $(REPORTS)/contract.xml --jsonfile $(REPORTS)/contract.json -- -race -count=1 -timeout 5m $(CONTRACT_PKGS)

## contract-baseline: regenerate services/api/descriptor after a deliberate, reviewed API change (protoc)
.PHONY: contract-baseline
contract-baseline:
	$(GO) generate ./contracts

## test-e2e: (-tags e2e) end-to-end tests against a real local lab on shifted ports, and the shop's images under docker-compose (e2e/)
.PHONY: test-e2e
test-e2e: build tools images
	@mkdir -p $(REPORTS)
	$(GOTESTSUM) --format pkgname-and-test-fails --junitfile $(REPORTS)/e2e.xml --jsonfile $(REPORTS)/e2e.json -- -tags e2e -count=1 -timeout 20m ./e2e/...

# STACK=compose runs the lab with docker-compose.yml; COMPOSE_OFFLINE=1 uses
# the stand-in images (make images-offline) instead of pulling.
STACK           ?= local
COMPOSE_OFFLINE ?=
export CHAOSLAB_COMPOSE_OFFLINE := $(COMPOSE_OFFLINE)
compose_images  = images $(if $(filter 1,$(COMPOSE_OFFLINE)),images-offline)

## chaos: the main job: a fresh lab (STACK=local|compose), every scenario for it (SCENARIO=name for one, REPEAT=N rounds with a verdict-stability table), then down; exit 0 only if all met their expectation
.PHONY: chaos
chaos: build tools $(if $(filter compose,$(STACK)),$(compose_images))
	$(BIN)/chaoslab chaos -stack $(STACK) $(if $(SCENARIO),-scenario $(SCENARIO)) $(if $(REPEAT),-repeat $(REPEAT))

## chaos-sensitivity: every expect-pass scenario with its faults replaced by no-ops (nothing injected): each must fail on data, or the run exits 1 (the table shows which checks caught the missing fault)
.PHONY: chaos-sensitivity
chaos-sensitivity: build tools $(if $(filter compose,$(STACK)),$(compose_images))
	$(BIN)/chaoslab chaos -sensitivity -stack $(STACK) $(if $(SCENARIO),-scenario $(SCENARIO))

## chaos-example: the same main job on the second system under test, examples/bookings (its own lab file, services, k6 script, SLOs and scenarios); SENSITIVITY=1 for its sensitivity run
.PHONY: chaos-example
chaos-example: build tools
	$(MAKE) -C $(EXAMPLE) build
	$(BIN)/chaoslab chaos -lab $(EXAMPLE)/lab.yaml -chaos-run-dir .run/bookings -reports $(REPORTS)/bookings $(if $(filter 1,$(SENSITIVITY)),-sensitivity) $(if $(SCENARIO),-scenario $(SCENARIO))

## explore: find the faults that break the shop's checkout (docs/explore.md): a fault space from a baseline's traces, run point by point within BUDGET (10m), a matrix and a scenario per finding; KNOBS=svc.flag=v,… explores a weaker configuration, FOCUS=svc|edge a part
.PHONY: explore
explore: build tools
	$(BIN)/chaoslab explore -journey checkout.js -chaos-run-dir .run/explore $(if $(BUDGET),-budget $(BUDGET)) $(if $(KNOBS),-knobs $(KNOBS)) $(if $(FOCUS),-focus $(FOCUS))

## explore-example: the same exploration, unchanged, on the second system under test (examples/bookings)
.PHONY: explore-example
explore-example: build tools
	$(MAKE) -C $(EXAMPLE) build
	$(BIN)/chaoslab explore -lab $(EXAMPLE)/lab.yaml -chaos-run-dir .run/bookings-explore -reports $(REPORTS)/bookings-explore $(if $(BUDGET),-budget $(BUDGET))

## up: start the lab with docker compose (images built here, third-party images pulled; COMPOSE_OFFLINE=1: stand-ins); Grafana on :3000
.PHONY: up
up: build $(compose_images)
	$(BIN)/chaoslab up -stack compose

## down: stop the compose lab and remove its containers and volumes
.PHONY: down
down: build
	$(BIN)/chaoslab down -stack compose

## compose-check: check docker-compose.yml, build the shop's images, run them as containers with a smoke test (what CI can do without a registry)
.PHONY: compose-check
compose-check: tools images
	docker-compose config -q
	@mkdir -p $(REPORTS)
	$(GOTESTSUM) --format pkgname-and-test-fails --junitfile $(REPORTS)/compose.xml --jsonfile $(REPORTS)/compose.json -- -tags e2e -count=1 -timeout 5m -run 'TestCompose' ./e2e/...

## up-local: start the whole lab as local processes (Jaeger, Prometheus, Toxiproxy, the shop); see bin/chaoslab status
.PHONY: up-local
up-local: build tools
	$(BIN)/chaoslab up

## down-local: stop the local lab
.PHONY: down-local
down-local:
	$(BIN)/chaoslab down

## load: the baseline load test (loadtests/baseline.js, thresholds) against the running local lab (make up-local)
.PHONY: load
load: build tools
	@test -f .run/lab/state.json || { echo "no local lab running: make up-local first"; exit 2; }
	BASE_URL=$${BASE_URL:-http://127.0.0.1:8000} TOKEN=$$($(BIN)/chaoslab token -token-url http://127.0.0.1:8090/oauth2/token -secret-file .run/lab/client.secret) \
	  RUN_ID=$${RUN_ID:-load-$$(date -u +%Y%m%d-%H%M%S)} \
	  $(K6) run --no-usage-report --address= loadtests/baseline.js

## validate: check the scenario files
.PHONY: validate
validate: build
	$(BIN)/chaoslab validate

## bench: benchmarks: checkout with instrumentation on vs off, fault interceptor overhead
.PHONY: bench
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./services/...

## bench-checkout: checkout throughput, instrumentation on vs off, alternated over ROUNDS, median ratio (target ≥ 0.85)
.PHONY: bench-checkout
bench-checkout:
	@mkdir -p $(BIN)
	$(GO) test -c -o $(BIN)/services.test ./services/
	@for i in $$(seq $${ROUNDS:-5}); do \
	  for v in instrumented uninstrumented; do \
	    (cd services && $(BIN)/services.test -test.run '^$$' -test.bench "BenchmarkCheckout/^$$v\$$" -test.benchtime $${BENCHTIME:-3s}) | grep '^BenchmarkCheckout'; \
	  done; \
	done | tee /dev/stderr | awk '/instrumented-/ && !/uninstrumented/ {i[++ni]=$$(NF-1)} /uninstrumented-/ {u[++nu]=$$(NF-1)} \
	  END { if (!ni || ni != nu) exit 1; for (k=1;k<=ni;k++) { r[k]=i[k]/u[k]; printf "round %d: %.0f vs %.0f orders/s, ratio %.3f\n", k, i[k], u[k], r[k] } \
	        n=ni; for (a=2;a<=n;a++) for (b=a;b>1 && r[b]<r[b-1];b--) { t=r[b]; r[b]=r[b-1]; r[b-1]=t } \
	        m=(n%2)?r[(n+1)/2]:(r[n/2]+r[n/2+1])/2; printf "instrumented/uninstrumented throughput, median of %d rounds: %.3f\n", n, m }'

## fuzz: fuzz the gateway's request decoding, the lab-file and the scenario parsers, 60s each (FUZZTIME=…)
.PHONY: fuzz
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecodePlaceOrder$$' -fuzztime $${FUZZTIME:-60s} ./services/gateway/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $${FUZZTIME:-60s} ./harness/lab/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $${FUZZTIME:-60s} ./harness/scenario/

## token: mint a dev JWT for the gateway (key from CHAOSLAB_JWT_KEY or JWT_KEY_FILE)
.PHONY: token
token:
	@$(GO) run ./cmd/chaoslab token $${JWT_KEY_FILE:+-key-file $$JWT_KEY_FILE}

## clean: remove build outputs, run state and reports (keeps .tools)
.PHONY: clean
clean:
	rm -rf $(BIN) $(REPORTS) .run

## chaos-shard: one part of the library on a lab of its own: SHARD=K/N (e.g. 2/3; PORT_OFFSET=N to run several here); join the parts with bin/chaoslab report -merge (docs/ci.md)
.PHONY: chaos-shard
chaos-shard: build tools
	@test -n "$(SHARD)" || { echo 'make chaos-shard needs SHARD=K/N, e.g. SHARD=2/3' >&2; exit 2; }
	$(BIN)/chaoslab chaos -stack $(STACK) -shard $(SHARD) $(if $(PORT_OFFSET),-port-offset $(PORT_OFFSET) -chaos-run-dir .run/chaos-shard-$(subst /,of,$(SHARD)))
