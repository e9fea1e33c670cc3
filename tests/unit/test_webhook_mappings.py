"""Webhook topic mappings as data: every mapping file against its model and its JSON Schema, what each
default Shopify topic becomes, how a payload that does not map is refused, and operators' own files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped, unused-ignore]
import pytest

from talon_relay.container import Container
from talon_relay.errors import ConfigurationError, InvalidRequest
from talon_relay.webhooks import conventions, forgetting, mappings
from talon_relay.webhooks.mapping_model import SCHEMA_FILE, TopicMapping, schema_text
from tests.support import EVENTS, ROOT

SHOPIFY_DIR = mappings.platform_dir("shopify")
EXAMPLES = ROOT / "examples"
#: Every mapping file of the repository: the layer's defaults and the documented examples.
MAPPING_FILES = sorted([*mappings.PACKAGE_DIR.glob("*/topics/*.json"), *(EXAMPLES / "mappings").glob("*/*.json")])
DEFAULT_TOPICS = {
    "carts/update",
    "checkouts/create",
    "checkouts/update",
    "orders/create",
    "orders/cancelled",
    "orders/paid",
    "orders/edited",
    "refunds/create",
    "customers/create",
    "customers/update",
    "customers/redact",
    "shop/redact",
    "products/create",
    "products/update",
    "products/delete",
}


def sample(topic: str) -> Any:
    return json.loads((EVENTS / "shopify_webhook" / "payloads" / mappings.file_name(topic)).read_text())


def shopify(topic: str) -> TopicMapping:
    return mappings.load_file(SHOPIFY_DIR / mappings.file_name(topic))


def bodies(topic: str, payload: Any) -> list[tuple[str, dict[str, str], dict[str, str], Any]]:
    """(operation, path parameters, query, body) of each request the topic's mapping makes."""
    return [(r.operation.name, dict(r.params), dict(r.query), r.body) for r in mappings.apply(shopify(topic), payload)]


# --- the files, their model and their schema ------------------------------------------------------------


@pytest.mark.parametrize("path", MAPPING_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_mapping_file_is_valid_by_the_model_and_by_the_json_schema(path: Path) -> None:
    # Given a mapping file of the repository
    document = json.loads(path.read_text())

    # Then the operators' JSON Schema accepts it, and so does the model the layer loads it with
    jsonschema.validate(document, json.loads(SCHEMA_FILE.read_text()))
    mapping = mappings.load_file(path)
    # And it is named after its topic, and says what it does
    assert path.name == mappings.file_name(mapping.topic)
    assert mapping.description


def test_the_json_schema_is_the_one_the_model_makes() -> None:
    # Given the schema file shipped for operators, and the schema of the model the layer validates with
    # Then they are the same (`make mapping-schema` writes it)
    assert SCHEMA_FILE.read_text() == schema_text()


@pytest.mark.parametrize(
    "change",
    [
        {"extra": "key"},
        {"steps": [{"operation": "trackEventV2", "body": {}, "unknown": 1}]},
        {"topic": "orders paid"},
        {"steps": "none"},
    ],
    ids=["unknown key", "unknown step key", "bad topic", "steps not a list"],
)
def test_the_json_schema_and_the_model_refuse_the_same_shapes(change: dict[str, Any]) -> None:
    # Given a mapping file with a shape the format does not allow
    document = {**json.loads((SHOPIFY_DIR / "shop_redact.json").read_text()), **change}

    # Then both the JSON Schema and the model refuse it
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, json.loads(SCHEMA_FILE.read_text()))
    with pytest.raises(ValueError):
        TopicMapping.model_validate(document)


def test_the_layer_maps_the_default_shopify_topics() -> None:
    # Given the layer's Shopify mappings
    # Then they are the defaults, each with a sample webhook under events/
    assert set(mappings.load_dir(SHOPIFY_DIR)) == DEFAULT_TOPICS
    for topic in DEFAULT_TOPICS:
        assert sample(topic)


# --- what each default topic becomes ----------------------------------------------------------------------


@pytest.mark.parametrize("topic", ["products/create", "products/update"])
def test_a_products_variants_are_added_to_the_catalog_by_the_sku_convention(topic: str) -> None:
    # Given Shopify's product webhook: a variant with a SKU and one without
    payload = sample(topic)
    first, second = payload["variants"]
    assert first["sku"] and not second["sku"]
    # When its mapping applies (the default convention: the merchant's SKU, else the variant id)
    ((operation, params, query, body),) = bodies(topic, payload)
    # Then it is one sync of catalog 1 adding (or replacing) each variant, priced, known by its product
    assert (operation, params, query) == ("syncCatalog", {"catalogId": "1"}, {})
    product = str(payload["id"])
    assert body == {
        "actions": [
            {
                "type": "ADD",
                "payload": {
                    "sku": sku,
                    "price": float(variant["price"]),
                    "attributes": {"shopifyProductId": product},
                    "replaceIfExists": True,
                },
            }
            for sku, variant in ((first["sku"], first), (str(second["id"]), second))
        ]
    }


def test_with_the_variant_id_convention_every_item_is_its_variant_id() -> None:
    # Given the deployment's choice of variant ids (Talon.One's own Shopify app's convention)
    from talon_relay.webhooks import conventions

    chosen = conventions.expansions(conventions.parse_choices("shopify_sku=variant_id"))
    mapping = mappings.load_file(SHOPIFY_DIR / "products_update.json", chosen)
    payload = sample("products/update")
    # When the product's update maps
    (request,) = mappings.apply(mapping, payload)
    # Then its items are the variants' ids, SKU or not
    assert [a["payload"]["sku"] for a in request.body["actions"]] == [str(v["id"]) for v in payload["variants"]]


def test_a_deleted_product_removes_its_items_by_product_id() -> None:
    # Given Shopify's products/delete (only the product's id)
    payload = sample("products/delete")
    assert set(payload) == {"id"}
    # Then its items are removed by the attribute the create and update set
    ((operation, params, _, body),) = bodies("products/delete", payload)
    assert (operation, params) == ("syncCatalog", {"catalogId": "1"})
    assert body == {
        "actions": [
            {
                "type": "REMOVE_MANY",
                "payload": {"filters": [{"attr": "shopifyProductId", "op": "EQ", "value": str(payload["id"])}]},
            }
        ]
    }


@pytest.mark.parametrize(
    ("change", "fault"),
    [
        (lambda p: p.update(variants=[]), "/actions"),
        (lambda p: p["variants"][1].update(sku=p["variants"][0]["sku"]), "repeats the SKU"),
        (lambda p: p.pop("variants"), "/actions"),
    ],
    ids=["no-variants", "sku-twice", "no-variants-key"],
)
def test_a_product_that_does_not_map_is_refused_naming_why(change: Any, fault: str) -> None:
    # Given a product webhook Talon.One would refuse as a sync (or that is not a product)
    payload = sample("products/update")
    change(payload)
    # Then it is refused before anything is sent, naming the fault
    with pytest.raises(InvalidRequest) as refused:
        mappings.apply(shopify("products/update"), payload)
    assert fault in refused.value.reason


def test_orders_paid_closes_the_session_then_tracks_a_purchase() -> None:
    # Given Shopify's orders/paid webhook for a customer's order with a discount code
    payload = sample("orders/paid")

    # When its mapping applies
    session, event = bodies("orders/paid", payload)

    # Then the cart's session is closed with the order's items, customer and codes
    customer, variant = str(payload["customer"]["id"]), str(payload["line_items"][1]["variant_id"])
    assert session[:3] == ("updateCustomerSessionV2", {"customerSessionId": payload["cart_token"]}, {})
    assert session[3] == {
        "customerSession": {
            "profileId": customer,
            "state": "closed",
            "cartItems": [
                {"sku": "BEANS-ESP-1KG", "name": "Espresso beans", "quantity": 2, "price": 18.5},
                # (a line without a SKU is known by its variant)
                {"sku": variant, "name": "Milk frother", "quantity": 1, "price": 39.0},
            ],
            "couponCodes": ["SUMMER10"],
        },
        # (the answer names the session and the profile, so the effects are logged with their ids)
        "responseContent": ["customerSession", "customerProfile"],
    }
    # And then the purchase as an advanced event of the order (registered once whatever the webhook id),
    # connected to the session, with the order's id, total and currency, answered with its effects
    assert event == (
        "trackEventV3",
        {},
        {"silent": "no"},
        {
            "profileId": customer,
            "type": "purchase",
            "integrationId": f"order-{payload['id']}",
            "connectedSessionId": payload["cart_token"],
            "attributes": {"orderId": str(payload["id"]), "total": 68.4, "currency": "EUR"},
            "responseContent": ["customerProfile"],
        },
    )
    # And orders/create does the same
    assert bodies("orders/create", sample("orders/create")) == [session, event]


def test_an_order_without_a_cart_or_a_customer_still_closes_its_own_session() -> None:
    # Given an order made without a storefront cart (e.g. a draft order) by a guest
    payload = {**sample("orders/paid"), "cart_token": None, "checkout_token": None, "customer": None}

    # When its mapping applies
    session, event = bodies("orders/paid", payload)

    # Then its session is named after the order, and the session and the event are the order's guest's
    guest = f"guest-order-{payload['id']}"
    assert session[1] == {"customerSessionId": f"order-{payload['id']}"}
    assert session[3]["customerSession"]["profileId"] == guest
    assert event[3]["profileId"] == guest and event[3]["integrationId"] == f"order-{payload['id']}"
    assert event[3]["connectedSessionId"] == f"order-{payload['id']}"


def test_a_customer_webhook_without_an_id_is_dead_lettered_and_no_consent_is_invented() -> None:
    # Given a customers/update without an id, and one without any marketing consent
    payload = sample("customers/update")
    without_id = {key: value for key, value in payload.items() if key != "id"}
    without_consent = {key: value for key, value in payload.items() if key != "email_marketing_consent"}
    # When their mappings apply
    # Then the first is refused, naming the path parameter (a dead letter with its reason), never sent as "null"
    with pytest.raises(InvalidRequest) as refused:
        bodies("customers/update", without_id)
    assert "integrationId" in refused.value.reason
    # And the second sends no acceptsMarketing at all
    [(_, params, _, body)] = bodies("customers/update", without_consent)
    assert params == {"integrationId": str(payload["id"])}
    assert "acceptsMarketing" not in body["attributes"]


def test_an_order_cancelled_cancels_its_session() -> None:
    payload = sample("orders/cancelled")
    [(operation, params, _, body)] = bodies("orders/cancelled", payload)
    assert (operation, params) == ("updateCustomerSessionV2", {"customerSessionId": payload["cart_token"]})
    assert body["customerSession"] == {"state": "cancelled"}


def test_cart_and_checkout_updates_are_the_same_session_with_items_and_coupon_codes() -> None:
    # Given a cart update and the checkout of the same cart
    cart, checkout = sample("carts/update"), sample("checkouts/update")

    # When their mappings apply
    [(_, cart_params, _, cart_body)] = bodies("carts/update", cart)
    [(_, checkout_params, _, checkout_body)] = bodies("checkouts/update", checkout)

    # Then both update the cart's session: the cart anonymously, the checkout with its customer
    assert cart_params == checkout_params == {"customerSessionId": cart["token"]}
    assert "profileId" not in cart_body["customerSession"]
    assert checkout_body["customerSession"]["profileId"] == str(checkout["customer"]["id"])
    # And each carries the items with number prices and the discount codes, each once
    for body in (cart_body, checkout_body):
        assert [item["quantity"] for item in body["customerSession"]["cartItems"]] == [2, 1]
        assert [item["price"] for item in body["customerSession"]["cartItems"]] == [18.5, 39.0]
        assert body["customerSession"]["couponCodes"] == ["SUMMER10"]
    twice = {**cart, "line_items": [{**line, "discounts": [{"title": "SUMMER10"}]} for line in cart["line_items"]]}
    assert bodies("carts/update", twice)[0][3]["customerSession"]["couponCodes"] == ["SUMMER10"]


@pytest.mark.parametrize("topic", ["customers/create", "customers/update"])
def test_customer_topics_copy_only_the_attributes_the_mapping_names(topic: str) -> None:
    # Given a customer webhook full of personal data (name, email, phone, address)
    payload = sample(topic)

    # When its mapping applies
    [(operation, params, _, body)] = bodies(topic, payload)

    # Then the profile gets exactly the named attributes, and none of the personal data
    assert (operation, params) == ("updateCustomerProfileV2", {"integrationId": str(payload["id"])})
    assert body == {
        "attributes": {
            "shopifyAccountState": "enabled",
            "shopifyTags": payload["tags"],
            "acceptsMarketing": True,
        }
    }
    text = json.dumps(body)
    for personal in (payload["email"], payload["first_name"], payload["phone"], "Kastanienallee"):
        assert personal not in text


def test_customers_redact_is_a_deletion_the_erasure_schedule_runs() -> None:
    # Given Shopify's customers/redact webhook, with two orders to redact
    payload = {**sample("customers/redact"), "orders_to_redact": [5912348800105, 5912348800777]}

    # When its mapping applies
    planned = mappings.plan(shopify("customers/redact"), payload)

    # Then it is a deleteCustomerData of the customer, then one of each order's guest profile (a guest
    # order's sessions and events), each its own step run: operations the table leaves to the schedule
    assert [(label, dict(r.params)) for label, r in planned] == [
        ("1", {"integrationId": str(payload["customer"]["id"])}),
        ("2.1", {"integrationId": "guest-order-5912348800105"}),
        ("2.2", {"integrationId": "guest-order-5912348800777"}),
    ]
    assert all(r.operation.name == "deleteCustomerData" and r.operation.schedule for _, r in planned)


def test_customers_redact_without_orders_to_redact_erases_the_customer_only() -> None:
    # Given a customers/redact whose orders_to_redact is empty, or missing
    orders: list[int] | None
    for orders in ([], None):
        payload = {**sample("customers/redact"), "orders_to_redact": orders}

        # Then only the customer is erased
        assert [label for label, _ in mappings.plan(shopify("customers/redact"), payload)] == ["1"]


def test_shop_redact_sends_nothing_and_forgets_the_shops_order_records() -> None:
    # Given the shop/redact mapping
    mapping = shopify("shop/redact")

    # Then it maps any payload to no request at all (Talon.One's application is the business's), and it
    # forgets every order record of the shop (tests/functions/test_shopify_redact.py)
    assert mapping.steps == []
    assert mappings.apply(mapping, sample("shop/redact")) == []
    assert mapping.order is not None and mapping.order.forget_shop and mapping.order.forget is None


def test_customers_redact_forgets_the_records_of_the_orders_it_names() -> None:
    # Given the customers/redact mapping
    mapping = shopify("customers/redact")

    # Then it forgets the orders of `orders_to_redact`, each by its id as the paid order's record is keyed
    assert forgetting.order_ids(mapping, sample("customers/redact")) == ["5912348800105"]
    assert forgetting.order_ids(mapping, {**sample("customers/redact"), "orders_to_redact": None}) == []
    assert mapping.order is not None and not mapping.order.forget_shop


def test_an_order_forget_expression_that_does_not_compile_is_refused_with_where() -> None:
    # Given a mapping whose order.forget is no JMESPath
    document = {**json.loads((SHOPIFY_DIR / "shop_redact.json").read_text()), "order": {"forget": "orders[?"}}

    # Then the model refuses it, naming the field
    with pytest.raises(ValueError, match=r"order\.forget"):
        TopicMapping.model_validate(document)


# --- payloads that do not map ------------------------------------------------------------------------------


def test_a_payload_that_maps_to_an_invalid_request_names_the_step_and_field_never_the_value() -> None:
    # Given an order whose line has a quantity Talon.One cannot take
    payload = sample("orders/paid")
    payload["line_items"][0]["quantity"] = "two-and-a-half"

    # When its mapping applies
    with pytest.raises(InvalidRequest) as raised:
        mappings.apply(shopify("orders/paid"), payload)

    # Then nothing is made, and the reason names the topic, the step and the field
    reason = raised.value.reason
    assert "orders/paid step 1 (updateCustomerSessionV2)" in reason
    assert "/customerSession/cartItems/0/quantity" in reason
    assert "two-and-a-half" not in reason


def test_an_expression_that_fails_is_reported_without_the_payload() -> None:
    # Given a mapping that joins a customer's tags, and a payload whose tags are not a list of strings
    mapping = TopicMapping.model_validate(
        {
            "topic": "customers/update",
            "steps": [
                {
                    "operation": "updateCustomerProfileV2",
                    "params": {"integrationId": "to_string(id)"},
                    "body": {"attributes": {"tags": "join(', ', tags)"}},
                }
            ],
        }
    )
    payload = {"id": 1, "tags": {"secret": "jane.doe@example.com"}}

    # When it applies
    with pytest.raises(InvalidRequest) as raised:
        mappings.apply(mapping, payload)

    # Then the reason says which field's expression failed and how, and nothing of the payload
    reason = raised.value.reason
    assert "customers/update step 1 (updateCustomerProfileV2)" in reason
    assert "/attributes/tags: the expression failed (JMESPathTypeError in join())" in reason
    assert "jane.doe" not in reason


def test_a_redact_without_a_customer_id_is_refused_not_dropped() -> None:
    # Given a customers/redact that names the customer by email only
    payload = {"shop_domain": "acme.myshopify.com", "customer": {"email": "jane.doe@example.com"}}

    # Then it does not map (it is dead-lettered, with its alarm), rather than silently doing nothing
    with pytest.raises(InvalidRequest, match="integrationId"):
        mappings.apply(shopify("customers/redact"), payload)


@pytest.mark.parametrize(
    ("topic", "change"),
    [
        ("orders/paid", {"id": None, "customer": None}),
        ("orders/create", {"id": None, "cart_token": None, "checkout_token": None}),
        ("orders/cancelled", {"id": None, "cart_token": None, "checkout_token": None}),
        ("customers/redact", {"orders_to_redact": [None]}),
        ("products/delete", {"id": None}),
    ],
    ids=["paid guest", "created without cart", "cancelled without cart", "redact null order", "product delete"],
)
def test_a_missing_id_is_refused_never_sent_as_the_text_null(topic: str, change: dict[str, Any]) -> None:
    # Given a webhook whose id (or an id it lists) is null
    payload = {**sample(topic), **change}
    # When its mapping applies
    # Then it is refused (a dead letter naming the step), rather than sent as "order-null", "guest-order-null"...
    with pytest.raises(InvalidRequest) as refused:
        mappings.apply(shopify(topic), payload)
    assert f"{topic} step" in refused.value.reason


@pytest.mark.parametrize(
    ("topic", "path"),
    [
        ("customers/update", ("id",)),
        ("customers/redact", ("customer", "id")),
        ("customers/redact", ("orders_to_redact", 0)),
        ("orders/paid", ("customer", "id")),
        ("orders/paid", ("line_items", 1, "variant_id")),
    ],
)
@pytest.mark.parametrize("value", [True, [1, "a"], {"id": 7}], ids=["boolean", "list", "object"])
def test_an_id_that_is_not_a_string_or_a_number_is_refused_never_sent_as_its_json_text(
    topic: str, path: tuple[str | int, ...], value: Any
) -> None:
    # Given a webhook whose id (a customer's, an order to redact, a line's variant) is a boolean, a list or an object
    payload = sample(topic)
    parent = payload
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    # When its mapping applies
    # Then it is refused (a dead letter naming the step), never sent as the id "true", '[1,"a"]' or '{"id":7}'
    # (an erasure or a profile update of someone who is no one)
    with pytest.raises(InvalidRequest) as refused:
        mappings.apply(shopify(topic), payload)
    assert f"{topic} step" in refused.value.reason
    assert "to_string" in refused.value.reason


#: The topics whose mapping sends the payload's line_items as the session's cart (Shopify's cart, checkout
#: and order payloads always carry the list; an empty cart is an empty list).
CART_TOPICS = ["carts/update", "checkouts/create", "checkouts/update", "orders/create", "orders/paid"]


@pytest.mark.parametrize("topic", CART_TOPICS)
@pytest.mark.parametrize(
    "line_items",
    [None, "1 strap", {"id": 1, "quantity": 1}, ["1 strap"], [{"id": 1}, 7]],
    ids=["missing", "string", "object", "list-of-text", "a-line-not-an-object"],
)
def test_a_cart_whose_line_items_are_missing_or_not_a_list_of_lines_is_refused_naming_the_field(
    topic: str, line_items: Any
) -> None:
    # Given a cart, checkout or order whose line_items are missing, are not a list, or hold something not a line
    payload = {key: value for key, value in sample(topic).items() if key != "line_items"}
    if line_items is not None:
        payload["line_items"] = line_items
    # When its mapping applies
    # Then it is refused (a dead letter naming the field), never sent without cartItems: Talon.One would keep the
    # session's previous cart, or close the session with it
    with pytest.raises(InvalidRequest) as refused:
        mappings.apply(shopify(topic), payload)
    assert f"{topic}: line_items" in refused.value.reason
    assert "1 strap" not in refused.value.reason


@pytest.mark.parametrize("topic", CART_TOPICS)
def test_an_empty_cart_is_sent_as_an_empty_cart(topic: str) -> None:
    # Given a cart, checkout or order whose line_items are an empty list (every line taken off)
    payload = {**sample(topic), "line_items": []}
    # When its mapping applies
    # Then the session's cart is sent empty, as it is
    [(operation, _, _, body), *_] = bodies(topic, payload)
    assert operation == "updateCustomerSessionV2"
    assert body["customerSession"]["cartItems"] == []


@pytest.mark.parametrize(
    "price",
    ["abc", "19,99", "0x10", "1_000.00", "\uff11\uff19.99", " 19.99", "+19.99", "Infinity", True, {"amount": "1"}],
)
def test_a_price_that_is_not_a_number_is_refused_never_dropped_or_coerced(price: Any) -> None:
    # Given an order whose first line's price is there but is not a JSON number (nor a JSON number as text)
    payload = sample("orders/paid")
    payload["line_items"][0]["price"] = price
    # When its mapping applies
    # Then it is refused, naming the step and the field, never the value (the price is not silently left out
    # of the cart, nor read the way Python would read it)
    with pytest.raises(InvalidRequest) as refused:
        mappings.apply(shopify("orders/paid"), payload)
    reason = refused.value.reason
    assert "orders/paid step 1 (updateCustomerSessionV2)" in reason
    assert "/customerSession/cartItems" in reason and "to_number" in reason
    assert "19,99" not in reason and "abc" not in reason


@pytest.mark.parametrize(
    ("price", "sent"),
    [("18.50", 18.5), ("1e3", 1000.0), ("-2.5E-1", -0.25), ("7", 7), (18.5, 18.5), (None, None)],
)
def test_a_price_that_is_a_json_number_is_sent_as_that_number(price: Any, sent: Any) -> None:
    # Given an order whose first line's price is a JSON number, as text or as a number, or null
    payload = sample("orders/paid")
    payload["line_items"][0]["price"] = price
    # When its mapping applies
    [session, _event] = mappings.apply(shopify("orders/paid"), payload)
    # Then the line's price is that number (null: left out, as any null is)
    assert session.body["customerSession"]["cartItems"][0].get("price") == sent


# --- mapping files that are not valid ----------------------------------------------------------------------

GOOD_STEP: dict[str, Any] = {
    "operation": "updateCustomerProfileV2",
    "params": {"integrationId": "to_string(id)"},
    "body": {"attributes": {"tier": "tags"}},
}


@pytest.mark.parametrize(
    ("step", "problem"),
    [
        ({**GOOD_STEP, "operation": "updateCustomerProfileV9"}, "is not an Integration API operation"),
        ({**GOOD_STEP, "operation": "shopifyWebhook"}, "is not an Integration API operation"),
        ({**GOOD_STEP, "params": {}}, "params must be exactly ['integrationId']"),
        ({**GOOD_STEP, "query": {"silent": "'no'"}}, "takes no query parameter ['silent']"),
        ({**GOOD_STEP, "params": {"integrationId": "to_string(id"}}, "params.integrationId: not a JMESPath"),
        ({**GOOD_STEP, "body": {"attributes": {"x": "shout(tags)"}}}, "unknown JMESPath function(s) ['shout']"),
        ({**GOOD_STEP, "body": {"attributes": "@"}}, "name each attribute in an object"),
        ({"operation": "deleteCustomerData", "params": {"integrationId": "id"}, "body": {}}, "takes no body"),
        ({"operation": "trackEventV2"}, "needs a body"),
    ],
)
def test_a_mapping_file_that_is_not_valid_is_refused_at_load(
    tmp_path: Path, step: dict[str, Any], problem: str
) -> None:
    # Given a mapping file with a step the relay cannot run
    path = tmp_path / "customers_update.json"
    path.write_text(json.dumps({"topic": "customers/update", "steps": [step]}))

    # When it is loaded
    # Then the load fails as a configuration error naming the file and the problem
    with pytest.raises(ConfigurationError) as raised:
        mappings.load_file(path)
    assert "customers_update.json" in raised.value.reason
    assert problem in raised.value.reason


def test_a_mapping_file_must_be_named_after_its_topic(tmp_path: Path) -> None:
    # Given a file whose name is not its topic's
    path = tmp_path / "orders_paid.json"
    path.write_text(json.dumps({"topic": "orders/create", "steps": []}))

    # Then it is refused, with the name it should have
    with pytest.raises(ConfigurationError, match=r"name it orders_create\.json"):
        mappings.load_file(path)


def test_operator_mappings_replace_and_add_topics_over_the_layers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an operator's directory (WEBHOOK_MAPPINGS_DIR) with a changed carts/update and a new topic
    folder = tmp_path / "shopify"
    folder.mkdir()
    changed = {"topic": "carts/update", "description": "operator's", "steps": []}
    added = {"topic": "refunds/create", "description": "new", "steps": []}
    (folder / "carts_update.json").write_text(json.dumps(changed))
    (folder / "refunds_create.json").write_text(json.dumps(added))
    monkeypatch.setenv("TALON_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:t")
    monkeypatch.setenv("WEBHOOK_MAPPINGS_DIR", str(tmp_path))
    # When a container reads the platform's mappings
    found = mappings.for_platform(Container(), "shopify")

    # Then the operator's files win topic by topic, and the layer's other topics stay
    assert found["carts/update"].description == "operator's"
    assert found["refunds/create"].description == "new"
    assert set(found) == DEFAULT_TOPICS


# --- the second platform: commercetools, by the same mechanism ------------------------------------------


def test_a_commercetools_order_created_message_maps_by_the_same_mechanism() -> None:
    # Given commercetools' OrderCreated message (as a subscription delivers it to SQS) and its example mapping
    message = json.loads((EXAMPLES / "payloads" / "commercetools" / "OrderCreated.json").read_text())
    mapping = mappings.load_dir(EXAMPLES / "mappings" / "commercetools")[message["type"]]

    # When it applies
    session, event = mappings.apply(mapping, message)

    # Then the order's cart is a closed session with its items (prices from minor units), then a purchase
    assert dict(session.params) == {"customerSessionId": message["order"]["cart"]["id"]}
    assert session.body["customerSession"]["cartItems"] == [
        {"sku": "BEANS-ESP-1KG", "name": "Espresso beans 1 kg", "quantity": 2, "price": 18.5},
        {"sku": "FROTHER-01", "name": "Milk frother", "quantity": 1, "price": 39.0},
    ]
    assert session.body["customerSession"]["state"] == "closed"
    assert event.body == {
        "profileId": message["order"]["customerId"],
        "type": "purchase",
        "attributes": {"orderNumber": "CT-10042"},
    }
    assert mappings.group_of(mapping, message) == message["order"]["cart"]["id"]


def commercetools(message_type: str) -> tuple[dict[str, Any], TopicMapping]:
    """The example message of a type and its example mapping."""
    message = json.loads((EXAMPLES / "payloads" / "commercetools" / f"{message_type}.json").read_text())
    return message, mappings.load_dir(EXAMPLES / "mappings" / "commercetools")[message_type]


def commercetools_order() -> dict[str, Any]:
    """The record OrderCreated's mapping keeps of the example order."""
    message, mapping = commercetools("OrderCreated")
    record = mappings.remembered(mapping, message)
    assert record is not None
    return record


def test_a_commercetools_order_created_keeps_the_orders_session_and_line_items() -> None:
    record = commercetools_order()
    order = commercetools("OrderCreated")[0]["order"]
    assert record["session"] == order["cart"]["id"]
    assert [(line["id"], line["position"], line["quantity"]) for line in record["lines"]] == [
        (order["lineItems"][0]["id"], 0, 2),
        (order["lineItems"][1]["id"], 1, 1),
    ]


def test_a_commercetools_order_cancelled_cancels_the_orders_session_and_other_states_send_nothing() -> None:
    # Given commercetools' OrderStateChanged to Cancelled, and the record OrderCreated kept
    message, mapping = commercetools("OrderStateChanged")

    # When it applies: the order's session (its cart, from the record) is cancelled
    [request] = mappings.apply(mapping, message, commercetools_order())
    assert (request.operation.name, dict(request.params)) == (
        "updateCustomerSessionV2",
        {"customerSessionId": commercetools("OrderCreated")[0]["order"]["cart"]["id"]},
    )
    assert request.body["customerSession"] == {"state": "cancelled"}
    # And an order moved to another state sends nothing
    assert mappings.apply(mapping, {**message, "orderState": "Complete"}, commercetools_order()) == []
    # And an order the relay never recorded is refused with the reason
    with pytest.raises(InvalidRequest, match="no record of the order"):
        mappings.apply(mapping, message, None)


def test_a_commercetools_return_info_returns_the_line_items_at_their_positions() -> None:
    # Given commercetools' ReturnInfoAdded (one bag of beans back), and the record OrderCreated kept
    message, mapping = commercetools("ReturnInfoAdded")

    # When it applies
    [(label, request)] = mappings.plan(mapping, message, commercetools_order())

    # Then it is one return of position 0, quantity 1, keyed by the message's id
    assert label == f"commercetools-message-{message['id']}#1"
    assert request.operation.name == "returnCartItems"
    assert request.body["return"] == {"returnedCartItems": [{"position": 0, "quantity": 1}]}
    # And a return of more than was ordered is refused with the reason
    message["returnInfo"]["items"][0]["quantity"] = 3
    with pytest.raises(InvalidRequest, match="larger quantity than was ordered"):
        mappings.apply(mapping, message, commercetools_order())
    # And a return of custom line items only sends nothing
    message["returnInfo"]["items"][0]["type"] = "CustomLineItemReturnItem"
    assert mappings.apply(mapping, message, commercetools_order()) == []


# --- the relay's JMESPath functions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "data", "expected"),
    [
        ("relay_unique(a)", {"a": ["X", "Y", "X"]}, ["X", "Y"]),
        ("relay_unique(a)", {}, None),
        ("relay_minor_units(a, `2`)", {"a": 1850}, 18.5),
        ("relay_minor_units(a, `0`)", {"a": 7}, 7.0),
        ("powertools_json(a).b", {"a": '{"b": 1}'}, 1),
    ],
)
def test_mapping_functions(expression: str, data: Any, expected: Any) -> None:
    assert mappings.evaluate(expression, data) == expected


@pytest.mark.parametrize(
    ("expression", "data", "expected"),
    [
        (
            "relay_join(a, 'k', b, 'id', 'm')[].[k, m.v]",
            {"a": [{"k": 1}, {"k": "2"}, {"k": 3}], "b": [{"id": "1", "v": "x"}, {"id": 2, "v": "y"}]},
            [[1, "x"], ["2", "y"], [3, None]],
        ),
        ("relay_join(a, 'k', b, 'id', 'm')", {"b": []}, None),
        ("relay_subtract(a, b)", {"a": 3, "b": 1}, 2),
        ("relay_subtract(a, b)", {"a": 3}, 3),
    ],
    ids=["join by text", "join of null", "subtract", "subtract null"],
)
def test_join_and_subtract(expression: str, data: Any, expected: Any) -> None:
    assert mappings.evaluate(expression, data) == expected


# --- conventions: the SKU of a Shopify line --------------------------------------------------------------


def skus(mapping: TopicMapping) -> list[str]:
    [session, _event] = mappings.apply(mapping, sample("orders/paid"))
    return [item["sku"] for item in session.body["customerSession"]["cartItems"]]


def test_the_shopify_sku_convention_is_the_sku_by_default_and_the_variant_id_when_chosen() -> None:
    # Given the sample order: a line with a SKU, a line with an empty one
    lines = sample("orders/paid")["line_items"]
    path = SHOPIFY_DIR / "orders_paid.json"

    # Then by default a line's sku is its SKU, else its variant id
    assert skus(mappings.load_file(path)) == [lines[0]["sku"], str(lines[1]["variant_id"])]
    # And with WEBHOOK_CONVENTIONS=shopify_sku=variant_id (Talon.One's Shopify app's) every line is its variant
    chosen = conventions.expansions(conventions.parse_choices("shopify_sku=variant_id"))
    assert skus(mappings.load_file(path, chosen)) == [str(line["variant_id"]) for line in lines]


def test_the_convention_is_the_deployments_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a container whose environment chooses the variant id
    monkeypatch.setenv("TALON_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:t")
    monkeypatch.setenv("WEBHOOK_CONVENTIONS", "shopify_sku=variant_id")
    found = mappings.for_platform(Container(), "shopify")

    # Then every topic with line items uses it, the order's record too
    variant = str(sample("orders/paid")["line_items"][0]["variant_id"])
    assert skus(found["orders/paid"])[0] == variant
    record = mappings.remembered(found["orders/paid"], sample("orders/paid"))
    assert record is not None and record["lines"][0]["sku"] == variant


@pytest.mark.parametrize("setting", ["shopify_sku=barcode", "colour=red", "shopify_sku"])
def test_an_unknown_convention_or_option_is_a_configuration_error_naming_the_choices(
    setting: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TALON_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:t")
    monkeypatch.setenv("WEBHOOK_CONVENTIONS", setting)
    with pytest.raises(ConfigurationError, match=r"WEBHOOK_CONVENTIONS.*variant_id"):
        mappings.for_platform(Container(), "shopify")


def test_every_shopify_file_with_line_items_names_the_convention_not_a_copy_of_it() -> None:
    # Given the layer's Shopify files that make cart items of Shopify's line items (orders/edited reads
    # the order's record, made by orders/paid or orders/create)
    for path in SHOPIFY_DIR.glob("*.json"):
        text = path.read_text()
        # Then a line's sku is `$shopify_sku` there, never spelled out
        if "line_items[].{" in text:
            assert "sku: $shopify_sku" in text, path.name
            assert "sku: sku ||" not in text, path.name


# --- refunds and edits: the order's record ---------------------------------------------------------------


def paid_record() -> dict[str, Any]:
    record = mappings.remembered(shopify("orders/paid"), sample("orders/paid"))
    assert record is not None
    return record


def test_a_refund_maps_to_a_return_of_the_refunded_lines_at_their_positions() -> None:
    # Given the paid order's record, and a refund of one bag of beans and the frother
    refund = sample("refunds/create")
    frother = {**refund["refund_line_items"][0], "line_item_id": sample("orders/paid")["line_items"][1]["id"]}
    refund["refund_line_items"].append(frother)

    # When its mapping applies
    [(label, request)] = mappings.plan(shopify("refunds/create"), refund, paid_record())

    # Then it is one return on the order's session, keyed by the refund, of positions 0 and 1
    assert label == f"refund-{refund['id']}#1"
    assert dict(request.params) == {"customerSessionId": sample("orders/paid")["cart_token"]}
    assert request.body["return"] == {
        "returnedCartItems": [{"position": 0, "quantity": 1}, {"position": 1, "quantity": 1}]
    }


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"line_item_id": 42}, "not a line of the order"),
        ({"quantity": 3}, "larger quantity than was bought"),
    ],
)
def test_a_refund_that_cannot_be_a_return_is_refused_with_the_reason(change: dict[str, Any], reason: str) -> None:
    refund = sample("refunds/create")
    refund["refund_line_items"][0].update(change)
    with pytest.raises(InvalidRequest, match=reason):
        mappings.apply(shopify("refunds/create"), refund, paid_record())


@pytest.mark.parametrize("quantity", [None, 0, -1, 1.5, "1"], ids=["null", "zero", "negative", "fraction", "text"])
def test_a_refunded_line_without_a_whole_positive_quantity_is_refused_never_returned_whole(quantity: Any) -> None:
    # Given a refund whose line has no quantity Talon.One could return (null would return the whole line:
    # returnCartItems' default; zero, negative, a fraction or text are no refunded quantity)
    refund = sample("refunds/create")
    refund["refund_line_items"][0]["quantity"] = quantity
    # When its mapping applies
    # Then it is refused with the reason, before anything is sent
    with pytest.raises(InvalidRequest, match="not a whole number of at least 1"):
        mappings.apply(shopify("refunds/create"), refund, paid_record())


@pytest.mark.parametrize("side", ["additions", "removals"])
@pytest.mark.parametrize("delta", [None, 0, -1, 1.5, "1"], ids=["null", "zero", "negative", "fraction", "text"])
def test_an_edited_line_without_a_whole_positive_delta_is_refused_never_turned_around(side: str, delta: Any) -> None:
    # Given an edit whose added or removed line changes by no whole positive number (a negative removal
    # would add, a negative addition remove, a fraction drop the line, null count as no change)
    edit = sample("orders/edited")
    edit["order_edit"]["line_items"][side][0]["delta"] = delta
    # When its mapping applies
    # Then it is refused with the reason, before anything is sent (no reopen, no cart, no close)
    with pytest.raises(InvalidRequest, match="not a whole number of at least 1"):
        mappings.apply(shopify("orders/edited"), edit, paid_record())


@pytest.mark.parametrize("side", ["additions", "removals"])
def test_an_edit_naming_a_line_twice_on_one_side_is_refused_never_half_applied(side: str) -> None:
    # Given an edit that names the same line twice among its removals (or additions), one delta each
    edit = sample("orders/edited")
    changes = edit["order_edit"]["line_items"][side]
    changes.append(dict(changes[0]))
    # When its mapping applies
    # Then it is refused with the reason (the edited cart would count one of the two and drop the other)
    with pytest.raises(InvalidRequest, match="names a line twice"):
        mappings.apply(shopify("orders/edited"), edit, paid_record())


def test_a_recalled_order_is_read_through_a_reserved_name_the_payload_cannot_hold() -> None:
    # Given a refund payload that carries the name the relay reads the record under
    refund = {**sample("refunds/create"), "relay_order": {"session": "someone-elses"}}
    # Then it does not map
    with pytest.raises(InvalidRequest, match="not an object of the platform's shape"):
        mappings.apply(shopify("refunds/create"), refund, paid_record())


def test_an_edit_without_line_changes_sends_nothing() -> None:
    edit = sample("orders/edited")
    edit["order_edit"]["line_items"] = {"additions": [], "removals": []}
    assert mappings.apply(shopify("orders/edited"), edit, paid_record()) == []
