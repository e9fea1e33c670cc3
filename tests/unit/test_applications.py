"""The applications document (TALON_APPLICATIONS, docs/applications.md): validated once per container, every
fault refused at start with a message naming the setting; shops routed by domain and currency."""

from __future__ import annotations

import json
from typing import Any

import pytest

from talon_relay.config.applications import DEFAULT, Application, load_applications
from talon_relay.container import Container
from talon_relay.entry import lambda_handler
from talon_relay.errors import InvalidRequest, SettingsError
from talon_relay.webhooks import mappings
from tests.support import LambdaContext, load_event

ENV_DEFAULT = Application(
    name=DEFAULT,
    talon_secret_arn="arn:talon-eu",
    caller_keys_secret_arn="arn:keys-eu",
    signing_secret_arn="arn:sign-eu",
)


def us(**changes: Any) -> dict[str, Any]:
    return {
        "name": "us",
        "talonSecretArn": "arn:talon-us",
        "callerKeysSecretArn": "arn:keys-us",
        "signingSecretArn": "arn:sign-us",
        **changes,
    }


def load(document: dict[str, Any]) -> Any:
    return load_applications(json.dumps(document), ENV_DEFAULT)


def refusal(document: dict[str, Any] | str) -> str:
    text = document if isinstance(document, str) else json.dumps(document)
    with pytest.raises(SettingsError) as caught:
        load_applications(text, ENV_DEFAULT)
    return str(caught.value)


def test_without_a_document_the_deployment_serves_its_default_application_alone() -> None:
    apps = load_applications(None, ENV_DEFAULT)
    assert (list(apps.by_name), apps.key_api, apps.several) == ([DEFAULT], DEFAULT, False)
    # and every shop is the default application's, as it always was
    assert apps.for_order("any.myshopify.com", None).name == DEFAULT


def test_a_document_adds_applications_beside_the_environments_default() -> None:
    apps = load({"applications": [us()], "keyApi": "us"})
    assert list(apps.by_name) == [DEFAULT, "us"]
    assert apps.by_name[DEFAULT] == ENV_DEFAULT
    assert apps.key_api == "us"


#: Documents every function refuses at its start, and what its message names.
BAD_DOCUMENTS: list[tuple[dict[str, Any] | str, str]] = [
    ({"applications": [us()], "keyApi": "mars"}, "TALON_APPLICATIONS.keyApi: unknown application 'mars'"),
    ({"applications": [us(), us()]}, "TALON_APPLICATIONS.applications.1.name: application 'us' is named twice"),
    (
        {"applications": [us(callerKeysSecretArn="arn:keys-eu")]},
        "TALON_APPLICATIONS.applications.0.callerKeysSecretArn: duplicate binding: "
        "the secret is bound to applications 'default' and 'us'",
    ),
    (
        {"applications": [us(signingSecretArn="arn:sign-eu")]},
        "TALON_APPLICATIONS.applications.0.signingSecretArn: duplicate binding",
    ),
    (
        {"applications": [us(talonSecretArn="arn:talon-eu")]},
        "TALON_APPLICATIONS.applications.0.talonSecretArn: duplicate binding",
    ),
    (
        {
            "applications": [
                {"name": DEFAULT, "shops": [{"domain": "acme.myshopify.com", "currencies": ["EUR", "USD"]}]},
                us(shops=[{"domain": "ACME.myshopify.com", "currencies": ["USD"]}]),
            ]
        },
        "TALON_APPLICATIONS.applications.1.shops.0.domain: duplicate binding: shop 'acme.myshopify.com' in USD "
        "is bound to applications 'default' and 'us'",
    ),
    ({"applications": [us(name="US")]}, "TALON_APPLICATIONS.applications.0.name: String should match pattern"),
    ({"applications": [us(talonSecretArn=None)]}, "TALON_APPLICATIONS.applications.0.talonSecretArn"),
    ({"applications": [us(signingSecretArn=None)]}, "TALON_APPLICATIONS.applications.0.signingSecretArn"),
    (
        {"applications": [us(shops=[{"domain": "a.myshopify.com", "currencies": ["usd"]}])]},
        "TALON_APPLICATIONS.applications.0.shops.0.currencies.0",
    ),
    ({"applications": []}, "TALON_APPLICATIONS.applications"),
    ("[not json", "TALON_APPLICATIONS: not JSON"),
]


@pytest.mark.parametrize(("document", "message"), BAD_DOCUMENTS)
def test_a_wrong_document_is_refused_naming_the_setting(document: dict[str, Any] | str, message: str) -> None:
    assert message in refusal(document)


def test_a_fault_of_the_environments_default_names_its_environment_variable() -> None:
    # Given the environment's default without a signing secret, beside another application
    default = Application(name=DEFAULT, talon_secret_arn="arn:talon-eu")
    with pytest.raises(SettingsError) as caught:
        load_applications(json.dumps({"applications": [us()]}), default)
    # Then the message names the variable, as seals need a signing secret per application
    assert "CALLER_SIGNING_SECRET_ARN: application 'default' needs a signing secret" in str(caught.value)


def test_a_shop_sold_in_two_currencies_routes_each_order_by_its_currency() -> None:
    apps = load(
        {
            "applications": [
                {"name": DEFAULT, "shops": [{"domain": "acme.myshopify.com", "currencies": ["EUR", "GBP"]}]},
                us(shops=[{"domain": "acme.myshopify.com", "currencies": ["USD"]}]),
            ]
        }
    )
    assert apps.for_order("acme.myshopify.com", "USD").name == "us"
    assert apps.for_order("Acme.myshopify.com", "GBP").name == DEFAULT
    assert [app.name for app in apps.for_shop("acme.myshopify.com")] == [DEFAULT, "us"]
    with pytest.raises(ValueError, match="currency 'JPY' is bound to none"):
        apps.for_order("acme.myshopify.com", "JPY")
    with pytest.raises(ValueError, match="currency None is bound to none"):
        apps.for_order("acme.myshopify.com", None)
    with pytest.raises(ValueError, match="bound to no application"):
        apps.for_order("other.myshopify.com", "USD")


def test_a_shops_entry_without_currencies_takes_what_no_currency_rule_takes() -> None:
    apps = load(
        {
            "applications": [
                {"name": DEFAULT, "shops": [{"domain": "acme.myshopify.com"}]},
                us(shops=[{"domain": "acme.myshopify.com", "currencies": ["USD"]}]),
            ]
        }
    )
    assert apps.for_order("acme.myshopify.com", "USD").name == "us"
    assert apps.for_order("acme.myshopify.com", None).name == DEFAULT  # a cart, a customer
    assert apps.for_order("acme.myshopify.com", "JPY").name == DEFAULT
    # and two such entries for one shop are a duplicate binding
    shop = {"domain": "a.myshopify.com"}
    both = {"applications": [{"name": DEFAULT, "shops": [shop]}, us(shops=[shop])]}
    assert "shop 'a.myshopify.com' without currencies is bound to applications 'default' and 'us'" in refusal(both)


def test_an_orders_currency_is_its_presentment_currency_else_its_shops_and_one_of_another_type_is_refused() -> None:
    # Given a shop routed by currency with a catch-all entry (which takes an order without a currency)
    apps = load(
        {
            "applications": [
                {"name": DEFAULT, "shops": [{"domain": "acme.myshopify.com"}]},
                us(shops=[{"domain": "acme.myshopify.com", "currencies": ["USD"]}]),
            ]
        }
    )
    assert apps.by_currency("acme.myshopify.com") and not apps.by_currency("other.myshopify.com")
    assert not load_applications(None, ENV_DEFAULT).by_currency("acme.myshopify.com")  # one application: never
    # Then an order's currency is its presentment currency, else (null, empty, absent) the shop's currency
    assert mappings.order_currency({"presentment_currency": "USD", "currency": "EUR"}) == "USD"
    for missing in ({"presentment_currency": None}, {"presentment_currency": ""}, {}):
        assert mappings.order_currency({**missing, "currency": "USD"}) == "USD"
    # And one there but of another type is refused naming the field: not read as "no currency" (the catch-all)
    for wrong in (840, {"code": "USD"}, ["USD"], True):
        with pytest.raises(InvalidRequest) as refused:
            mappings.order_currency({"presentment_currency": wrong, "currency": "USD"})
        assert "presentment_currency is not a currency code" in refused.value.reason
        assert [e.source.pointer for e in refused.value.response.errors or [] if e.source] == ["/presentment_currency"]
    with pytest.raises(InvalidRequest, match="currency is not a currency code"):
        mappings.order_currency({"currency": 978})


def test_a_function_with_a_wrong_document_refuses_every_request_from_its_start(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a function whose TALON_APPLICATIONS binds one secret to two applications
    environ = {
        "TALON_SECRET_ARN": "arn:talon-eu",
        "CALLER_SIGNING_SECRET_ARN": "arn:sign-eu",
        "TALON_APPLICATIONS": json.dumps({"applications": [us(signingSecretArn="arn:sign-eu")]}),
    }
    handler = lambda_handler("updateCustomerSessionV2", Container(environ))
    # When its first request arrives, then it is refused as misconfigured, before anything is read
    answer = handler(load_event("update_customer_session_v2", "api"), LambdaContext())
    assert answer["statusCode"] == 500
    assert "misconfigured" in answer["body"]
    with pytest.raises(SettingsError, match=r"TALON_APPLICATIONS\.applications\.0\.signingSecretArn"):
        Container(environ).applications()


def test_counts_of_several_applications_are_emitted_per_application_too(capsys: pytest.CaptureFixture[str]) -> None:
    from talon_relay import telemetry

    # Given an invocation that called Talon.One for two applications and received an old message of one
    counts = telemetry.Counts()
    counts.add(telemetry.CALLS)
    counts.of("us").add(telemetry.CALLS, 2)
    counts.of("us").maximum(telemetry.QUEUE_AGE, 30)
    counts.of("us").maximum(telemetry.QUEUE_AGE, 900)
    # When it is flushed
    totals = telemetry.flush(counts, "trackEventV2")
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # Then the totals by operation are as always, and each application has its own document
    assert totals == {telemetry.CALLS: 3, telemetry.QUEUE_AGE: 900}
    assert [d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] for d in documents] == [
        [["operation", "service"]],
        [["application", "operation", "service"], ["application", "service"]],
        [["application", "operation", "service"], ["application", "service"]],
    ]
    assert [(d.get("application"), d[telemetry.CALLS]) for d in documents] == [
        (None, [3.0]),
        ("default", [1.0]),
        ("us", [2.0]),
    ]
    assert documents[2][telemetry.QUEUE_AGE] == [900.0]


def test_counts_of_the_default_application_alone_are_one_document_as_always(capsys: pytest.CaptureFixture[str]) -> None:
    from talon_relay import telemetry

    counts = telemetry.Counts()
    counts.add(telemetry.CALLS)
    telemetry.flush(counts, "trackEventV2")
    [line] = capsys.readouterr().out.splitlines()
    assert json.loads(line)["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["operation", "service"]]


@pytest.mark.parametrize(("document", "message"), BAD_DOCUMENTS)
def test_a_function_refuses_each_wrong_document_at_its_start_naming_the_setting(
    document: dict[str, Any] | str, message: str
) -> None:
    # Given a function whose environment carries the wrong document
    environ = {
        "TALON_SECRET_ARN": "arn:talon-eu",
        "CALLER_API_KEYS_SECRET_ARN": "arn:keys-eu",
        "CALLER_SIGNING_SECRET_ARN": "arn:sign-eu",
        "TALON_APPLICATIONS": document if isinstance(document, str) else json.dumps(document),
    }
    handler = lambda_handler("updateCustomerSessionV2", Container(environ))
    # When an API request arrives, then it is refused as misconfigured before anything is read
    answer = handler(load_event("update_customer_session_v2", "api"), LambdaContext())
    assert answer["statusCode"] == 500 and "misconfigured" in answer["body"]
    # And a queued batch is refused whole (Lambda retries it once the configuration is fixed), naming the setting
    with pytest.raises(SettingsError) as caught:
        handler({"Records": [{"messageId": "m-1", "body": "{}", "attributes": {}}]}, LambdaContext())
    assert message in str(caught.value)
