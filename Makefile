# The two commands the README promises: `make demo` and `make test`.
# Each does its own set-up (venv, pip install, system packages) on a fresh Debian/Ubuntu.
#   make demo WEB_PORT=8080 PIGALLERY_REDIS_PORT=6400   other ports
#   make stop                                           finds the demo's server on any port
VENV := .venv
BIN := $(VENV)/bin
# pigallery resolves a relative data dir against the directory make runs in.
export PIGALLERY_DATA_DIR ?= .pigallery
# Exported empty when not given, so that `pigallery redis stop|status|cli` look for the server
# running from the data dir instead of assuming the default port.
export PIGALLERY_REDIS_PORT
DEMO_REDIS_PORT := $(or $(PIGALLERY_REDIS_PORT),6399)
WEB_PORT ?= 5000

.PHONY: demo test test-fast stop clean

demo: export PIGALLERY_REDIS_PORT = $(DEMO_REDIS_PORT)
demo:
	@scripts/bootstrap.sh server,web,pi
	$(BIN)/pigallery redis start
	$(BIN)/pigallery index create
	$(BIN)/pigallery seed --if-empty --count 240 --days 5 --device pi-garden --device pi-door
	@echo
	@echo "Captures of pi-door, newest first, as RediSearch returns them (metadata only, no image bytes):"
	@echo "  $(BIN)/pigallery redis cli --port $(DEMO_REDIS_PORT) FT.SEARCH pigallery:capture:index '@device:{pi\\-door}' RETURN 3 device taken_at lux SORTBY taken_at DESC"
	@echo "Gallery: http://127.0.0.1:$(WEB_PORT)/  (a synthetic camera, pi-live, adds a capture every 5 s)"
	@echo "Ctrl-C stops the web server and the capture agent; 'make stop' stops Redis."
	@# A background job of a non-interactive shell ignores Ctrl-C, hence the trap.
	@$(BIN)/pigallery capture --camera synthetic --interval 5 --device pi-live & agent=$$!; \
	  trap 'kill $$agent 2>/dev/null' EXIT INT TERM; \
	  $(BIN)/pigallery serve --port $(WEB_PORT) --no-access-log

test:
	@scripts/bootstrap.sh server,web,pi,test chromium
	$(BIN)/python -m pytest

# The quick loop while editing: no browser, no make demo, no schemathesis, no 25,000-capture walks.
test-fast:
	@scripts/bootstrap.sh server,web,pi,test
	$(BIN)/python -m pytest -m "not slow and not browser" -q

stop:
	-$(BIN)/pigallery redis stop

clean: stop
	rm -rf $(VENV) $(PIGALLERY_DATA_DIR)
