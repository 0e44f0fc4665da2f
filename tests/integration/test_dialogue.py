"""Data validation and dialogue tests with Rasa's own tools."""

from pathlib import Path

from tests.integration.conftest import run_rasa

ROOT = Path(__file__).resolve().parents[2]


def test_rasa_data_validate_has_no_warnings(artifacts):
    log = artifacts / "validate.log"
    result = run_rasa(
        ["data", "validate", "--config", "config.yml", "--domain", "bot/domain", "--data", "nlu_data", "bot/data", "--fail-on-warnings"],
        log,
        timeout=300,
    )
    output = log.read_text(encoding="utf-8", errors="replace")
    assert result.returncode == 0, output[-3000:]
    assert "UserWarning" not in output, output[-3000:]


def test_test_stories_pass_with_fail_on_prediction_errors(trained_model, artifacts):
    out = artifacts / "rasa-test-core"
    result = run_rasa(
        ["test", "core", "--model", str(trained_model), "--stories", "tests/stories", "--out", str(out), "--fail-on-prediction-errors"],
        artifacts / "rasa-test-core.log",
    )
    failed = out / "failed_test_stories.yml"
    detail = failed.read_text(encoding="utf-8") if failed.exists() else (artifacts / "rasa-test-core.log").read_text()[-3000:]
    assert result.returncode == 0, detail
