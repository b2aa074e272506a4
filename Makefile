# txc — see README.md. Every target works on a fresh machine with Go installed.
GO        ?= go
BIN       := bin
DATA_DIR  ?= ./txc-data
# go test flags; CI=true makes every test that needs a database or etcd fail
# instead of skipping when it cannot reach one.
TESTFLAGS ?= -race -count=1 -timeout 20m

.PHONY: all build run cluster test test-short bench proto proto-check lint databases clean

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/...

## run: start the coordinator on its embedded store (127.0.0.1:8091 gRPC, 127.0.0.1:7091 admin)
run: build
	$(BIN)/txc-server --data-dir $(DATA_DIR)

## cluster: three nodes on loopback sharing a PostgreSQL store, with etcd (see scripts/cluster.sh)
cluster: build
	scripts/cluster.sh

## test: everything: generated code current, vet, gofmt, all tests with -race
test: databases proto-check lint
	$(GO) test $(TESTFLAGS) ./...

## test-short: the tests that need no database, private server, browser or subprocess (seconds once built):
##   the others skip under -short (dbtest.SkipShort, called by dbtest.Open, the private servers, etcdtest,
##   the console's browser test and the xa-mysql bench scenario; storetest's kill test; integration's TestMain);
##   in-process coordinators on loopback still run, TestCrashAnywhere runs 30 seeds instead of 300. No -race.
test-short:
	$(GO) test -short -count=1 ./...

## bench: the coordinator benchmark against a fresh server with the embedded store
bench: build
	scripts/bench.sh

## databases: the shared MariaDB and PostgreSQL, and the PostgreSQL 17+ build the MERGE tests run
##   privately (scripts/postgres17.sh: built from Debian's source once, minutes; reused after)
databases:
	scripts/databases.sh
	scripts/postgres17.sh >/dev/null

proto:
	scripts/proto.sh

proto-check:
	scripts/proto.sh --check

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf $(BIN)
