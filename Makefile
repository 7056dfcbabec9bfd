# kbackup: build, test and run locally. `make help` lists the targets.
#
# The test environment (kube-apiserver, kubectl, etcd, versitygw, OpenTofu) is
# built from the Go module proxy into a cache outside the checkout, keyed by
# version, so clean clones and CI runs reuse it. Nothing is downloaded at test
# time and nothing is assumed to be installed but Go.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

include core/testenv/versions.env

GO ?= go
BIN := $(CURDIR)/bin
DIST := $(CURDIR)/dist

# Keep in step with core/testenv.CacheDir.
KBACKUP_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/kbackup
KBACKUP_TESTENV_CACHE ?= $(KBACKUP_CACHE)/testenv
export KBACKUP_TESTENV_CACHE

KUBE_DIR := $(KBACKUP_TESTENV_CACHE)/kubernetes-$(KUBERNETES_VERSION)-r$(TESTENV_RECIPE)
ETCD_DIR := $(KBACKUP_TESTENV_CACHE)/etcd-$(ETCD_VERSION)-r$(TESTENV_RECIPE)
VERSITYGW_DIR := $(KBACKUP_TESTENV_CACHE)/versitygw-$(VERSITYGW_VERSION)-r$(TESTENV_RECIPE)
OPENTOFU_DIR := $(KBACKUP_TESTENV_CACHE)/opentofu-$(OPENTOFU_VERSION)-r$(TESTENV_RECIPE)
KREW_DIR := $(KBACKUP_TESTENV_CACHE)/krew-$(KREW_VERSION)-r$(TESTENV_RECIPE)
TESTENV_BINARIES := $(KUBE_DIR)/kube-apiserver $(KUBE_DIR)/kubectl $(ETCD_DIR)/etcd \
	$(VERSITYGW_DIR)/versitygw $(OPENTOFU_DIR)/tofu $(KREW_DIR)/krew

# A release is a tag vX.Y.Z; any other build is v0.0.0-<commit>, a semantic
# version as krew and Terraform registries require.
GIT_DESCRIBE := $(shell git describe --tags --always --dirty --match 'v[0-9]*' 2>/dev/null)
VERSION ?= $(if $(filter v%,$(GIT_DESCRIBE)),$(GIT_DESCRIBE),v0.0.0-$(or $(GIT_DESCRIBE),dev))
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BUILD_DATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
VERSION_PKG := github.com/kbackup/kbackup/core/version
LDFLAGS := -s -w -X $(VERSION_PKG).Version=$(VERSION) -X $(VERSION_PKG).Commit=$(COMMIT) \
	-X $(VERSION_PKG).BuildDate=$(BUILD_DATE)

MODULES := core kubectl-kbackup terraform-provider
# Every test runs under the race detector: the whole suite takes about 2.5
# minutes with warm caches on 2 cores (the end-to-end tests' binaries are
# built without it). RACE= turns it off.
RACE ?= -race
TEST_TIMEOUT ?= 40m
GOTESTFLAGS ?=

CLUSTERS ?= 2
DEV_ENV_DIR := $(CURDIR)/.dev-env

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

##@ Build

.PHONY: build
build: ## Build kubectl-kbackup and terraform-provider-kbackup into ./bin.
	@mkdir -p $(BIN)
	cd kubectl-kbackup && $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/kubectl-kbackup .
	cd terraform-provider && $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/terraform-provider-kbackup .

DIST_PLATFORMS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
# Release archives are reproducible: their times are the commit's, not the
# build's, so the same commit gives the same bytes.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)

.PHONY: dist
dist: ## Cross-compile reproducible release archives, their SHA-256 sums and the krew manifest into ./dist.
	@rm -rf $(DIST)
	GO=$(GO) hack/dist.sh $(VERSION) $(COMMIT) $(SOURCE_DATE_EPOCH) $(DIST) $(DIST_PLATFORMS)
	@cat $(DIST)/SHA256SUMS

IMAGE ?= kbackup/kubectl-kbackup:$(VERSION)
# The first container builder found: docker, podman or buildah.
CONTAINER_BUILDER ?= $(firstword $(foreach b,docker podman buildah,$(if $(shell command -v $(b) 2>/dev/null),$(b))))

.PHONY: image
image: ## Build the kubectl-kbackup container image (IMAGE) with docker, podman or buildah.
	@if [ -z "$(CONTAINER_BUILDER)" ]; then \
		echo "make image: no container builder found; install docker, podman or buildah, or set CONTAINER_BUILDER" >&2; exit 1; fi
	$(CONTAINER_BUILDER) build --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) \
		--build-arg BUILD_DATE=$$(date -u -d @$(SOURCE_DATE_EPOCH) +%Y-%m-%dT%H:%M:%SZ) -t $(IMAGE) .

VALIDATE_KREW_MANIFEST := $(KBACKUP_CACHE)/tools/krew-$(KREW_VERSION)/validate-krew-manifest

$(VALIDATE_KREW_MANIFEST):
	GOWORK=off GOBIN=$(dir $@) $(GO) install sigs.k8s.io/krew/cmd/validate-krew-manifest@$(KREW_VERSION)

.PHONY: krew-validate
krew-validate: $(VALIDATE_KREW_MANIFEST) ## Check dist/kbackup.yaml (made by make dist) with krew's validator.
	$(VALIDATE_KREW_MANIFEST) -manifest $(DIST)/kbackup.yaml -skip-install

##@ Test

.PHONY: testenv
testenv: $(TESTENV_BINARIES) testenv-packages ## Build the test environment's binaries into the cache (once per version), and install Prometheus and Chromium.
	@echo "test environment ready in $(KBACKUP_TESTENV_CACHE)"

# Prometheus (with promtool) and Chromium come from Debian's packages: no
# service is started by installing them. 13 s here, as root; nothing when
# they are there already.
# zstd and jq are what docs/getting-started.md and docs/disaster-recovery.md
# use to read packs and restore records; kubectl-kbackup/test/guides runs them.
TESTENV_PACKAGES := prometheus chromium zstd jq
.PHONY: testenv-packages
testenv-packages: ## Install Prometheus, promtool, Chromium, zstd and jq from Debian's packages when missing.
	@if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null || ! command -v chromium >/dev/null \
		|| ! command -v zstd >/dev/null || ! command -v jq >/dev/null; then \
		echo "installing $(TESTENV_PACKAGES) from Debian's packages"; \
		SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update && $$SUDO apt-get install -y --no-install-recommends $(TESTENV_PACKAGES); \
	fi

# Stamp the version as Kubernetes' own build does, so the servers report
# v1.37.2 and distribution detection sees a real gitVersion.
KUBE_VERSION_VARS := k8s.io/component-base/version k8s.io/client-go/pkg/version
KUBE_MINOR := $(word 2,$(subst ., ,$(KUBERNETES_VERSION)))
KUBE_LDFLAGS := $(foreach p,$(KUBE_VERSION_VARS),-X $(p).gitVersion=$(KUBERNETES_VERSION) -X $(p).gitMajor=1 \
	-X $(p).gitMinor=$(KUBE_MINOR) -X $(p).gitTreeState=clean -X $(p).buildDate=1970-01-01T00:00:00Z)

# The cache directories are keyed by version and TESTENV_RECIPE (bumped when a
# recipe under tools/testenv changes), so the recipes' files are not
# prerequisites: a fresh clone's newer file times would rebuild what is cached.
$(KUBE_DIR)/kube-apiserver $(KUBE_DIR)/kubectl &:
	@echo "building kube-apiserver and kubectl $(KUBERNETES_VERSION) (about 8 minutes on 2 cores from a cold cache)"
	@mkdir -p $(KUBE_DIR).tmp
	cd tools/testenv/kube && GOWORK=off $(GO) build -trimpath -ldflags '$(KUBE_LDFLAGS)' -o $(KUBE_DIR).tmp/ ./cmd/kube-apiserver ./cmd/kubectl
	@rm -rf $(KUBE_DIR) && mv $(KUBE_DIR).tmp $(KUBE_DIR)

$(ETCD_DIR)/etcd:
	@mkdir -p $(ETCD_DIR).tmp
	cd tools/testenv/etcd && GOWORK=off $(GO) build -trimpath -o $(ETCD_DIR).tmp/etcd .
	@rm -rf $(ETCD_DIR) && mv $(ETCD_DIR).tmp $(ETCD_DIR)

$(VERSITYGW_DIR)/versitygw:
	@mkdir -p $(VERSITYGW_DIR).tmp
	GOWORK=off GOBIN=$(VERSITYGW_DIR).tmp $(GO) install -trimpath github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)
	@rm -rf $(VERSITYGW_DIR) && mv $(VERSITYGW_DIR).tmp $(VERSITYGW_DIR)

$(KREW_DIR)/krew:
	@mkdir -p $(KREW_DIR).tmp
	GOWORK=off GOBIN=$(KREW_DIR).tmp $(GO) install -trimpath sigs.k8s.io/krew/cmd/krew@$(KREW_VERSION)
	@rm -rf $(KREW_DIR) && mv $(KREW_DIR).tmp $(KREW_DIR)

# OpenTofu's go.mod has a replace directive, so `go install pkg@version` refuses
# it; it builds from a writable copy of its module directory.
$(OPENTOFU_DIR)/tofu:
	@mkdir -p $(OPENTOFU_DIR).tmp
	src=$$(GOWORK=off GOFLAGS=-mod=mod $(GO) mod download -json github.com/opentofu/opentofu@$(OPENTOFU_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
	rm -rf $(OPENTOFU_DIR).src && cp -r "$$src" $(OPENTOFU_DIR).src && chmod -R u+w $(OPENTOFU_DIR).src; \
	cd $(OPENTOFU_DIR).src && GOWORK=off $(GO) build -trimpath -o $(OPENTOFU_DIR).tmp/tofu ./cmd/tofu
	@rm -rf $(OPENTOFU_DIR).src $(OPENTOFU_DIR) && mv $(OPENTOFU_DIR).tmp $(OPENTOFU_DIR)

.PHONY: test
test: testenv ## Build the test environment, then run every module's unit and end-to-end tests.
	@for m in $(MODULES); do \
		echo "== $$m"; \
		(cd $$m && $(GO) test $(RACE) -timeout $(TEST_TIMEOUT) $(GOTESTFLAGS) ./...); \
	done

DURATION ?= 10m

.PHONY: soak
soak: testenv ## Run the fault test (core/faulttest) for DURATION of faults (default 10m) instead of make test's minute.
	cd core && KBACKUP_FAULT_DURATION=$(DURATION) $(GO) test $(RACE) -count=1 -v -timeout 0 \
		-run '^TestBackupsAndCollectionsUnderFaults$$' ./faulttest

# A count of inputs, not a duration: with a duration, Go up to 1.26 can fail
# a target with a bare "context deadline exceeded" when the deadline passes
# while a busy worker is still running an input (go.dev/issue/75804).
FUZZTIME ?= 200000x

.PHONY: fuzz
fuzz: ## Run every fuzz target of every module for FUZZTIME inputs each (default 200000x); a finding fails and stays in the package's testdata/fuzz as a regression input.
	@n=0; for f in $$(grep -rl --include='*_test.go' '^func Fuzz' $(MODULES) | sort); do \
		dir=$$(dirname $$f); mod=$${dir%%/*}; \
		for target in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
			n=$$((n+1)); echo "== $$dir $$target ($(FUZZTIME))"; \
			(cd $$mod && $(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) ./$${dir#*/}); \
		done; \
	done; \
	if [ $$n -eq 0 ]; then echo "no fuzz targets found"; exit 1; fi; echo "$$n fuzz targets ran for $(FUZZTIME) each"

BENCH ?= .
BENCH_OUT ?= $(CURDIR)/bench-results.md

.PHONY: bench
bench: testenv ## Run the benchmarks (BENCH=regexp) against the test environment; results in bench-results.md, tables copied into docs/benchmarks.md.
	@rm -f $(BENCH_OUT)
	cd kubectl-kbackup && KBACKUP_BENCH_OUT=$(BENCH_OUT) $(GO) test -run '^$$' -bench '$(BENCH)' -benchtime 1x -timeout 90m ./test/bench/
	hack/bench-docs.sh $(BENCH_OUT) docs/benchmarks.md

.PHONY: lint
lint: ## go vet, a gofmt check and a go mod tidy check over every module.
	@unformatted=$$(gofmt -l $(MODULES) tools); if [ -n "$$unformatted" ]; then \
		echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	@for m in $(MODULES); do (cd $$m && $(GO) vet ./...); done
	@# Each module alone, as a user's go get sees it, not through go.work.
	@for m in $(MODULES); do (cd $$m && GOWORK=off $(GO) mod tidy -diff >/dev/null) || \
		{ echo "$$m: go.mod or go.sum is not tidy; run: cd $$m && GOWORK=off go mod tidy"; exit 1; }; done

##@ Run

DEMO_DIR := $(CURDIR)/.demo

.PHONY: demo
# The demo needs clusters only: it does not wait for the S3 server and
# OpenTofu to build on a fresh machine.
demo: $(KUBE_DIR)/kube-apiserver $(ETCD_DIR)/etcd ## Back up a local cluster full of applications into .demo/, verify it, restore a namespace into a second cluster and diff it.
	@mkdir -p $(BIN)
	cd kubectl-kbackup && $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/kubectl-kbackup .
	cd core && $(GO) build -o $(BIN)/demo ./testenv/cmd/demo
	$(BIN)/demo -clusters $(CLUSTERS) -dir .demo -kbackup ./bin/kubectl-kbackup $(if $(KEEP),-keep)

.PHONY: dev-env
dev-env: testenv ## Start CLUSTERS (default 2) local clusters and an S3 server in the foreground.
	@mkdir -p $(BIN)
	cd core && $(GO) build -o $(BIN)/dev-env ./testenv/cmd/dev-env
	$(BIN)/dev-env -clusters $(CLUSTERS) -dir $(DEV_ENV_DIR)

TFPLUGINDOCS_VERSION := v0.25.0
TFPLUGINDOCS := $(KBACKUP_CACHE)/tools/tfplugindocs-$(TFPLUGINDOCS_VERSION)/tfplugindocs

$(TFPLUGINDOCS):
	GOWORK=off GOBIN=$(dir $@) $(GO) install github.com/hashicorp/terraform-plugin-docs/cmd/tfplugindocs@$(TFPLUGINDOCS_VERSION)

.PHONY: docs
docs: docs-reference $(TFPLUGINDOCS) $(OPENTOFU_DIR)/tofu ## Regenerate the command reference (docs/reference) and the provider's docs/ (tfplugindocs).
	hack/provider-docs.sh $(OPENTOFU_DIR)/tofu $(TFPLUGINDOCS)

REFERENCE_DIR := docs/reference

.PHONY: docs-reference
docs-reference: ## Regenerate docs/reference, a page per command of kubectl kbackup, from the cobra command tree.
	cd kubectl-kbackup && $(GO) run ./internal/gen-reference $(CURDIR)/$(REFERENCE_DIR)

.PHONY: docs-check
docs-check: docs ## Fail when the checked-in generated docs are stale, or docs/cli.md and the command tree disagree.
	cd kubectl-kbackup && $(GO) test -count=1 -run '^(TestCLIReferenceMatchesCommandTree|TestEveryCommandTeaches)$$' ./internal/cmd
	@for d in $(REFERENCE_DIR) terraform-provider/docs; do \
		git diff --exit-code -- $$d || { echo "$$d is stale: run make docs and commit it"; exit 1; }; \
		test -z "$$(git ls-files --others --exclude-standard -- $$d)" || { echo "$$d has new files: run make docs and commit them"; exit 1; }; \
	done

.PHONY: clean
clean: ## Remove build outputs and the demo's repository (the test environment cache stays; remove $(KBACKUP_TESTENV_CACHE) by hand).
	rm -rf $(BIN) $(DIST) $(DEV_ENV_DIR) $(DEMO_DIR)
