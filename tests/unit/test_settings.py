"""Settings: the function's environment, validated once, with errors that name the variable."""

from __future__ import annotations

from dataclasses import MISSING, fields

import pytest

from talon_relay.config.settings import Settings, load_settings
from talon_relay.errors import SettingsError
from talon_relay.talon.auth import TalonCredentials

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:talon-abc"


def test_only_the_secret_arn_is_required_and_the_rest_has_defaults() -> None:
    cfg = load_settings({"TALON_SECRET_ARN": ARN})
    assert cfg.talon_secret_arn == ARN
    assert (cfg.connect_timeout, cfg.read_timeout, cfg.max_retries) == (3.0, 10.0, 4)
    assert cfg.secret_max_age == 300
    assert cfg.queue_url is None


def test_values_are_read_from_their_text_form() -> None:
    cfg = load_settings(
        {
            "TALON_SECRET_ARN": ARN,
            "TALON_READ_TIMEOUT": "2.5",
            "TALON_MAX_RETRIES": "0",
            "TALON_SECRET_MAX_AGE": "60",
            "QUEUE_URL": "http://127.0.0.1:4566/000000000000/q",
            "UNRELATED": "ignored",
        }
    )
    assert (cfg.read_timeout, cfg.max_retries, cfg.secret_max_age) == (2.5, 0, 60)
    assert cfg.queue_url == "http://127.0.0.1:4566/000000000000/q"


def test_the_process_environment_is_the_default_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALON_SECRET_ARN", ARN)
    monkeypatch.setenv("TALON_BACKOFF_FACTOR", "0.5")
    cfg = load_settings()
    assert (cfg.talon_secret_arn, cfg.backoff_factor) == (ARN, 0.5)


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({}, "TALON_SECRET_ARN"),
        ({"TALON_SECRET_ARN": ""}, "TALON_SECRET_ARN"),
        ({"TALON_SECRET_ARN": ARN, "TALON_MAX_RETRIES": "many"}, "TALON_MAX_RETRIES"),
        ({"TALON_SECRET_ARN": ARN, "TALON_MAX_RETRIES": "11"}, "TALON_MAX_RETRIES"),
        ({"TALON_SECRET_ARN": ARN, "TALON_READ_TIMEOUT": "0"}, "TALON_READ_TIMEOUT"),
        ({"TALON_SECRET_ARN": ARN, "TALON_SECRET_MAX_AGE": "-1"}, "TALON_SECRET_MAX_AGE"),
        ({"TALON_SECRET_ARN": ARN, "BATCH_CONCURRENCY": "11"}, "BATCH_CONCURRENCY"),  # more than a batch holds
    ],
)
def test_a_wrong_environment_is_one_error_naming_the_variable(environ: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError) as exc:
        load_settings(environ)
    assert variable in str(exc.value)


@pytest.mark.parametrize("record", [Settings, TalonCredentials], ids=lambda cls: cls.__name__)
def test_each_field_is_checked_as_the_type_it_is_declared(record: type) -> None:
    # Given a record's fields: a declared type, and the core schema that checks it
    for item in fields(record):
        schema = item.metadata["schema"]
        declared = str(item.type)
        if schema["type"] == "nullable":
            assert declared.endswith(" | None"), item.name
            schema = schema["schema"]
        # Then the schema checks the declared type (a Literal its very values), defaults included
        base = declared.removesuffix(" | None")
        if schema["type"] == "literal":
            assert base == f"Literal[{', '.join(map(repr, schema['expected']))}]", item.name
        else:
            assert base == schema["type"], item.name
        if item.default is not MISSING:
            assert item.default is None or isinstance(
                item.default, {"str": str, "int": int, "float": float}.get(base, str)
            )
            assert item.default is not None or declared.endswith(" | None"), item.name


@pytest.mark.parametrize("value", ["{not json", '["a"]', '{"syncCatalog": ""}', '{"syncCatalog": 1}'])
def test_a_malformed_step_queue_urls_fails_the_cold_start_naming_the_variable(value: str) -> None:
    # Given STEP_QUEUE_URLS that is not a JSON object of queue URLs by operationId
    # Then the settings are refused at once, naming the variable (never at the first webhook)
    with pytest.raises(SettingsError) as exc:
        load_settings({"TALON_SECRET_ARN": ARN, "STEP_QUEUE_URLS": value})
    assert "STEP_QUEUE_URLS" in str(exc.value)


def test_step_queue_urls_name_each_operations_queue() -> None:
    # Given the receiver's STEP_QUEUE_URLS as the template writes it
    urls = '{"deleteCustomerData": "https://q/erasure", "syncCatalog": "https://q/catalog.fifo"}'
    cfg = load_settings({"TALON_SECRET_ARN": ARN, "STEP_QUEUE_URLS": urls})
    # Then each operation's queue is found by its operationId, and no other operation has one
    assert cfg.step_queue_url("syncCatalog") == "https://q/catalog.fifo"
    assert cfg.step_queue_url("updateCustomerSessionV2") is None
    assert load_settings({"TALON_SECRET_ARN": ARN}).step_queue_url("syncCatalog") is None
