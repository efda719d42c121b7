# Spurt: the two commands a new user needs are `make demo` and `make test`.
GO      ?= go
BIN     := bin/call
# Sound-card support needs cgo and PortAudio's headers (portaudio19-dev); without
# them `call` is built with the nodevice tag and works with WAV files only.
TAGS    := $(shell pkg-config --exists portaudio-2.0 2>/dev/null || echo nodevice)
GOFLAGS_TAGS := $(if $(TAGS),-tags $(TAGS),)

.PHONY: build install demo test bench lint clean

build:
	$(GO) build $(GOFLAGS_TAGS) -o $(BIN) ./cmd/call

# Installs call into $(PREFIX)/bin (default /usr/local/bin; e.g. make install PREFIX=$$HOME/.local).
PREFIX  ?= /usr/local
install: build
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/call

# A real two-process call on 127.0.0.1 with the bundled speech sample, a little
# loss and jitter; writes demo-out/heard-*.wav and prints both summaries. It
# listens on SPURT_DEMO_PORT (default 7000), or the next free port after it.
demo: build
	./scripts/demo.sh $(BIN)

# -parallel 4: most of the end-to-end tests wait on real-time calls, not the CPU.
test: lint
	$(GO) test $(GOFLAGS_TAGS) -count=1 -parallel 4 -timeout 12m ./...

bench:
	$(GO) test $(GOFLAGS_TAGS) -run '^$$' -bench . -benchmem ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	 if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(GOFLAGS_TAGS) ./...

clean:
	rm -rf bin demo-out
