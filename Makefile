# intern — two commands on a fresh Debian machine with Swift:
#   make demo   installs what is missing, builds, runs the example campaign with 2 local workers
#   make test   installs what is missing, builds, runs the whole test suite
# `make help` lists the others (benchmarks, chaos, the scale load generator).
SHELL := /bin/bash
SWIFT ?= swift
PYTHON ?= python3
BUILD_FLAGS ?=
INTERN = .build/debug/intern
EXAMPLE = examples/digits-pipeline

.PHONY: all help deps system-deps python-deps mcp-client build release link-order demo data-demo hf-sft test chaos bench bench-mcp bench-dashboard bench-lab bench-agent bench-search bench-scale slurm-test fixtures clean
.PHONY: install-build install uninstall deb install-check

all: build

help:
	@echo "make demo          build and run the example pipeline with 2 local workers"
	@echo "make data-demo     build and run the data-cleaning example (map, reduce, totals, audit sample)"
	@echo "make test          the whole test suite (unit, store, sockets, processes, end to end)"
	@echo "make hf-sft        a real Hugging Face Trainer sweep, CPU only (about 3 minutes)"
	@echo "make chaos         1,000 trials while workers and the coordinator are SIGKILLed; a flood of hostile clients"
	@echo "make bench         dispatch, log ingest and trial shapes against xargs -P2 and Optuna"
	@echo "make bench-search  search quality: intern's samplers vs Optuna's TPE and GP, 30 seeds (DIGITS=1: the digits job too)"
	@echo "make bench-mcp     intern mcp's answer latency per tool on a 10,000-trial campaign"
	@echo "make bench-dashboard  what 50 live dashboard pages cost the coordinator; a 10,000-trial page"
	@echo "make bench-lab     intern recall on 100 campaigns / 1,000,000 failure excerpts, and the lab's rebuild"
	@echo "make bench-agent   intern agent's prompt tokens per step over 100 steps (flat)"
	@echo "make bench-scale   the coordinator alone with 1,000 simulated workers (QUICK=1: about 2 minutes)"
	@echo "make slurm-test    a one-node SLURM cluster running pilot jobs"
	@echo "make fixtures      regenerate the captured output of the real ML packages"
	@echo "make link-order    (root) rewrite deploy/intern-hot.ld, the release link's placement of the code a campaign runs"
	@echo "make install       the release build, completions, manual pages, units and docs into PREFIX (/usr/local); make uninstall"
	@echo "make deb           a Debian package of the same, checked with lintian (.build/deb/)"

deps: system-deps python-deps

# libnng-dev (with libmbedtls-dev) and libzstd-dev from Debian (Debian ships no nng.pc: the module map
# links nng directly); iproute2 for the multi-host test (network namespaces); chromium for the test
# that renders `intern report`'s HTML headless, cmark-gfm (GitHub's CommonMark) for the test that renders
# its Markdown; python3-venv for the examples' and fixtures' environments.
system-deps:
	@missing=""; \
	for pkg in libnng-dev libzstd-dev libcurl4-openssl-dev zstd sqlite3 python3 python3-venv iproute2 chromium cmark-gfm; do \
	  dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

# The example job needs numpy and scikit-learn for whichever python3 is on PATH.
python-deps:
	@if ! $(PYTHON) -c 'import numpy, sklearn' >/dev/null 2>&1; then \
	  echo "installing the example's Python packages"; \
	  $(PYTHON) -m pip install -q -r $(EXAMPLE)/requirements.txt \
	  || $(PYTHON) -m pip install -q --break-system-packages -r $(EXAMPLE)/requirements.txt \
	  || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); $$SUDO apt-get install -y -qq python3-numpy python3-sklearn; }; \
	fi

build: system-deps
	$(SWIFT) build $(BUILD_FLAGS)

# The release build links the Swift runtime statically, as the container's does: the binary runs
# where no Swift toolchain is installed, and each process starts ~7 ms sooner (no 20-odd shared
# libraries to load and relocate), which `intern run` pays for the coordinator and every worker.
# It links a position-dependent executable (`-no-pie`): a PIE's loader writes 96,000 relocated
# pointers into each process's copy of the binary's data at start (about 1.7 MB of private pages per
# process); here those pages stay shared with the file. W1's coordinator and two workers: PSS
# 38 -> 33 MiB. The executable's own addresses are then fixed (its shared libraries, heap and stacks
# are still randomised): docs/security.md. `make release PIE=1` builds a PIE.
# It is linked by lld with every Swift function in a section of its own, and deploy/intern-hot.ld
# places the sections a campaign runs together, before the rest of the code: the kernel maps the
# 64 KB around each page of code a process touches, so scattered, the code an `intern run` and its
# workers execute kept 20 MB of the binary resident; together, 8 MB. The binary exports no symbols
# (`--no-export-dynamic`; the static Swift runtime's link flags export all 33,000 by default, and
# their 1 MB table was resident in every process: nothing looks them up, dlsym finds libc's).
# W1's coordinator and two workers: PSS 33 -> 23 MiB (Benchmarks/README.md, Trial shapes).
# `make link-order` rewrites the script from a run.
HOT_SCRIPT = deploy/intern-hot.ld
RELEASE_FLAGS ?= -c release --static-swift-stdlib $(if $(PIE),,-Xswiftc -Xclang-linker -Xswiftc -no-pie) \
  -Xswiftc -use-ld=lld -Xswiftc -Xfrontend -Xswiftc -function-sections \
  -Xlinker --script=$(CURDIR)/$(HOT_SCRIPT) -Xlinker --no-export-dynamic

release: system-deps
	$(SWIFT) build $(RELEASE_FLAGS)

# The script of the release link (deploy/link_order.py says how; needs root): a release build
# whose every function starts a page of its own, with lld's map (in .build/link-order), one `intern
# run` of python trials that print metric lines with the disk's read-ahead off, and the input
# sections on the pages some process executed, written to deploy/intern-hot.ld. Then `make release`.
link-order: system-deps
	$(SWIFT) build $(RELEASE_FLAGS) --product intern --scratch-path .build/link-order \
	  -Xswiftc -Xllvm -Xswiftc -align-all-functions=12 -Xlinker -Map=$(CURDIR)/.build/link-order/intern.map
	$(PYTHON) deploy/link_order.py .build/link-order/release/intern --map .build/link-order/intern.map --out $(HOT_SCRIPT)

# `make install` (README, Install): the release build of intern and intern-mcp, bash, zsh and fish
# completions (ArgumentParser writes them), a manual page per command (ArgumentParser's
# generate-manual tool, built from the resolved package), the systemd units (ExecStart pointing into
# PREFIX; installed, not enabled) and the docs with the deploy files in share/doc/intern.
# INSTALL_CONFIG=debug installs the debug build already there and builds nothing but the manual
# tool; PREBUILT=1 copies what an earlier `make install-build` made (the install test's way,
# Tests/install/check-install.sh, which installs three times).
PREFIX ?= /usr/local
DESTDIR ?=
INSTALL_CONFIG ?= release
ZSH_COMPLETIONS ?= $(PREFIX)/share/zsh/site-functions
SYSTEMD_UNITS ?= $(PREFIX)/lib/systemd/system
INSTALL_BIN = .build/$(INSTALL_CONFIG)
INSTALL_EXTRAS = .build/install-$(INSTALL_CONFIG)
MAN_TOOL_FLAGS = $(if $(filter release,$(INSTALL_CONFIG)),$(RELEASE_FLAGS),$(BUILD_FLAGS))
# The manual pages' date: the last commit's, so that a rebuild of the same commit makes the same pages.
MAN_DATE ?= $(shell git log -1 --format=%cs 2>/dev/null || date -u +%F)

install-build: system-deps
	$(if $(filter release,$(INSTALL_CONFIG)),$(SWIFT) build $(RELEASE_FLAGS) --product intern && $(SWIFT) build $(RELEASE_FLAGS) --product intern-mcp)
	$(SWIFT) build $(MAN_TOOL_FLAGS) --product generate-manual
	rm -rf $(INSTALL_EXTRAS) && mkdir -p $(INSTALL_EXTRAS)/man
	$(INSTALL_BIN)/generate-manual $(INSTALL_BIN)/intern --multi-page --date $(MAN_DATE) -o $(INSTALL_EXTRAS)/man
	# intern-mcp is what `intern mcp` starts: its page is intern mcp's.
	echo '.so man1/intern.mcp.1' > $(INSTALL_EXTRAS)/man/intern-mcp.1
	# A blank line inside a discussion is a paragraph break in mdoc (.Pp); blank, man warns about it.
	sed -i 's/^$$/.Pp/' $(INSTALL_EXTRAS)/man/*.1
	gzip -9n $(INSTALL_EXTRAS)/man/*.1
	# Completion scripts are sourced, not run: no #! line.
	for shell in bash zsh fish; do $(INSTALL_BIN)/intern --generate-completion-script $$shell | sed '1{/^#!/d}' > $(INSTALL_EXTRAS)/intern.$$shell; done

install: $(if $(PREBUILT),,install-build)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
	  $(DESTDIR)$(ZSH_COMPLETIONS) $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d $(DESTDIR)$(SYSTEMD_UNITS) \
	  $(DESTDIR)$(PREFIX)/share/doc/intern/docs
	install -m 0755 $(INSTALL_BIN)/intern $(INSTALL_BIN)/intern-mcp $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 $(INSTALL_EXTRAS)/man/*.1.gz $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 $(INSTALL_EXTRAS)/intern.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/intern
	install -m 0644 $(INSTALL_EXTRAS)/intern.zsh $(DESTDIR)$(ZSH_COMPLETIONS)/_intern
	install -m 0644 $(INSTALL_EXTRAS)/intern.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/intern.fish
	install -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/intern/
	install -m 0644 docs/*.md $(DESTDIR)$(PREFIX)/share/doc/intern/docs/
	cp -R deploy $(DESTDIR)$(PREFIX)/share/doc/intern/
	rm -rf $(DESTDIR)$(PREFIX)/share/doc/intern/deploy/Containerfile.dockerignore $(DESTDIR)$(PREFIX)/share/doc/intern/deploy/slurm/test-cluster.sh \
	  $(DESTDIR)$(PREFIX)/share/doc/intern/deploy/debian
	find $(DESTDIR)$(PREFIX)/share/doc/intern -type d -exec chmod 0755 {} + -o -type f -exec chmod 0644 {} +
	# The units (both copies) run the installed binary and point at the installed docs.
	for unit in deploy/systemd/*.service; do \
	  sed 's|/usr/local/|$(PREFIX)/|g' $$unit > $(DESTDIR)$(SYSTEMD_UNITS)/$${unit##*/}; \
	  chmod 0644 $(DESTDIR)$(SYSTEMD_UNITS)/$${unit##*/}; \
	  cp $(DESTDIR)$(SYSTEMD_UNITS)/$${unit##*/} $(DESTDIR)$(PREFIX)/share/doc/intern/deploy/systemd/; \
	done

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/intern $(DESTDIR)$(PREFIX)/bin/intern-mcp \
	  $(DESTDIR)$(PREFIX)/share/man/man1/intern.1.gz $(DESTDIR)$(PREFIX)/share/man/man1/intern.*.1.gz $(DESTDIR)$(PREFIX)/share/man/man1/intern-mcp.1.gz \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions/intern $(DESTDIR)$(ZSH_COMPLETIONS)/_intern \
	  $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/intern.fish \
	  $(DESTDIR)$(SYSTEMD_UNITS)/intern-coordinator.service $(DESTDIR)$(SYSTEMD_UNITS)/intern-worker@.service
	rm -rf $(DESTDIR)$(PREFIX)/share/doc/intern

# A Debian package of the same layout under /usr (deploy/debian/build-deb.sh): depends on libnng1,
# libzstd1 and mbedtls, creates the `intern` system user, installs the units without enabling them;
# checked with lintian. Written to .build/deb/.
deb: system-deps
	MAKE="$(MAKE)" INSTALL_CONFIG=$(INSTALL_CONFIG) deploy/debian/build-deb.sh

# The example pipeline on scikit-learn's digits, 2 local workers: a numpy MLP trained by a TPE
# sweep with ASHA, each checkpoint evaluated on a held-out split with a worst-class guardrail,
# the best feasible one exported (examples/digits-pipeline/README.md).
demo: deps build
	rm -rf .intern/digits-pipeline $(EXAMPLE)/runs
	$(INTERN) run $(EXAMPLE)/campaign.yaml --workers 2
	@echo
	$(INTERN) best --campaign digits-pipeline

# A data-cleaning campaign (examples/data-filter/README.md): a synthetic corpus of 16 shards with
# planted duplicates and toxic rows, filtered per shard by 2 local workers (map), deduped across
# shards (reduce); the report's totals equal the planted counts (data/planted.json).
DATA_FILTER = examples/data-filter
data-demo: system-deps build
	rm -rf .intern/data-filter $(DATA_FILTER)/data $(DATA_FILTER)/runs
	python3 $(DATA_FILTER)/generate.py --out $(DATA_FILTER)/data
	$(INTERN) run $(DATA_FILTER)/campaign.yaml --workers 2
	@echo
	$(INTERN) report --campaign data-filter | sed -n '/^## Totals/,/^## Best/p' | sed '$$d'
	@echo planted: && cat $(DATA_FILTER)/data/planted.json
	$(INTERN) samples --campaign data-filter --reason toxicity --per-reason 5

# A real Hugging Face example, CPU only, nothing downloaded but packages: a tiny Llama built from
# its config, fine-tuned with transformers' Trainer on generated addition problems, 16 trials by
# TPE with ASHA on eval_loss, 2 local workers, about 3 minutes (examples/hf-sft/README.md). Its
# Python packages go to examples/hf-sft/.venv (torch from a CPU wheel in /opt/wheels when there is one).
HF_SFT = examples/hf-sft
hf-sft: system-deps build
	$(HF_SFT)/setup-venv.sh
	rm -rf .intern/hf-sft $(HF_SFT)/runs
	$(INTERN) run $(HF_SFT)/campaign.yaml --workers 2
	@echo
	$(INTERN) best --campaign hf-sft

# Serial: many tests run real processes and sockets with deadlines; on 2 cores, tests that
# block a thread starve Swift's cooperative pool and with it the deadlines of other tests.
# The tests need Debian's /usr/bin/python3 (standard library only), not the example's packages.
# The official MCP Python SDK, the client `intern mcp`'s end-to-end test drives it with; and
# prometheus_client, whose text-format parser reads the dashboard's /metrics in its test.
MCP_VENV := .build/mcp-venv
MCP_VERSION := 2.3.0
PROMETHEUS_CLIENT_VERSION := 0.21.1
mcp-client:
	@if ! $(MCP_VENV)/bin/python -c 'import mcp, prometheus_client' >/dev/null 2>&1; then \
	  echo "installing mcp==$(MCP_VERSION) and prometheus_client==$(PROMETHEUS_CLIENT_VERSION) into $(MCP_VENV)"; \
	  $(PYTHON) -m venv $(MCP_VENV) && $(MCP_VENV)/bin/python -m pip install -q mcp==$(MCP_VERSION) prometheus_client==$(PROMETHEUS_CLIENT_VERSION); \
	fi

test: system-deps mcp-client
	$(SWIFT) build --build-tests $(BUILD_FLAGS)
	$(SWIFT) test --skip-build --no-parallel $(BUILD_FLAGS)
	Tests/install/check-install.sh

# The long chaos run (not part of `make test`, which runs 150 trials of it): 1,000 trials while
# workers and the coordinator are SIGKILLed at random and restarted; then a flood of 30,000
# hostile clients (`make test` sends 3,000). Both print their figures.
CHAOS_TRIALS ?= 1000
CHAOS_SEED ?= 20261127
FLOOD_CLIENTS ?= 30000
chaos: system-deps
	$(SWIFT) build --build-tests $(BUILD_FLAGS)
	INTERN_CHAOS_TRIALS=$(CHAOS_TRIALS) INTERN_CHAOS_SEED=$(CHAOS_SEED) $(SWIFT) test --skip-build --no-parallel $(BUILD_FLAGS) --filter ChaosTests
	INTERN_FLOOD_CLIENTS=$(FLOOD_CLIENTS) $(SWIFT) test --skip-build --no-parallel $(BUILD_FLAGS) --filter FloodEndToEndTests

# Benchmarks (not part of `make test`): dispatch overhead vs xargs -P2, log ingest throughput, trial
# shapes (python3 jobs that print metric lines) vs xargs and Optuna; Benchmarks/README.md.
bench: deps release
	$(PYTHON) Benchmarks/bench.py --intern .build/release/intern --out .build/bench.json

# Search quality (not part of `make test`): Branin, Hartmann-6 and a fine-tune-shaped space, 50
# sequential trials x 30 seeds, intern's tpe/gp/random (through `intern sampler-bench`) against
# Optuna 5's TPE (default and independent) and GP sampler, from the venv .build/bench-venv (made when
# missing); DIGITS=1 adds the digits example's real training job. The table goes to Benchmarks/README.md.
DIGITS ?=
bench-search: system-deps
	$(SWIFT) build $(RELEASE_FLAGS) --product intern
	$(PYTHON) Benchmarks/bench_search.py --intern .build/release/intern --out .build/bench-search.json $(if $(DIGITS),--digits)

# The coordinator alone at scale (not part of `make test`; about 15 minutes on 2 cores, QUICK=1 about 2):
# intern-load's simulated workers speak the real protocol over sealed tcp:// to one real coordinator.
# (1) 1,000 workers x 4 slots, 100,000 trials: trials/s, dispatch and report-commit latency, RSS every
# 10,000 trials, CPU per trial; (2) log ingest from 1,000 workers at once: MB/s per coordinator core,
# stored ratio; (3) a 72-hour soak replayed in minutes (churn, kill -9 restarts): RSS, store size and
# query times at the start and the end. Each checks the store: every trial completed exactly once.
# Sizes: SCALE_ARGS="--workers 500 --trials 20000 --only dispatch ..." (Benchmarks/README.md, Scale).
QUICK ?=
SCALE_ARGS ?=
# What the dashboard costs (docs/dashboard.md, How fast): 50 live pages on a running campaign as a
# share of a core, and a 10,000-trial campaign's page.
bench-dashboard: system-deps release
	$(PYTHON) Benchmarks/bench_dashboard.py --intern .build/release/intern --out .build/bench-dashboard.json

# How fast `intern mcp` answers on a 10,000-trial synthetic campaign (docs/agents.md): p50 per tool.
bench-mcp: system-deps mcp-client release
	$(PYTHON) Benchmarks/bench_mcp.py --intern .build/release/intern --out .build/bench-mcp.json

# The lab (docs/lab.md): recall p50/p99 and the rebuild on 100 synthetic campaigns with 10,000
# failure excerpts each (Benchmarks/README.md, The lab).
bench-lab: system-deps release
	$(PYTHON) Benchmarks/bench_lab.py --intern .build/release/intern --out .build/bench-lab.json

# `intern agent`'s prompt size over 100 steps of a live campaign against a scripted model server
# (docs/agents.md): flat, not growing with the campaign.
bench-agent: system-deps release
	$(PYTHON) Benchmarks/bench_agent.py --intern .build/release/intern --out .build/bench-agent.json

bench-scale: system-deps
	$(SWIFT) build $(RELEASE_FLAGS) --product intern
	$(SWIFT) build $(RELEASE_FLAGS) --product intern-load
	$(PYTHON) Benchmarks/bench_scale.py --intern .build/release/intern --load .build/release/intern-load \
	  --out .build/bench-scale.json $(if $(QUICK),--quick) $(SCALE_ARGS)

# A real one-node SLURM cluster on this machine, as root (installs Debian's slurm-wlm and munge if
# missing; its config, munge key and state stay in /tmp/intern-slurm-test): pilot jobs run campaigns through
# deploy/slurm/intern-pilot.sbatch, a graceful stop mid-trial and a time-limit drain; stops its daemons.
slurm-test: build
	INTERN_BIN=$(abspath $(INTERN)) deploy/slurm/test-cluster.sh

# Regenerates the captures of what the real packages print (transformers 4 and 5, TRL, accelerate,
# Lightning, Keras; tiny models from configs, CPU only) that the tests replay: runs each job with its
# streams apart and merged, reads the points a person sees with an independent Python reader and
# checks them against what the framework recorded (Tests/EndToEndTests/Fixtures/ml-stack/README.md).
# Not part of `make test`; the virtual environments go to .build/fixture-venvs. CAPTURES=name... for some.
CAPTURES ?=
fixtures: system-deps
	Tests/EndToEndTests/Fixtures/ml-stack/generate.sh $(CAPTURES)

clean:
	rm -rf .build .intern $(HF_SFT)/.venv $(HF_SFT)/runs
