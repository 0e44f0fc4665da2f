# Arabic customer-service assistant. `make help` lists the commands.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The virtual environment lives outside the checkout, keyed by the requirement
# files' hash, so every clone on this machine (CI included) reuses it until the
# pins change. Override with `make VENV=/path ...`.
REQ_HASH := $(shell cat requirements.txt constraints.txt | sha256sum | cut -c1-12)
VENV ?= $(HOME)/.cache/noor-assistant/venv-py310-$(REQ_HASH)
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RASA_DATA := --config config.yml --domain bot/domain --data nlu_data bot/data
# Rasa server processes of `make run` (more than 1: behind HAProxy on port 5005)
WORKERS ?= 1

export PYTHONPATH := $(CURDIR)
# No network beyond package registries: keep Rasa from phoning home.
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2

# Secrets of `make run` (.env.local, scripts/secrets_file.py) for the commands that call
# its Rasa API or its Redis (REDIS_URL with the password of .env.local, unless set);
# a variable already set in the environment wins.
LOCAL_SECRETS = if [ -f .env.local ]; then while IFS='=' read -r k v; do case "$$k" in [A-Z]*) [ -n "$${!k}" ] || export "$$k=$$v";; esac; done < .env.local; fi;\
	[ -n "$$REDIS_URL" ] || [ -z "$$REDIS_PASSWORD" ] || export REDIS_URL="redis://:$$REDIS_PASSWORD@127.0.0.1:$${REDIS_PORT:-6379}/0";

.PHONY: help venv train train-signals eval-signals eval-conversations run shell test validate eval bench bench-quick lint clean agent trainer whatsapp-demo

help: ## Show this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

# No file prerequisites on purpose: the path already names the pins' hash, and a
# fresh clone's new file times must not trigger a rebuild.
$(STAMP):
	@py=$$(scripts/find_python310.sh) || exit 1; \
	echo "Creating $(VENV) with $$py"; \
	rm -rf "$(VENV)" && "$$py" -m venv "$(VENV)" && \
	"$(BIN)/pip" install -q --upgrade pip wheel && \
	"$(BIN)/pip" install -q setuptools==70.3.0 && \
	"$(BIN)/pip" install -r requirements.txt -c constraints.txt && \
	touch "$(STAMP)"

venv: $(STAMP) ## Create the Python 3.10 environment (once per set of pins)
	@ln -sfn "$(VENV)" .venv

train: venv ## Train the model (Rasa skips it when config, domain and data are unchanged)
	$(BIN)/rasa train $(RASA_DATA) --out models
	@ls -1t models/*.tar.gz | tail -n +4 | xargs -r rm -f

train-signals: venv ## Retrain the shipped signals model (frustration, urgency, dialect) into models/signals
	$(BIN)/python -m bot.signals.train --out models/signals

eval-signals: venv ## Signals report: JSON, Markdown and confusion matrices in reports/signals
	$(BIN)/python -m bot.signals.evaluate --model models/signals --out reports/signals --card

eval-conversations: train ## Play tests/conversations/ against the running stack (make run; else starts one) -> reports/conversations
	@$(LOCAL_SECRETS) $(BIN)/python -m scripts.eval_conversations --out reports/conversations

run: train ## Start Redis, actions, Rasa (web chat, WhatsApp, Twilio), the handoff console and the trainer workbench; Ctrl-C stops them (WORKERS=N: N Rasa processes behind HAProxy)
	$(BIN)/python -m scripts.stack run --workers $(WORKERS)

shell: train ## Chat with the assistant in this terminal
	$(BIN)/python -m scripts.stack shell

test: venv ## Run the whole test suite (trains a model of its own)
	$(BIN)/python -m pytest

validate: venv ## Check domain, stories and NLU data (warnings fail)
	$(BIN)/rasa data validate $(RASA_DATA) --fail-on-warnings

eval: train ## Held-out NLU report per intent, dialect and entity (reports/)
	$(BIN)/python -m scripts.evaluate_nlu --model models --data tests/data/nlu_heldout.yml --report reports/nlu_heldout.json

bench: venv ## Accuracy, latency and throughput next to plain Rasa (bench/results/<date>/, < 40 min)
	$(BIN)/python -m bench.run

bench-quick: venv ## The same on a small sample, in a few minutes
	$(BIN)/python -m bench.run --quick

lint: venv ## ruff and mypy
	$(BIN)/ruff check bot actions handoff workbench bench scripts tests
	$(BIN)/mypy bot actions handoff workbench bench scripts

clean: ## Remove trained models, local Redis data and caches
	rm -rf models/*.tar.gz data reports .pytest_cache .mypy_cache .ruff_cache

# --- handoff service (agent console) -----------------------------------------
.PHONY: agent
agent: venv ## Manage console accounts: make agent ARGS="add amal --role agent" (also: list, remove NAME)
	@$(LOCAL_SECRETS) $(BIN)/python -m handoff.accounts $(ARGS)

# --- trainer workbench ---------------------------------------------------------
.PHONY: trainer
trainer: venv ## Trainer workbench on the command line: make trainer ARGS="inbox --flags fallback" (label, undo, health, train; no ARGS: the web process)
	@$(LOCAL_SECRETS) $(BIN)/python -m workbench $(ARGS)

whatsapp-demo: venv ## Play a WhatsApp conversation end to end against the local fake Graph API (needs a model: make train)
	$(BIN)/python -m scripts.whatsapp_demo
