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

## bench-checkout: checkout throughput with instrumentation on vs off, as a ratio (target ≥ 0.85)
.PHONY: bench-checkout
bench-checkout:
	$(GO) test -run '^$$' -bench 'BenchmarkCheckout' -benchtime $${BENCHTIME:-5s} -count $${COUNT:-3} ./services/ | tee /dev/stderr | \
	  awk '/BenchmarkCheckout\/instrumented/ {i+=$$(NF-1); ni++} /BenchmarkCheckout\/uninstrumented/ {u+=$$(NF-1); nu++} \
	  END { if (ni && nu) printf "instrumented/uninstrumented throughput: %.3f (%.0f vs %.0f orders/s)\n", (i/ni)/(u/nu), i/ni, u/nu; else exit 1 }'

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
