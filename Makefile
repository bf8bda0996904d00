# hqconnect — run `make run` to serve on the embedded defaults, `make test` to test.
GO        ?= go
BUF       := $(GO) tool -modfile=.tools/go.mod buf
STATICCHECK := $(GO) tool -modfile=.tools/go.mod staticcheck
DEMO_PASSWORD ?= hqconnect-demo

.PHONY: run build test gen lint checkgen breaking bench clean

## run: serve on the embedded defaults (SQLite + in-process Redis under ./var), seeding demo accounts into an empty database
run:
	$(GO) run ./cmd/hqconnect serve --demo --demo-password '$(DEMO_PASSWORD)'

## build: build the binary into ./bin
build:
	$(GO) build -o bin/hqconnect ./cmd/hqconnect

## test: every test with the race detector (set TEST_DATABASE_URL / TEST_REDIS_URL to add PostgreSQL and real Redis)
test:
	$(GO) test -race -count=1 ./...

## gen: regenerate gen/ from api/
gen:
	$(BUF) generate

## lint: formatting, vet, staticcheck, buf lint and buf format
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^gen/')); \
		if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...
	$(BUF) lint
	$(BUF) format -d --exit-code

## checkgen: regenerate and fail if gen/ differs from what is committed; check API compatibility
checkgen: gen
	@git add -N gen >/dev/null 2>&1 || true
	@if ! git diff --quiet -- gen; then echo "gen/ is stale: run make gen and commit"; git diff --stat -- gen; exit 1; fi
	@echo "gen/ is up to date"
	$(MAKE) breaking

## breaking: every recent commit that changed api/ is wire- and JSON-compatible with its parent (buf breaking WIRE_JSON);
## buf clones the history it compares at depth 50 unless told, so it is given the whole of it
breaking:
	@depth=$$(( $$(git rev-list --count HEAD) + 1 )); \
	for c in $$(git log -n 20 --format=%H -- api); do \
		if git cat-file -e "$$c~1:api" 2>/dev/null; then \
			echo "buf breaking: $$(git log -1 --format='%h %s' $$c)"; \
			$(BUF) breaking ".git#ref=$$c,depth=$$depth" --against ".git#ref=$$c~1,depth=$$depth" || exit 1; \
		fi; \
	done
	@if ! git diff --quiet HEAD -- api 2>/dev/null; then \
		echo "buf breaking: working tree against HEAD"; $(BUF) breaking --against '.git#ref=HEAD' || exit 1; fi

## bench: run the benchmarks and write BENCHMARKS.md
bench:
	$(GO) run ./cmd/hqconnect bench -out BENCHMARKS.md

clean:
	rm -rf bin var
