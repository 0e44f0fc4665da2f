"""Data validation and dialogue tests with Rasa's own tools."""

import re
from pathlib import Path

from tests.integration.conftest import run_rasa

ROOT = Path(__file__).resolve().parents[2]
# Intents the handoff relay triggers (EXTERNAL_*, Rasa's convention for external
# events) have no NLU examples by design: a customer must never be classified
# into them. Rasa warns about that; every other warning still fails the test.
EXPECTED_WARNING = re.compile(
    r"UserWarning: The intent 'EXTERNAL_\w+' is listed in the domain file, but is not found in the NLU training data\."
)


def test_rasa_data_validate_has_no_warnings(artifacts):
    log = artifacts / "validate.log"
    result = run_rasa(
        ["data", "validate", "--config", "config.yml", "--domain", "bot/domain", "--data", "nlu_data", "bot/data", "--fail-on-warnings"],
        log,
        timeout=300,
    )
    output = log.read_text(encoding="utf-8", errors="replace")
    assert result.returncode == 0, output[-3000:]
    unexpected = [line for line in output.splitlines() if "UserWarning" in line and not EXPECTED_WARNING.search(line)]
    assert not unexpected, output[-3000:]


def test_test_stories_pass_with_fail_on_prediction_errors(trained_model, artifacts):
    out = artifacts / "rasa-test-core"
    result = run_rasa(
        ["test", "core", "--model", str(trained_model), "--stories", "tests/stories", "--out", str(out), "--fail-on-prediction-errors"],
        artifacts / "rasa-test-core.log",
    )
    failed = out / "failed_test_stories.yml"
    detail = failed.read_text(encoding="utf-8") if failed.exists() else (artifacts / "rasa-test-core.log").read_text()[-3000:]
    assert result.returncode == 0, detail
