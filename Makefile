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
SERVICES    := gateway orders inventory payments
# Packages of the unit and in-process integration layer.
UNIT_PKGS   := ./services/... ./internal/... ./cmd/...

.DEFAULT_GOAL := help

## help: list the targets
.PHONY: help
help:
	@echo "chaoslab — make targets:"
	@grep -hE '^## [a-zA-Z0-9_-]+:' $(MAKEFILE_LIST) | sed -E 's/^## ([^:]+): /\1\t/' | awk -F'\t' '{printf "  %-18s %s\n", $$1, $$2}'

## build: build the four services and the chaoslab CLI into bin/
.PHONY: build
build:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ $(addprefix ./services/cmd/,$(SERVICES)) ./cmd/chaoslab

## generate: regenerate the gRPC code from services/api (needs protoc: apt-get install protobuf-compiler)
.PHONY: generate
generate:
	$(GO) generate ./services/api/...

## check-generated: fail when regenerating the gRPC code changes anything
.PHONY: check-generated
check-generated: generate
	@git diff --exit-code -- services/api || { echo "generated code is stale: run 'make generate' and commit"; exit 1; }

## lint: go vet and gofmt
.PHONY: lint
lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

$(GOTESTSUM): tools/go.mod tools/go.sum
	@mkdir -p $(TOOLS_BIN)
	@echo ">> building gotestsum (pinned in tools/go.mod)"
	$(GO) -C tools build -o $(GOTESTSUM) gotest.tools/gotestsum

## test: the test command: lint, then unit and in-process integration tests (JUnit in reports/)
.PHONY: test
test: lint test-unit

## test-unit: unit tests and in-process integration tests of the services
.PHONY: test-unit
test-unit: $(GOTESTSUM)
	@mkdir -p $(REPORTS)
	$(GOTESTSUM) --format pkgname-and-test-fails --junitfile $(REPORTS)/unit.xml --jsonfile $(REPORTS)/unit.json -- -race -count=1 -timeout 10m $(UNIT_PKGS)

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

## fuzz: fuzz the gateway's request decoding for 60s (FUZZTIME=…)
.PHONY: fuzz
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecodePlaceOrder -fuzztime $${FUZZTIME:-60s} ./services/gateway/

## token: mint a dev JWT for the gateway (key from CHAOSLAB_JWT_KEY or JWT_KEY_FILE)
.PHONY: token
token:
	@$(GO) run ./cmd/chaoslab token $${JWT_KEY_FILE:+-key-file $$JWT_KEY_FILE}

## clean: remove build outputs, run state and reports (keeps .tools)
.PHONY: clean
clean:
	rm -rf $(BIN) $(REPORTS) .run
