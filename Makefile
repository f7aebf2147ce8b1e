# kamailio-aor: build, run and test the aor module.
#
#   make                 build build/aor.so
#   make run             build, check etc/kamailio.cfg, run Kamailio in the
#                        foreground (LISTEN=addr:port, default 127.0.0.1:5060)
#   make cluster         build, then run three nodes of etc/kamailio-cluster.cfg
#                        replicating over dmq, in the foreground (Ctrl-C
#                        stops them): CLUSTER_ADDR (127.0.0.1), CLUSTER_PORTS
#                        ("5060 5062 5064"), CLUSTER_ARGS (more kamailio
#                        options for every node, e.g. "-A WITH_DEBUG")
#   make test            dependencies, build, unit tests, integration tests
#   make bench           bare, stock and aor side by side (bench/bench.py;
#                        BENCH_ARGS="--sizes 10000,100000,1000000 ...");
#                        the tables and their PNG charts in build/bench/
#   make check-layers    the layering rules of modules/aor/ (part of test)
#   make check-memory    a reduced integration suite with Kamailio under
#                        valgrind memcheck; fails on any error in the module
#   make fuzz            libFuzzer targets of test/fuzz/, FUZZ_SECONDS (60)
#                        each, one at a time (FUZZ_TARGETS, FUZZ_MERGE:
#                        test/fuzz/README.md); not part of make test
#   make doc             render doc/*.xml (DocBook) to modules/aor/README and
#                        build/doc/aor.html
#   make deps            install the build dependencies (Debian packages)
#   make deb             build/kamailio-aor-module_<version>_<arch>.deb
#                        (debian/, dpkg-buildpackage), checked by lintian
#   make clean           remove the module's build outputs, keep the Kamailio tree
#   make distclean       remove build/
#
# The module is compiled inside a Kamailio source tree by Kamailio's own
# Makefile.modules, so its flags match the core's. KAMAILIO_SRC=/path uses
# that tree; otherwise Debian's source package of the installed kamailio
# version is fetched into build/ and configured once with `make cfg`.

BUILD := $(CURDIR)/build
MODULE_SRC := modules/aor
AOR_SO := $(BUILD)/aor.so

LISTEN ?= 127.0.0.1:5060
LISTEN_HOST = $(patsubst %:$(LISTEN_PORT),%,$(LISTEN))
LISTEN_PORT = $(lastword $(subst :, ,$(LISTEN)))
CTL_SOCK := unix:$(BUILD)/kamailio_ctl
# /usr/sbin is not on a Debian user's PATH.
KAMAILIO ?= $(firstword $(shell command -v kamailio) /usr/sbin/kamailio)
KAMCMD ?= $(firstword $(shell command -v kamcmd) /usr/sbin/kamcmd)
# Debian's python3-pytest is only seen by Debian's python3, which may not be
# the first python3 on PATH (pyenv, venv).
PYTHON ?= $(shell for p in python3 /usr/bin/python3; do \
	$$p -c 'import pytest' 2>/dev/null && { echo $$p; exit; }; done; \
	echo python3)

# "installed 5.6.3-2" -> 5.6.3-2; empty when the package is not installed.
KAMAILIO_DEB := $(shell dpkg-query -W -f '$${db:Status-Status} $${Version}' \
	kamailio 2>/dev/null | sed -n 's/^installed //p')
# Upstream version: no epoch, no Debian revision (5.6.3-2 -> 5.6.3).
KAMAILIO_UPSTREAM := $(shell echo '$(KAMAILIO_DEB)' | \
	sed -e 's/^[0-9]*://' -e 's/-[^-]*$$//')

ifneq ($(KAMAILIO_SRC),)
KSRC := $(abspath $(KAMAILIO_SRC))
else ifneq ($(KAMAILIO_DEB),)
KSRC := $(BUILD)/kamailio-$(KAMAILIO_UPSTREAM)
FETCH_STAMP := $(BUILD)/stamp-fetch-$(subst :,_,$(KAMAILIO_DEB))
else
KSRC :=
endif

# The flags Debian's kamailio binary was configured with (debian/rules):
# without dpkg-buildflags' -O2, Kamailio's make compiles at -O0.
BUILDFLAGS = $(shell dpkg-buildflags --get $(1) 2>/dev/null)
KCFG_FLAGS = FLAVOUR=kamailio prefix=/usr cfg_target=/etc/kamailio/ \
	LIBDIR=lib/$(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null \
		|| gcc -print-multiarch) \
	CC_EXTRA_OPTS='$(or $(call BUILDFLAGS,CPPFLAGS) $(call BUILDFLAGS,CFLAGS),-O2) -DVERSION_NODATE' \
	LD_EXTRA_OPTS='$(call BUILDFLAGS,LDFLAGS)'

KCONFIG := $(KSRC)/src/config.mak
KMODULE := $(KSRC)/src/modules/aor

# The Debian package, built by dpkg-buildpackage from a copy of the sources
# under build/deb/ (it writes its results into the parent directory).
DEB_PKG := kamailio-aor-module
# Read without dpkg-dev, which a fresh machine lacks until install-deps.sh.
DEB_VERSION := $(shell head -n 1 debian/changelog | cut -d ' ' -f 2 | tr -d '()')
DEB_ARCH := $(shell dpkg --print-architecture)
DEB_FILE := $(BUILD)/$(DEB_PKG)_$(DEB_VERSION)_$(DEB_ARCH).deb
DEB_TREE := $(BUILD)/deb/$(DEB_PKG)-$(DEB_VERSION)
DEB_SOURCES := Makefile README.md debian etc modules/aor tools
DEB_INPUTS := Makefile README.md $(wildcard debian/* debian/source/* \
	etc/* etc/db/* modules/aor/*.[ch] modules/aor/Makefile \
	modules/aor/README tools/*)

RUN_DEFINES := -A 'LISTEN=$(LISTEN)' -A 'AOR_SO="$(AOR_SO)"' \
	-A 'DBURL="text://$(CURDIR)/etc/db"' -A 'CTL_SOCK="$(CTL_SOCK)"' \
	-A 'SNAPSHOT="$(BUILD)/run/aor-snapshot.xml"'

# What the tests get: the module, the Kamailio tree, the sources.
TEST_ENV = AOR_SO='$(AOR_SO)' KAMAILIO_SRC='$(KSRC)' \
	KAMAILIO='$(KAMAILIO)' KAMCMD='$(KAMCMD)' \
	AOR_SRC='$(CURDIR)/$(MODULE_SRC)' AOR_BUILD='$(BUILD)'

.DELETE_ON_ERROR:
.PHONY: all deps run cluster test unit check-layers integration bench check-memory fuzz tree doc doc-render deb clean distclean FORCE

all: $(AOR_SO)

deps:
	sh tools/install-deps.sh build

# Stages in order, stopping at the first that fails.
test:
	sh tools/install-deps.sh test
	$(MAKE) --no-print-directory all
	$(MAKE) --no-print-directory unit
	$(MAKE) --no-print-directory check-layers
	$(MAKE) --no-print-directory integration

clean:
	rm -f $(AOR_SO) $(AOR_SO).tmp $(BUILD)/cfgcheck.log
	rm -rf $(BUILD)/run $(BUILD)/cluster $(BUILD)/deb $(BUILD)/$(DEB_PKG)_*.deb \
		$(BUILD)/$(DEB_PKG)-dbgsym_*.deb
	$(if $(KSRC),rm -rf $(KMODULE))

distclean:
	rm -rf $(BUILD)

ifeq ($(KSRC),)

# Package kamailio not installed yet (fresh machine): install the
# dependencies, then start over so that its version is known.
all run cluster unit check-layers integration bench check-memory fuzz tree doc doc-render deb:
	@if [ -n "$(AOR_DEPS_RETRY)" ]; then \
		echo "kamailio-aor: package kamailio is still not installed" >&2; \
		exit 1; \
	fi
	sh tools/install-deps.sh build
	$(MAKE) --no-print-directory AOR_DEPS_RETRY=1 $@

else

tree: $(KCONFIG)

ifneq ($(FETCH_STAMP),)
# Debian's source package of the installed version, with Debian's patches.
$(FETCH_STAMP):
	sh tools/install-deps.sh build
	rm -rf $(KSRC) $(BUILD)/deb-src
	mkdir -p $(BUILD)/deb-src
	cd $(BUILD)/deb-src && apt-get source -q kamailio=$(KAMAILIO_DEB)
	mv $(BUILD)/deb-src/kamailio-$(KAMAILIO_UPSTREAM) $(KSRC)
	rm -rf $(BUILD)/deb-src
	touch $@

$(KCONFIG): $(FETCH_STAMP)
endif

# `make cfg` once per tree; a tree that is already configured is left alone.
$(KCONFIG):
	$(MAKE) -C $(KSRC) cfg $(KCFG_FLAGS)

# Copy (a symlink breaks Makefile.modules' relative includes) only what
# changed, so Kamailio's make rebuilds incrementally; a file removed here
# is removed there, with the objects, which may depend on it.
$(AOR_SO): $(KCONFIG) FORCE
	@mkdir -p $(KMODULE) $(BUILD)
	@for f in $(MODULE_SRC)/*.c $(MODULE_SRC)/*.h $(MODULE_SRC)/Makefile; do \
		[ -f "$$f" ] || continue; \
		cmp -s "$$f" "$(KMODULE)/$${f##*/}" || cp "$$f" "$(KMODULE)/"; \
	done; \
	for f in $(KMODULE)/*.c $(KMODULE)/*.h; do \
		[ -f "$$f" ] || continue; \
		[ -f "$(MODULE_SRC)/$${f##*/}" ] && continue; \
		echo "removing stale $$f"; \
		rm -f "$$f" $(KMODULE)/*.o $(KMODULE)/*.d; \
	done
	$(MAKE) -C $(KSRC) modules=src/modules/aor modules
	@cmp -s $(KMODULE)/aor.so $@ || { \
		cp $(KMODULE)/aor.so $@.tmp && mv -f $@.tmp $@ && echo "built $@"; }

run: $(AOR_SO)
	@mkdir -p $(BUILD)/run
	@$(KAMAILIO) -c -f etc/kamailio.cfg $(RUN_DEFINES) \
		>$(BUILD)/cfgcheck.log 2>&1 || { \
		cat $(BUILD)/cfgcheck.log; \
		echo "kamailio-aor: etc/kamailio.cfg does not check" >&2; exit 1; }
	@echo
	@echo "kamailio-aor: Kamailio with build/aor.so on $(LISTEN) (UDP and TCP)"
	@echo "  softphone:  SIP server, registrar and domain $(LISTEN_HOST),"
	@echo "              port $(LISTEN_PORT), UDP or TCP, no outbound proxy"
	@echo "              user alice  password alice-secret"
	@echo "              user bob    password bob-secret"
	@echo "              (auth user = user name; etc/users.txt)"
	@echo "              then call bob from alice, or alice from bob"
	@echo "  bindings:   $(or $(shell command -v kamcmd >/dev/null && echo kamcmd),$(KAMCMD)) -s unix:build/kamailio_ctl aor.list"
	@echo "              (from anywhere: $(KAMCMD) -s $(CTL_SOCK) aor.list)"
	@echo "  stop:       Ctrl-C"
	@echo
	exec $(KAMAILIO) -DD -E -f etc/kamailio.cfg $(RUN_DEFINES) \
		-Y $(BUILD)/run

# Three nodes on one host (tools/cluster.sh): each its own port (UDP and
# TCP), ctl socket, snapshot and log under build/cluster/N/.
CLUSTER_ADDR ?= 127.0.0.1
CLUSTER_PORTS ?= 5060 5062 5064
CLUSTER_ARGS ?=
cluster: $(AOR_SO)
	@KAMAILIO='$(KAMAILIO)' KAMCMD='$(KAMCMD)' AOR_SO='$(AOR_SO)' \
		BUILD='$(BUILD)' DBURL='text://$(CURDIR)/etc/db' \
		CLUSTER_ADDR='$(CLUSTER_ADDR)' CLUSTER_PORTS='$(CLUSTER_PORTS)' \
		CLUSTER_ARGS='$(CLUSTER_ARGS)' exec bash tools/cluster.sh

deb: $(DEB_FILE)

# Rebuilt only when the module or a packaged file changed. The copy builds
# against this tree's Kamailio sources (KAMAILIO_SRC), so Kamailio is not
# fetched or configured again.
$(DEB_FILE): $(AOR_SO) $(DEB_INPUTS) $(BUILD)/deb-inputs
	sh tools/install-deps.sh deb
	rm -rf $(BUILD)/deb
	mkdir -p $(DEB_TREE)
	tar -cf - --exclude=__pycache__ $(DEB_SOURCES) | tar -xf - -C $(DEB_TREE)
	cd $(DEB_TREE) && KAMAILIO_SRC='$(KSRC)' dpkg-buildpackage -us -uc -b
	lintian --display-info $(BUILD)/deb/$(DEB_PKG)_$(DEB_VERSION)_$(DEB_ARCH).changes
	mv $(BUILD)/deb/*.deb $(BUILD)/
	@echo "built $@"

# The list of packaged files, rewritten only when it changes, so that a file
# that goes away (modules/aor/README) rebuilds the package too.
$(BUILD)/deb-inputs: FORCE
	@mkdir -p $(BUILD)
	@echo '$(sort $(DEB_INPUTS))' | cmp -s - $@ || \
		echo '$(sort $(DEB_INPUTS))' > $@

unit: tree
	@if [ -f test/unit/run.sh ]; then \
		$(TEST_ENV) bash test/unit/run.sh; \
	else \
		echo "kamailio-aor: no test/unit/run.sh, no unit tests"; \
	fi

# The layering rules of modules/aor/ (tools/check-layers.py): only ops.c
# takes slot locks, no include cycle, pure files without the SIP parser,
# every header compiles on its own.
check-layers: tree
	KAMAILIO_SRC='$(KSRC)' python3 tools/check-layers.py

integration: $(AOR_SO)
	$(TEST_ENV) $(PYTHON) -m pytest -q test/integration

# The side-by-side benchmark (bench/README.md says how to read it). Not
# part of `make test`: it takes from minutes to an hour with N = 1,000,000.
# What it prints goes to $(BENCH_OUT)/bench.md too, a PNG chart (gnuplot)
# beside each table.
BENCH_ARGS ?=
BENCH_OUT ?= $(BUILD)/bench
bench: $(AOR_SO)
	sh tools/install-deps.sh test
	$(TEST_ENV) $(PYTHON) bench/bench.py --out '$(BENCH_OUT)' $(BENCH_ARGS)

# Every Kamailio of the reduced suite runs under valgrind memcheck, with
# q_malloc's guard words on (kam.py, AOR_VALGRIND); valgrind_report.py then
# sorts the logs: an error with a frame in the aor module fails the target,
# the others (Kamailio core, libraries) are listed. Not part of `make test`:
# it takes minutes. MEMCHECK_TESTS and MEMCHECK_K choose other tests.
MEMCHECK_DIR := $(BUILD)/valgrind
MEMCHECK_TESTS ?= $(addprefix test/integration/,test_register.py \
	test_lookup.py test_rpc.py test_reginfo.py test_bad_input.py \
	test_snapshot.py test_ulapi.py)
MEMCHECK_K ?= not kill9 and not damaged and not config_check

check-memory: $(AOR_SO)
	@command -v valgrind >/dev/null || sh tools/install-deps.sh test
	rm -rf $(MEMCHECK_DIR)
	@mkdir -p $(MEMCHECK_DIR)
	@$(TEST_ENV) AOR_VALGRIND='$(MEMCHECK_DIR)' $(PYTHON) -m pytest -q \
		-k '$(MEMCHECK_K)' $(MEMCHECK_TESTS); rc=$$?; \
	$(PYTHON) test/integration/valgrind_report.py $(MEMCHECK_DIR) \
		>$(MEMCHECK_DIR)/report.txt; vrc=$$?; \
	cat $(MEMCHECK_DIR)/report.txt; \
	echo "kamailio-aor: pytest exit $$rc, valgrind report exit $$vrc" \
		"($(MEMCHECK_DIR)/report.txt)"; \
	[ $$rc = 0 ] && [ $$vrc = 0 ]

# Needs only the Kamailio headers and clang (libFuzzer); the committed
# inputs are also replayed by `make unit`, without clang.
fuzz: tree
	@command -v clang >/dev/null || command -v clang-14 >/dev/null || \
		sh tools/install-deps.sh fuzz
	KAMAILIO_SRC='$(KSRC)' bash test/fuzz/run.sh

# The documentation is rendered as Kamailio renders a module's: doc/ is
# copied to src/modules/aor/doc/ of the Kamailio tree, and Kamailio's own
# doc/docbook Makefile runs there (xsltproc with docbook-xsl; lynx -dump for
# the plain-text README). --nonet: the DTD and the stylesheets come from the
# XML catalog of docbook-xml and docbook-xsl, never from the network. The
# README is committed, as Kamailio commits its modules' READMEs.
DOC_README ?= $(MODULE_SRC)/README
DOC_HTML_DIR ?= $(BUILD)/doc
KDOC := $(KMODULE)/doc
DOC_MAKE = $(MAKE) --no-print-directory -C $(KDOC) xsltproc_flags=--nonet \
	lynx_flags='-nolist -display_charset=utf-8'

doc: $(FETCH_STAMP)
	sh tools/install-deps.sh doc
	@$(MAKE) --no-print-directory doc-render

# Renders without installing anything (test/integration/test_doc.py runs it
# with DOC_README and DOC_HTML_DIR in a temporary directory).
doc-render:
	@mkdir -p $(KDOC) $(abspath $(DOC_HTML_DIR))
	rm -f $(KDOC)/*.xml $(KDOC)/*.d $(KMODULE)/README
	cp doc/*.xml doc/Makefile $(KDOC)/
	$(DOC_MAKE) README
	$(DOC_MAKE) html output_dir=$(abspath $(DOC_HTML_DIR)) html_css=sr-doc.css
	cp $(KSRC)/doc/docbook/sr-doc.css $(abspath $(DOC_HTML_DIR))/
	cp $(KMODULE)/README $(DOC_README)
	@echo "kamailio-aor: $(DOC_README) and $(DOC_HTML_DIR)/aor.html"

endif
