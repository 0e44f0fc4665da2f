"""summary.md and the verdict, rendered from a small fake results dict."""

import copy

from bench import plots, summary

FAKE = {
    "run": {"id": "2026-01-01_1200", "quick": False, "wall_seconds": 1800.0},
    "machine": {"cpus": 2, "load_start": [1.0, 1.0, 1.0], "load_end": [2.0, 2.0, 2.0]},
    "settings": {"diet_epochs_arbanking": 15},
    "arbanking": {
        "status": "ok",
        "train_examples": 21559,
        "published": {"test_msa": 0.92, "test_pal": 0.90},
        "models": {
            "ours": {
                "test_msa": {"examples": 3574, "intent": {"accuracy": 0.90, "macro_f1": 0.89, "fallback_rate": 0.05}},
                "test_pal": {"examples": 3807, "intent": {"accuracy": 0.88, "macro_f1": 0.87, "fallback_rate": 0.06}},
            },
            "default": {
                "test_msa": {"examples": 3574, "intent": {"accuracy": 0.87, "macro_f1": 0.86, "fallback_rate": 0.10}},
                "test_pal": {"examples": 3807, "intent": {"accuracy": 0.85, "macro_f1": 0.84, "fallback_rate": 0.12}},
            },
        },
    },
    "heldout": {
        "status": "ok",
        "models": {
            "ours": {
                "examples": 348,
                "intent": {"accuracy": 0.96, "macro_f1": 0.96, "fallback_rate": 0.07},
                "per_dialect": {"gulf": {"examples": 87, "accuracy": 1.0, "macro_f1": 1.0}},
                "per_script": {"arabizi": {"examples": 29, "accuracy": 1.0, "macro_f1": 1.0}},
                "per_intent_f1": {"greet": 1.0, "bill_inquiry": 0.96},
                "entities": {"district": {"precision": 0.9, "recall": 0.8, "f1": 0.85, "support": 20}},
            },
            "default": {
                "examples": 348,
                "intent": {"accuracy": 0.80, "macro_f1": 0.79, "fallback_rate": 0.2},
                "per_dialect": {"gulf": {"examples": 87, "accuracy": 0.8, "macro_f1": 0.78}},
                "per_script": {"arabizi": {"examples": 29, "accuracy": 0.5, "macro_f1": 0.45}},
                "per_intent_f1": {"greet": 0.9, "bill_inquiry": 0.7},
            },
        },
    },
    "latency": {
        "status": "ok",
        "messages": 1200,
        "warmup": 30,
        "sources_text": "600 from heldout (cycled), 600 from ArBanking77 test files",
        "models": {
            "ours_project": {"rss_load_mb": 40.0, "rss_warm_mb": 42.0, "latency_ms": {"p50": 4.0, "p95": 6.0, "p99": 9.0, "mean": 4.5}, "components_ms": {"CharNgramIntentClassifier": 2.5, "ArabicNormalizer": 1.0}},
            "default_project": {"rss_load_mb": 300.0, "rss_warm_mb": 350.0, "latency_ms": {"p50": 8.0, "p95": 10.0, "p99": 14.0, "mean": 8.5}},
        },
        "pairs": {"headline": {"ours": "ours_project", "default": "default_project", "p95_ratio": 0.6}},
    },
    "e2e": {
        "status": "ok",
        "startup_seconds": 40.0,
        "rss_mb": {"rasa": 900.0},
        "levels": [
            {"conversations": 1, "requests": 60, "ok": 60, "errors": {}, "messages_per_second": 9.5, "latency_ms": {"p50": 100.0, "p95": 150.0, "p99": 170.0}},
            {"conversations": 10, "requests": 200, "ok": 199, "errors": {"504": 1}, "messages_per_second": 14.0, "latency_ms": {"p50": 600.0, "p95": 900.0, "p99": 1000.0}},
        ],
    },
    "training": {"ours_arbanking": {"seconds": 300.0, "what": "our pipeline", "epochs": None}, "default_arbanking": {"seconds": 1000.0, "what": "DIET", "epochs": 15}},
    "handoff": {"status": "not measured"},
}


def test_verdict_compares_every_test_file_and_the_p95_ratio():
    v = summary.verdict(FAKE)
    assert v["beats_default_everywhere"] is True
    assert [c["test"] for c in v["comparisons"]] == ["test_msa", "test_pal"]
    assert v["p95_ratio"] == 0.6 and v["latency_ok"] is True


def test_verdict_fails_when_one_file_is_worse():
    results = copy.deepcopy(FAKE)
    results["arbanking"]["models"]["ours"]["test_pal"]["intent"]["macro_f1"] = 0.80
    results["latency"]["pairs"]["headline"]["p95_ratio"] = 1.8
    v = summary.verdict(results)
    assert v["beats_default_everywhere"] is False
    assert v["latency_ok"] is False


def test_verdict_without_measurements_says_so():
    v = summary.verdict({})
    assert v["beats_default_everywhere"] is None and v["latency_ok"] is None


def test_summary_has_every_section_and_the_figures():
    text = summary.render(FAKE)
    for heading in ("## Headline", "## 1. ArBanking77", "## 2. Held-out", "## 3. NLU parse latency", "## 4. End-to-end", "## 5. Handoff relay latency", "## 6. Training time"):
        assert heading in text
    assert "Not measured: bench/relay.py" in text
    assert "| Ours (config.yml) | test_msa | 3574 | 0.9000 | 0.8900 |" in text
    assert "AraBERT (published, not re-run) | test_pal" in text
    assert "0.60×" in text
    assert "| 10 | 200 | 199 | 504: 1 | 14.0 | 600.0 | 900.0 | 1000.0 |" in text
    assert "| ours_project | 4.0 | 6.0 | 9.0 | 4.5 | 40.0 | 42.0 |" in text
    assert "district" in text
    assert "- ours_project: CharNgramIntentClassifier 2.50, ArabicNormalizer 1.00" in text


def test_summary_explains_skipped_sections():
    results = copy.deepcopy(FAKE)
    results["arbanking"] = {"status": "skipped", "reason": "ArBanking77 folder not found: /x"}
    del results["e2e"]
    del results["handoff"]
    text = summary.render(results)
    assert "_Skipped — skipped: ArBanking77 folder not found: /x_" in text
    assert "## 4. End-to-end through the channels\n\n_Skipped — not run_" in text
    # a step left out is not reported as a missing benchmark
    assert "## 5. Handoff relay latency\n\n_Skipped — not run_" in text


def test_plots_are_drawn_from_the_fake_results(tmp_path):
    written = plots.draw_all(FAKE, tmp_path)
    assert set(written) == set(plots.PLOTS)
    assert all((tmp_path / name).stat().st_size > 1000 for name in written)


def test_relay_figures_are_tabled_whatever_their_nesting():
    results = copy.deepcopy(FAKE)
    results["handoff"] = {
        "status": "ok",
        "figures": {"relay": {"customer_to_console": {"p50": 12.5, "p95": 40.0, "count": 200}, "console_to_customer": {"p50": 9.0, "p95": 30.0, "count": 200}, "conversations": 20}},
    }
    assert summary.relay_rows(results["handoff"]["figures"]) == [
        ["relay/customer_to_console", 200, 12.5, 40.0],
        ["relay/console_to_customer", 200, 9.0, 30.0],
    ]
    text = summary.render(results)
    assert "| relay/customer_to_console | 200 | 12.5 | 40.0 |" in text
    assert "Target p95 ≤ 100 ms" in text


def test_runs_that_measured_different_steps_merge_into_one_summary():
    from bench import merge

    first = copy.deepcopy(FAKE)
    first["run"] = {"id": "a", "steps": ["arbanking", "heldout"], "wall_seconds": 100.0}
    first["settings"]["diet_epochs_arbanking"] = 3
    del first["heldout"]  # stopped before its second step
    second = {
        "run": {"id": "b", "steps": ["heldout", "latency", "e2e"], "wall_seconds": 50.0},
        "machine": {"cpus": 2, "load_start": [5.0], "load_end": [4.0]},
        "settings": {"diet_epochs_arbanking": 15, "diet_epochs_project": 30},
        "heldout": FAKE["heldout"],
        "latency": FAKE["latency"],
        "e2e": FAKE["e2e"],
        "training": {"assistant": {"seconds": 120.0}},
    }
    merged = merge.merge([first, second])
    assert merged["arbanking"] is first["arbanking"]
    assert merged["heldout"] is second["heldout"]  # the run that measured it
    assert merged["latency"] is second["latency"]
    assert merged["settings"]["diet_epochs_arbanking"] == 3
    assert set(merged["training"]) == {"ours_arbanking", "default_arbanking", "assistant"}
    assert merged["verdict"]["beats_default_everywhere"] is True and merged["verdict"]["p95_ratio"] == 0.6
    text = summary.render(merged)
    assert "- part a: arbanking; wall time 100 s" in text
    assert "- part b: heldout, latency, e2e; wall time 50 s" in text
    assert merge.merge([first])["heldout"]["reason"] == "run a ended before this step"
    assert "DIET for 3 epochs" in text
