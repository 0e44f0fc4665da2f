"""Local secrets of `make run`: generated once into .env.local (0600), reused, the environment wins."""

import stat
from itertools import count

from scripts import secrets_file
from scripts.rasa_run import with_token

NAMES = ("RASA_TOKEN", "HANDOFF_SERVICE_TOKEN", "WEBCHAT_SECRET", "ACTION_SERVER_TOKEN", "REDIS_PASSWORD")


def numbered():
    numbers = count(1)
    return lambda: f"secret-{next(numbers)}"


def test_every_secret_the_stack_needs_is_listed():
    assert set(secrets_file.SECRET_NAMES) == set(NAMES)


def test_first_run_generates_every_secret_into_a_private_file(tmp_path):
    path = tmp_path / ".env.local"
    values, written = secrets_file.load_or_create(path, environ={}, generate=numbered())
    assert written
    assert values == {name: f"secret-{i}" for i, name in enumerate(NAMES, 1)}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secrets_file.parse(path.read_text()) == values


def test_later_runs_reuse_the_file_and_generate_nothing(tmp_path):
    path = tmp_path / ".env.local"
    first, _ = secrets_file.load_or_create(path, environ={})
    text = path.read_text()
    again, written = secrets_file.load_or_create(path, environ={}, generate=lambda: "never used")
    assert again == first and not written
    assert path.read_text() == text


def test_generated_secrets_are_long_and_distinct(tmp_path):
    values, _ = secrets_file.load_or_create(tmp_path / ".env.local", environ={})
    assert len(set(values.values())) == len(NAMES)
    assert all(len(value) >= 32 for value in values.values())


def test_the_environment_wins_over_the_file(tmp_path):
    path = tmp_path / ".env.local"
    secrets_file.load_or_create(path, environ={}, generate=numbered())
    values, written = secrets_file.load_or_create(path, environ={"RASA_TOKEN": "from-env", "WEBCHAT_SECRET": ""})
    assert values["RASA_TOKEN"] == "from-env"
    assert values["WEBCHAT_SECRET"] == "secret-3"  # an empty variable does not count
    assert not written
    assert "from-env" not in path.read_text()  # the file keeps its own value


def test_a_missing_secret_is_added_and_the_others_kept(tmp_path):
    path = tmp_path / ".env.local"
    path.write_text("# mine\nRASA_TOKEN=kept\nOTHER=x\n")
    path.chmod(0o644)
    values, written = secrets_file.load_or_create(path, environ={}, generate=numbered())
    assert written and values["RASA_TOKEN"] == "kept"
    assert values["ACTION_SERVER_TOKEN"] == "secret-3"
    assert secrets_file.parse(path.read_text())["OTHER"] == "x"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_loosened_file_is_tightened_again(tmp_path):
    path = tmp_path / ".env.local"
    secrets_file.load_or_create(path, environ={})
    path.chmod(0o644)
    secrets_file.load_or_create(path, environ={})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_parse_skips_comments_blanks_and_junk():
    assert secrets_file.parse("# A=1\n\nB = two \nnot a line\nC=\nD=x=y\n") == {"B": "two", "D": "x=y"}


def test_the_env_local_file_is_ignored_by_git():
    gitignore = (secrets_file.Path(secrets_file.__file__).resolve().parents[1] / ".gitignore").read_text()
    assert ".env.local" in gitignore.splitlines()


def test_rasa_gets_its_token_inside_the_process_not_on_the_command_line():
    assert with_token(["run", "--enable-api"], "t0k") == ["run", "--enable-api", "--auth-token=t0k"]
    assert with_token(["run"], None) == ["run"]
    assert with_token(["run", "--auth-token", "given"], "t0k") == ["run", "--auth-token", "given"]


def test_a_token_that_begins_with_a_dash_reaches_rasa_as_the_tokens_value():
    # token_urlsafe draws "-" first one time in 64: Rasa's argparse must not take it for an option
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("command")
    parser.add_argument("-t", "--auth-token")
    assert parser.parse_args(with_token(["run"], "-Ocq2avzJL0N")).auth_token == "-Ocq2avzJL0N"


def test_the_stack_hands_its_secrets_to_the_children_through_the_environment(monkeypatch):
    from scripts.stack import Stack

    monkeypatch.setenv("RASA_TOKEN", "r-env")
    monkeypatch.delenv("ACTION_SERVER_TOKEN", raising=False)
    monkeypatch.delenv("ACTION_SERVER_URL", raising=False)
    stack = Stack(rasa_port=5999)
    env = stack.env()
    assert env["RASA_TOKEN"] == "r-env" == stack.rasa_token
    assert env["ACTION_SERVER_TOKEN"] == stack.action_token and len(stack.action_token) >= 32
    assert env["ACTION_SERVER_URL"].startswith("http://127.0.0.1:")  # the action server is on loopback
    assert stack.api_url("/conversations/a b/tracker") == "http://127.0.0.1:5999/conversations/a b/tracker?token=r-env"
