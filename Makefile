# colibri — one Makefile.
#   make                 build build/colibri
#   make test            unit + integration tests (installs missing packages first)
#   make check           the fast loop: build, unit tests, the integration tests without Kafka
#   make unit T=store    one unit test file (tests/unit/test_store.c); T=store,query for two
#   make integration T=test_api.py::test_limit   one integration test (pytest node id)
#   make SAN=address,undefined test   the same under sanitizers (in build/san)
#   make run             the local demo: SQLite with sample data, serving on :8080
#   make bench           benchmarks against peers, results in bench/results/
#   make lint | image | image-test | deploy ENV=dev | smoke   delivery (see README)
#   make fuzz | chaos | soak   hardening suites (minutes each; not part of make test)
#   V=1                  show the compiler command lines

CC      ?= cc
SAN     ?=
PKGS    := libmicrohttpd jansson libcrypto sqlite3 rdkafka libcurl libjwt zlib
BUILD   := build$(if $(SAN),/san)
Q       := $(if $(V),,@)

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wvla -Wformat=2 \
           -Wpointer-arith -Wmissing-prototypes -Wno-unused-parameter
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Iinclude -Isrc $(WARN) -MMD -MP \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
ifneq ($(SAN),)
CFLAGS  += -fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SAN)
endif

SRCS    := $(shell find src -name '*.c' | sort)
OBJS    := $(SRCS:%.c=$(BUILD)/%.o)
LIBOBJS := $(filter-out $(BUILD)/src/main.o,$(OBJS))
UNITS   := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
# make unit T=name[,name]: run only those unit tests (test_ prefix optional)
comma   := ,
UNITS_RUN := $(if $(and $(T),$(filter unit,$(MAKECMDGOALS))),$(foreach t,$(subst $(comma), ,$(T)),$(BUILD)/tests/test_$(t:test_%=%)),$(UNITS))
# the integration tests that need no Kafka broker: make check runs them
FAST_IT := test_api.py test_access.py test_cli.py test_injection.py test_metrics.py test_pubsub.py
TOOLS   := $(patsubst tools/%.c,$(BUILD)/%,$(wildcard tools/*.c))

.PHONY: all check test unit integration monitoring deps run bench clean valgrind \
        lint image image-test image-save push deploy smoke diagrams fuzz fuzz-replay chaos soak
all: $(BUILD)/colibri $(TOOLS)

COMMIT  := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
$(BUILD)/src/metrics.o: CFLAGS += -DCOLIBRI_COMMIT='"$(COMMIT)"'

$(BUILD)/colibri: $(OBJS)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIBOBJS)
	@mkdir -p $(@D)
	@echo "  CC+LD   $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBOBJS) $(LDLIBS) -lcmocka

$(BUILD)/%: tools/%.c
	@mkdir -p $(@D)
	@echo "  CC+LD   $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)

deps:
	@scripts/deps

unit: $(UNITS_RUN)
	@set -e; for t in $(UNITS_RUN); do echo "== $$t"; $$t; done

integration: $(BUILD)/colibri $(TOOLS)
	COLIBRI_BIN=$(BUILD)/colibri FLIGHTGEN=$(BUILD)/flightgen python3 -m pytest -q \
	    $(if $(T),$(addprefix tests/integration/,$(T)),tests/integration)

check: all unit
	COLIBRI_BIN=$(BUILD)/colibri FLIGHTGEN=$(BUILD)/flightgen python3 -m pytest -q \
	    $(addprefix tests/integration/,$(FAST_IT))

monitoring:
	tests/monitoring/run

test: deps
	@$(MAKE) --no-print-directory all unit
	@$(MAKE) --no-print-directory fuzz-replay
	@$(MAKE) --no-print-directory monitoring
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory integration

lint:        # compose, CircleCI, Terraform + checkov, Dockerfile, diagram validators
	tests/delivery/run

image:       # the container image (buildah here; docker where an engine runs)
	scripts/image-build

image-test:  # build and run the image; the compose topology with a real Kafka; docker-compose.yml up/down
	tests/delivery/check-image && SKIP_RUNTIME_BUILD=1 tests/delivery/check-stack && tests/delivery/check-compose-up

image-save:  # the tested image as build/image.tar + build/image.id, for make push (no rebuild)
	scripts/image-save

push:        # IMAGE=<region>-docker.pkg.dev/<project>/colibri/colibri:<tag> [IMAGE_ARCHIVE=build/image.tar]
	scripts/image-push $(IMAGE)

deploy:      # ENV=dev|prod
	scripts/deploy $(ENV)

smoke:       # ENV=dev|prod, or URL=... TOPIC=...
	scripts/smoke

diagrams:
	diagrams/render

fuzz:        # every libFuzzer harness for FUZZ_SECONDS (60) under ASan+UBSan, then coverage
	scripts/fuzz

fuzz-replay: # the committed corpus and every regression once through every harness
	scripts/fuzz --replay

chaos:       # fault injection against real components: nothing lost, nothing twice
	scripts/chaos

soak:        # 10 minutes of mixed reads at 256 connections while ingesting 5,000 msg/s
	scripts/soak

valgrind: $(UNITS)
	@set -e; for t in $(UNITS); do valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=1 $$t; done

run: deps all
	scripts/run-local

bench: deps all
	bench/run
	python3 bench/scaling.py
	python3 bench/metrics_cost.py
	python3 bench/ingest.py
	python3 bench/sqlite_ceiling.py
	python3 bench/bigquery.py

clean:
	rm -rf build

-include $(OBJS:.o=.d) $(UNITS:=.d)
