"""Two applications and Shopify: an order reaches the application of its shop and currency (none: a dead
letter with the reason), and a customer's erasure reaches every application of the shop, through the
erasure queue and its scheduled run; a caller's deleteCustomerData reaches its own application only."""

# ruff: noqa: F811 - the fixtures `two`, `us_server` and `shop` are imported from their modules, then named as parameters
from __future__ import annotations

import json
from typing import Any

import pytest

from talon_relay.callers import applications
from talon_relay.errors import ConfigurationError
from tests.functions.conftest import API_KEY, SIGNING_SECRET
from tests.functions.test_api_gateway import api_event
from tests.functions.test_applications import (  # noqa: F401 - fixtures
    US_CALLER_KEY,
    US_SIGNING_SECRET,
    US_TALON_KEY,
    TwoApps,
    keys_seen,
    two,
    us_server,
)
from tests.functions.test_shopify_webhook import Shop, answer_v2, payload, shop  # noqa: F401 - fixtures
from tests.support import FakeClock, LambdaContext, answer_every_route, load_event, reset_handlers


def erase_queued(two: TwoApps, shop: Shop, load_handler: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The off-peak run of deleteCustomerData's function, draining the erasure queue."""
    monkeypatch.setenv("QUEUE_URL", shop.erasure_url)
    reset_handlers()
    result: dict[str, Any] = load_handler("delete_customer_data")(
        load_event("delete_customer_data", "schedule"), LambdaContext()
    )
    return result


def test_customers_redact_erases_the_customer_in_every_application_of_the_shop(
    two: TwoApps, shop: Shop, load_handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a shop bound to both applications (EUR: default, USD: us), both Talon.One answering
    answer_every_route(two.eu)
    answer_every_route(two.us)
    redact = payload("customers/redact")
    customer = str(redact["customer"]["id"])
    # When Shopify's customers/redact is taken, consumed, and the erasure schedule runs
    assert shop.post("customers/redact", redact)["statusCode"] == 200
    assert shop.consume() == {"batchItemFailures": []}
    summary = erase_queued(two, shop, load_handler, monkeypatch)
    # Then the customer, and the guest profile of its order to redact, were erased in both applications,
    # each with its own key
    assert summary["deleted"] == 4
    [order] = redact["orders_to_redact"]
    paths = sorted([f"/v1/customer_data/{customer}", f"/v1/customer_data/guest-order-{order}"])
    assert sorted(r.path for r, _ in two.eu.log if r.method == "DELETE") == paths
    assert sorted(r.path for r, _ in two.us.log if r.method == "DELETE") == paths
    assert (keys_seen(two.eu), keys_seen(two.us)) == ([f"ApiKey-v1 {API_KEY}"] * 2, [f"ApiKey-v1 {US_TALON_KEY}"] * 2)


def test_a_scheduled_run_given_ids_erases_them_in_every_application(two: TwoApps, load_handler: Any) -> None:
    answer_every_route(two.eu)
    answer_every_route(two.us)
    summary = load_handler("delete_customer_data")({"integrationIds": ["c-1"]}, LambdaContext())
    assert summary["deleted"] == 2
    assert [r.path for r, _ in two.eu.log] == [r.path for r, _ in two.us.log] == ["/v1/customer_data/c-1"]


def test_a_callers_delete_customer_data_reaches_its_own_application_only(two: TwoApps, load_handler: Any) -> None:
    answer_every_route(two.eu)
    answer_every_route(two.us)
    event = api_event("delete_customer_data", params={"integrationId": "c-7"}, secret=None)
    event["headers"]["Authorization"] = f"ApiKey-v1 {US_CALLER_KEY}"
    answer = load_handler("delete_customer_data")(event, LambdaContext())
    assert answer["statusCode"] == 204, answer
    assert (two.eu.log, [r.path for r, _ in two.us.log]) == ([], ["/v1/customer_data/c-7"])


@pytest.mark.parametrize(("currency", "reached"), [("USD", "us"), ("EUR", "default")])
def test_an_order_reaches_the_application_of_its_currency(
    two: TwoApps, shop: Shop, currency: str, reached: str
) -> None:
    # Given both Talon.One answering, and an order of the shop in `currency`
    answer_v2(two.eu)
    answer_v2(two.us)
    order = {**payload("orders/create"), "currency": currency, "presentment_currency": currency}
    # When it is taken and consumed
    assert shop.post("orders/create", order)["statusCode"] == 200
    assert shop.consume() == {"batchItemFailures": []}
    # Then every step reached that application's Talon.One, none the other's
    target, other = (two.us, two.eu) if reached == "us" else (two.eu, two.us)
    assert target.log and other.log == []


def test_an_order_in_a_currency_no_application_takes_is_dead_lettered_with_the_reason(two: TwoApps, shop: Shop) -> None:
    order = {**payload("orders/create"), "currency": "JPY", "presentment_currency": "JPY"}
    assert shop.post("orders/create", order)["statusCode"] == 200
    assert shop.consume() == {"batchItemFailures": []}
    [dead] = shop.dead_letters()
    reason = dead["MessageAttributes"]["failureReason"]["StringValue"]
    assert "currency 'JPY' is bound to none" in reason
    assert (two.eu.log, two.us.log) == ([], [])
    assert json.loads(dead["Body"])["topic"] == "orders/create"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"presentment_currency": 840, "currency": "EUR"}, "presentment_currency"),
        ({"presentment_currency": {"code": "USD"}, "currency": "EUR"}, "presentment_currency"),
        ({"presentment_currency": None, "currency": ["EUR"]}, "currency"),
    ],
    ids=["presentment-a-number", "presentment-an-object", "currency-a-list"],
)
def test_an_order_whose_currency_is_not_a_currency_code_is_dead_lettered_naming_the_field(
    two: TwoApps, shop: Shop, change: dict[str, Any], field: str
) -> None:
    # Given a shop whose applications are bound by currency (EUR: default, USD: us), and an order whose
    # presentment_currency (or, without one, its currency) is there but is no currency code
    answer_v2(two.eu)
    answer_v2(two.us)
    order = {**payload("orders/create"), **change}
    # When it is taken (200: stored) and consumed
    assert shop.post("orders/create", order)["statusCode"] == 200
    assert shop.consume() == {"batchItemFailures": []}
    # Then it is dead-lettered with the reason naming the field, never routed as an order without a currency (the
    # shop's catch-all application) nor by the shop's currency in place of the customer's; no Talon.One was called
    [dead] = shop.dead_letters()
    reason = dead["MessageAttributes"]["failureReason"]["StringValue"]
    assert f"{field} is not a currency code" in reason
    assert "840" not in reason and "USD" not in reason
    assert (two.eu.log, two.us.log) == ([], [])


def test_the_webhook_queue_age_is_measured_per_application(
    two: TwoApps, shop: Shop, sqs_clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given both Talon.One answering, and a USD order (`us`'s) that was queued ten minutes ago
    answer_v2(two.eu)
    answer_v2(two.us)
    order = {**payload("orders/create"), "currency": "USD", "presentment_currency": "USD"}
    sqs_clock.advance(-600)  # moto's clock stamps the message's SentTimestamp ten minutes back
    assert shop.post("orders/create", order)["statusCode"] == 200
    capsys.readouterr()
    # When the webhook queue's batch is consumed
    assert shop.consume() == {"batchItemFailures": []}
    # Then its age is `us`'s queue age, in a document dimensioned by the application, the default's has none
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    ages = {d.get("application"): d.get("QueueAgeSeconds") for d in documents}
    [age] = ages["us"]
    assert 600 <= age < 900
    assert ["application", "service"] in documents[-1]["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    assert ages.get("default") is None


def test_an_application_whose_talon_one_secret_cannot_be_read_fails_the_erasure_run(
    two: TwoApps, load_handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given one erasure thread, `us`'s Talon.One secret gone (the relay cannot erase anything of `us`'s)
    monkeypatch.setenv("ERASURE_CONCURRENCY", "1")
    reset_handlers()
    answer_every_route(two.eu)
    two.stack.secrets.delete_secret(SecretId=two.us_talon_arn, ForceDeleteWithoutRecovery=True)
    # And two of `us`'s erasures queued, then eight of the default application's, each sealed by its sender
    for application, secret, customers in (("us", US_SIGNING_SECRET, 2), ("default", SIGNING_SECRET, 8)):
        for n in range(customers):
            body = json.dumps({"integrationId": f"{application}-{n}"})
            two.stack.sqs.send_message(
                QueueUrl=two.stack.queue_url,
                MessageBody=body,
                MessageAttributes={
                    "relayApplication": {"DataType": "String", "StringValue": application},
                    "relaySeal": {"DataType": "String", "StringValue": applications.seal(application, body, secret)},
                },
            )
    # When the erasure schedule runs
    handler = load_handler("delete_customer_data")
    # Then the run fails (the scheduler retries it, its DLQ alarm says so), after erasing the default's eight
    with pytest.raises(ConfigurationError, match="cannot read secret"):
        handler(load_event("delete_customer_data", "schedule"), LambdaContext())
    assert len([r for r, _ in two.eu.log if r.method == "DELETE"]) == 8
