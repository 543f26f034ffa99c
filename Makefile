# The two commands the README promises: `make demo` and `make test`.
# Each does its own set-up (venv, pip install, system packages) on a fresh Debian/Ubuntu.
VENV := .venv
BIN := $(VENV)/bin
export PIGALLERY_DATA_DIR ?= .pigallery
export PIGALLERY_REDIS_PORT ?= 6399

.PHONY: demo test stop clean

demo:
	@scripts/bootstrap.sh server,web,pi
	$(BIN)/pigallery redis start
	$(BIN)/pigallery index create
	$(BIN)/pigallery seed --count 24 --days 3
	@echo
	@echo "See the captures from the last day of pi-door (no image bytes in the reply):"
	@echo "  $(BIN)/pigallery redis cli FT.SEARCH pigallery:capture:index '@device:{pi\-door}' RETURN 3 device taken_at lux SORTBY taken_at DESC"
	@echo "Stop Redis with: $(BIN)/pigallery redis stop"

test:
	@scripts/bootstrap.sh server,web,pi,test
	$(BIN)/python -m pytest

stop:
	-$(BIN)/pigallery redis stop

clean: stop
	rm -rf $(VENV) .pigallery
