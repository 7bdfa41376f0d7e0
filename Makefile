# Two front doors: `make run` (set up, build the index, open the web chat) and `make test`.
# Everything installs into .venv; torch is pinned to the CPU build first, since an unpinned
# torch pulls a multi-GB CUDA build.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check
TORCH  := torch==2.13.0
# llama-cpp-python has no prebuilt wheel here: it compiles (about 8 minutes on 2 cores) without
# the parts we do not use, and for AVX2 rather than the build machine's own CPU: on Xeons with AMX
# (Sapphire Rapids and later) a native build runs matrix products on ggml's AMX code, which crashes
# on the first token with our Q4_K_M model (ggml-org/llama.cpp#20824). Any x86-64 CPU since 2013 runs
# the AVX2 build.
export CMAKE_ARGS ?= -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF \
	-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
# pip reuses a wheel it once built whatever CMAKE_ARGS now says, so llama-cpp-python (pinned in
# pyproject.toml) is installed without pip's cache and always built with the flags above.
LLAMA  := $(shell sed -n 's/.*"\(llama-cpp-python==[^"]*\)".*/\1/p' pyproject.toml | head -1)

.PHONY: setup dev browser run test lint eval calibrate bench report clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install $(TORCH)
	$(PIP) install --no-cache-dir '$(LLAMA)'
	$(PIP) install -e '.[local]'
	@touch $@

dev: $(VENV)/.dev-installed

$(VENV)/.dev-installed: $(VENV)/.installed
	$(PIP) install -e '.[local,server,dev]'
	@touch $@

run: setup
	$(VENV)/bin/qa serve

lint: dev
	$(VENV)/bin/ruff check qa ui tests bench
	$(VENV)/bin/ruff format --check qa ui tests bench
	$(VENV)/bin/mypy

# The quality gate holds the figures reached so far (README, "Measured"), a little below them for the
# larger sets. squad2 and xquad-noans decide every article with the support model fitted without it,
# so they are held-out figures; the article sets were never fitted on.
# The xquad-noans gate stands below issue 10's 0.85: held out in the fit (docs/decision.md) it is just under it.
EVAL_GATE := --min-citation-precision 1.0 --min-refusals 0.7 --max-wrong-refusals 0 --min-facts 0.9 --min-hit-at-4 1.0
GATE_PARAPHRASED := --max-has-declined 0.05 --min-refusals 0.4 --min-facts 0.9 --min-citation-precision 0.9
GATE_XQUAD_NOANS := --min-accuracy 0.84 --max-has-declined 0.02 --min-refusals 0.66 --min-short-f1 0.545
GATE_SQUAD2 := --min-accuracy 0.585 --max-has-declined 0.08 --min-refusals 0.43 --min-short-f1 0.44

# The browser tests (tests/ui/browser) drive Debian's Chromium through Playwright, which cannot
# download its own browsers here. Installed when missing and we are root; otherwise say so.
CHROMIUM := /usr/bin/chromium

browser:
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	else \
	  echo "No $(CHROMIUM): the browser tests will skip (fail under QA_REQUIRE_BROWSER=1)." \
	       "Install it with: sudo apt-get install chromium"; \
	fi

test: dev lint browser
	$(VENV)/bin/qa eval --dataset article --answerer extractive --answerer local $(EVAL_GATE)
	$(VENV)/bin/qa eval --dataset article-paraphrased $(GATE_PARAPHRASED)
	$(VENV)/bin/qa eval --dataset xquad-noans $(GATE_XQUAD_NOANS)
	$(VENV)/bin/qa eval --dataset squad2 $(GATE_SQUAD2)
	$(VENV)/bin/pytest

# Every figure in the README's "Measured" table and in docs/benchmarks.md comes from a JSON file in
# docs/results/, stamped with the date, commit, CPU, core count and load average of its run.
# `make eval` writes the quality figures (qa eval on every question set), `make bench` the speeds and
# memory (docs/benchmarks.md's Runs table gives each one's wall time), `make calibrate` refits the decision and the reader; each then
# regenerates docs/benchmarks.md and the README's table from the results (`make report` alone does
# only that).
RESULTS := docs/results

eval: setup
	$(PY) -m bench.quality --results $(RESULTS)
	$(PY) -m bench.report

bench: dev
	$(PY) -m bench.ingest --out $(RESULTS)/ingest.json
	$(PY) -m bench.query_latency --out $(RESULTS)/query_latency.json
	$(PY) -m bench.memory --out $(RESULTS)/memory.json
	$(PY) -m bench.index_updates --out $(RESULTS)/index_updates.json
	$(PY) -m bench.embedding_backends --out $(RESULTS)/embedding_backends.json
	$(PY) -m bench.cold_ask --out $(RESULTS)/cold_ask.json
	$(PY) -m bench.api_latency --out $(RESULTS)/api_latency.json
	$(PY) -m bench.retrieval --out $(RESULTS)/retrieval.json
	$(PY) -m bench.answers --out $(RESULTS)/answers.json
	$(PY) -m bench.ocr --out $(RESULTS)/ocr.json
	$(PY) -m bench.garbage_text --out $(RESULTS)/garbage_text.json
	$(PY) -m bench.keyword_index --out $(RESULTS)/keyword_index.json
	$(PY) -m bench.scale --out $(RESULTS)/scale.json
	$(PY) -m bench.charts --results $(RESULTS)
	$(PY) -m bench.report

calibrate: dev
	$(PY) -m bench.fit_reader --results $(RESULTS)/reader_fit.json
	$(PY) -m bench.evidence_choice --results $(RESULTS)/evidence_choice.json
	$(PY) -m bench.calibrate --results $(RESULTS)/calibration.json
	$(PY) -m bench.short_answers --local-sample 120 --out $(RESULTS)/short_answers.json
	$(PY) -m bench.report

report: setup
	$(PY) -m bench.report

clean:
	rm -rf $(VENV) index/CURRENT index/gen-* .pytest_cache .mypy_cache .ruff_cache
