"""The benchmark's configs and a run without the dataset (no training)."""

import json

from bench import configs, run


def test_our_config_is_the_project_pipeline_without_policies():
    project = configs.read(configs.PROJECT_CONFIG)
    ours = configs.nlu_only(project)
    assert ours["pipeline"] == project["pipeline"]
    assert "policies" not in ours
    assert ours["language"] == "ar"


def test_rasa_default_config_is_rasas_pipeline_with_an_epoch_budget(tmp_path):
    default = configs.read(configs.RASA_DEFAULT_CONFIG)
    assert configs.component_names(default) == [
        "WhitespaceTokenizer", "RegexFeaturizer", "LexicalSyntacticFeaturizer", "CountVectorsFeaturizer",
        "CountVectorsFeaturizer", "DIETClassifier", "EntitySynonymMapper", "FallbackClassifier",
    ]
    char = default["pipeline"][4]
    assert (char["analyzer"], char["min_ngram"], char["max_ngram"]) == ("char_wb", 1, 4)
    budget = configs.with_diet_epochs(default, 3)
    assert [c["epochs"] for c in budget["pipeline"] if c["name"] == "DIETClassifier"] == [3]
    assert default["pipeline"][5]["epochs"] == 5  # the original is not changed
    written = configs.write(budget, tmp_path / "c.yml", "test")
    assert configs.read(written) == budget


def test_run_dir_never_reuses_a_folder(tmp_path):
    import datetime as dt

    now = dt.datetime(2026, 1, 2, 3, 4)
    first, second = run.run_dir(tmp_path, now), run.run_dir(tmp_path, now)
    assert first.name == "2026-01-02_0304" and second.name == "2026-01-02_0304_2"


def test_missing_dataset_folder_is_skipped_with_a_clear_reason(tmp_path, capsys):
    args = run.parse_args(["--quick", "--steps", "arbanking", "--out", str(tmp_path), "--arbanking", str(tmp_path / "nowhere")])
    assert run.Bench(args).run() == 0
    (out,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["arbanking"]["status"] == "skipped"
    assert "ArBanking77 folder not found" in results["arbanking"]["reason"]
    assert results["training"] == {}
    assert "ArBanking77 folder not found" in (out / "summary.md").read_text(encoding="utf-8")
    assert "ArBanking77 SKIPPED" in capsys.readouterr().out


def test_quick_assistant_config_caps_policy_epochs_only():
    project = configs.read(configs.PROJECT_CONFIG)
    capped = configs.with_policy_epochs(project, 5)
    assert capped["pipeline"] == project["pipeline"]
    for before, after in zip(project["policies"], capped["policies"], strict=True):
        if "epochs" in before:
            assert after["epochs"] == min(before["epochs"], 5)
        else:
            assert after == before


def test_handoff_step_is_not_measured_without_bench_relay(tmp_path, monkeypatch):
    monkeypatch.setattr(run, "RELAY_MODULE", tmp_path / "absent.py")
    args = run.parse_args(["--quick", "--steps", "handoff", "--out", str(tmp_path)])
    assert run.Bench(args).run() == 0
    (out,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["handoff"]["status"] == "not measured"
    assert "bench/relay.py" in (out / "summary.md").read_text(encoding="utf-8")


def test_handoff_step_runs_the_relay_benchmark_and_keeps_its_json(tmp_path, monkeypatch):
    # A stand-in for bench/relay.py with the agreed command line: --out DIR.
    module = tmp_path / "fake_relay.py"
    module.write_text(
        "import json, sys, pathlib\n"
        "out = pathlib.Path(sys.argv[sys.argv.index('--out') + 1])\n"
        "(out / 'relay.json').write_text(json.dumps({'customer_to_console': {'p50': 11.0, 'p95': 35.0, 'count': 200}}))\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setattr(run, "RELAY_MODULE", module)
    monkeypatch.setattr(run, "RELAY_MODULE_NAME", "fake_relay")
    results_dir = tmp_path / "results"
    args = run.parse_args(["--quick", "--steps", "handoff", "--out", str(results_dir)])
    assert run.Bench(args).run() == 0
    (out,) = [p for p in results_dir.iterdir() if p.is_dir()]
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["handoff"]["status"] == "ok"
    assert results["handoff"]["figures"]["relay"]["customer_to_console"]["p95"] == 35.0
    assert "| relay/customer_to_console | 200 | 11.0 | 35.0 |" in (out / "summary.md").read_text(encoding="utf-8")
