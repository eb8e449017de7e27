# The one test command: `make test`. It installs what the tests need, starts
# the servers they use on loopback, runs every check and test, and stops them.
GO ?= go
FUZZTIME ?= 20s

.PHONY: test lint unit fuzz bench broker

test:
	bash scripts/test.sh

lint:
	bash scripts/lint.sh

unit:
	$(GO) test -race -count=1 ./...

fuzz:
	FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh

bench:
	$(GO) test -run=NONE -bench=. -benchmem ./...

broker:
	$(GO) run ./examples/broker
