"""Effects: both wire forms, named arguments, tolerance of the unknown and the malformed, logging."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from talon_relay import telemetry
from talon_relay.core.effect_log import log_effects
from talon_relay.wire.effects import Effect
from talon_relay.wire.models import Event, IntegrationState
from tests.support import effect_entries
from tests.unit import payloads
from tests.unit.conftest import StdoutCapture

V1_DISCOUNT = [12, 34, 0, ["setDiscount", "Free money", 45.55]]
V2_DISCOUNT = {
    "campaignId": 12,
    "rulesetId": 34,
    "ruleIndex": 0,
    "ruleName": "Summer sale",
    "effectType": "setDiscount",
    "props": {"name": "Free money", "value": 45.55},
}


# --- the two wire forms ----------------------------------------------------------------------------


def test_a_v1_tuple_parses_to_an_effect() -> None:
    # Given a v1 effect tuple, when parsed
    effect = Effect.parse(V1_DISCOUNT)
    # Then its ids, name and arguments are read from their positions
    assert effect.name == "setDiscount"
    assert (effect.campaign_id, effect.ruleset_id, effect.rule_index) == (12, 34, 0)
    assert effect.args == ("Free money", 45.55)
    assert effect.rule_name is None
    assert effect.malformed is False


def test_a_v2_object_parses_to_the_same_effect() -> None:
    # Given the v2 object for the same effect, when parsed
    effect = Effect.parse(V2_DISCOUNT)
    # Then it reads the same, plus the rule name v2 carries
    assert effect.name == "setDiscount"
    assert (effect.campaign_id, effect.ruleset_id, effect.rule_index) == (12, 34, 0)
    assert effect.rule_name == "Summer sale"
    assert effect.props == Effect.parse(V1_DISCOUNT).props == {"name": "Free money", "value": 45.55}
    assert effect.args == Effect.parse(V1_DISCOUNT).args
    assert effect.malformed is False


@pytest.mark.parametrize(
    ("v1_body", "v2_type", "v2_props"),
    [
        (["setDiscount", "10% off", 3.5], "setDiscount", {"name": "10% off", "value": 3.5}),
        (["acceptCoupon", "SUMMER"], "acceptCoupon", {"value": "SUMMER"}),
        (["rejectCoupon", "OLD", "CouponExpired"], "rejectCoupon",
         {"value": "OLD", "rejectionReason": "CouponExpired"}),
        (["acceptReferral", "REF-1"], "acceptReferral", {"value": "REF-1"}),
        (["rejectReferral", "REF-2", "ReferralExpired"], "rejectReferral",
         {"value": "REF-2", "rejectionReason": "ReferralExpired"}),
        (["addFreeItem", "SKU-9", "Socks"], "addFreeItem", {"sku": "SKU-9", "name": "Socks"}),
        (["addLoyaltyPoints", 4, 120, "Welcome"], "addLoyaltyPoints",
         {"programId": 4, "value": 120, "name": "Welcome"}),
    ],
)  # fmt: skip
def test_named_effects_read_both_forms_alike(v1_body: list[Any], v2_type: str, v2_props: dict[str, Any]) -> None:
    # Given the same effect in v1 and v2 form
    v1 = Effect.parse([1, 2, 3, v1_body])
    v2 = Effect.parse({"campaignId": 1, "rulesetId": 2, "ruleIndex": 3, "effectType": v2_type, "props": v2_props})
    # Then both carry the same named arguments, in the same order
    assert v1.props == v2.props == v2_props
    assert v1.args == v2.args == tuple(v1_body[1:])


def test_unknown_effect_names_are_kept_with_their_arguments() -> None:
    # Given effects this code has no accessor for, in both forms
    v1 = Effect.parse([1, 2, 3, ["showNotification", "Title", "Body", 7]])
    v2 = Effect.parse(
        {"campaignId": 1, "rulesetId": 2, "ruleIndex": 3, "effectType": "rollbackDiscount",
         "props": {"name": "x", "value": 1.5}}
    )  # fmt: skip
    # Then they are ordinary effects, not malformed ones
    assert (v1.name, v1.args, v1.malformed) == ("showNotification", ("Title", "Body", 7), False)
    assert (v2.name, v2.props, v2.malformed) == ("rollbackDiscount", {"name": "x", "value": 1.5}, False)


MALFORMED = [
    pytest.param([1, 2, ["setDiscount", "x", 1]], id="v1-too-short"),
    pytest.param([1, 2, 3, ["setDiscount", "x", 1], 5], id="v1-too-long"),
    pytest.param([1, 2, 3, "setDiscount"], id="v1-body-not-a-list"),
    pytest.param([1, 2, 3, []], id="v1-empty-body"),
    pytest.param([1, 2, 3, [42, "x"]], id="v1-name-not-a-string"),
    pytest.param(["a", 2, 3, ["setDiscount"]], id="v1-campaign-not-a-number"),
    pytest.param([{"id": 1}, 2, 3, ["setDiscount"]], id="v1-campaign-an-object"),
    pytest.param([float("inf"), 2, 3, ["setDiscount"]], id="v1-campaign-infinite"),
    pytest.param({"campaignId": 1, "props": {}}, id="v2-no-effect-type"),
    pytest.param({"effectType": "", "props": {}}, id="v2-empty-effect-type"),
    pytest.param({"effectType": 5, "props": {}}, id="v2-effect-type-not-a-string"),
    pytest.param({"effectType": "setDiscount", "props": [1, 2]}, id="v2-props-not-an-object"),
    pytest.param({"effectType": "x", "ruleName": 5}, id="v2-rule-name-not-a-string"),
    pytest.param("setDiscount", id="a-string"),
    pytest.param(42, id="a-number"),
    pytest.param(None, id="null"),
]


@pytest.mark.parametrize("raw", MALFORMED)
def test_a_malformed_effect_is_kept_raw_and_logged_with_a_warning(raw: Any, powertools_stdout: StdoutCapture) -> None:
    # Given an effect in neither wire form, when parsed
    effect = Effect.parse(raw)
    # Then it is kept (not a crash), flagged, and serialises back to exactly what came in
    assert effect.malformed is True
    assert effect.raw is raw
    assert effect.to_wire() == raw
    # And parsing logs nothing (the wire models are pure), while logging it warns once
    assert powertools_stdout.logs() == []
    log_effects([effect], operation="trackEvent")
    warnings = [line for line in powertools_stdout.logs() if line["level"] == "WARNING"]
    assert len(warnings) == 1
    assert "malformed" in warnings[0]["message"]
    # And it is still listed on the answer's effects line, flagged
    [entry] = logged_effects(powertools_stdout)
    assert entry["malformed"] is True


def test_a_malformed_effect_does_not_lose_the_rest_of_the_integration_state(
    powertools_stdout: StdoutCapture,
) -> None:
    # Given a response whose effects mix good and bad ones
    wire_effects = [V1_DISCOUNT, {"campaignId": 9}, V2_DISCOUNT, "??", [1e400, 1, 1, ["x"]]]
    body = json.dumps(payloads.integration_state(wire_effects)).encode()
    # When it is parsed from bytes, as the client does
    state = IntegrationState.model_validate_json(body)
    # Then every effect is there, in order, the bad ones flagged
    assert [e.malformed for e in state.event.effects] == [False, True, False, True, True]
    assert state.session.integration_id == "s-1"


def test_effects_that_are_not_a_list_make_the_event_invalid() -> None:
    # An `effects` that is not an array is a broken response, not a broken effect.
    with pytest.raises(ValidationError):
        Event.model_validate(payloads.event(effects={"not": "a list"}))


# --- Event.effects and the way back to the wire ----------------------------------------------------


def test_event_effects_parse_into_effects_and_serialise_back_to_the_wire_form() -> None:
    # Given an event with v1, v2 and unknown effects as Talon.One sent them
    wire_effects = [
        V1_DISCOUNT,
        V2_DISCOUNT,
        [5, 6, 1, ["acceptCoupon", "SUMMER"]],
        [5, 6, 2, ["someFutureEffect", {"nested": [1, 2]}]],
    ]
    body = payloads.integration_state(wire_effects)
    # When parsed
    state = IntegrationState.model_validate(body)
    # Then each item is an Effect
    assert all(isinstance(e, Effect) for e in state.event.effects)
    assert [e.name for e in state.event.effects] == [
        "setDiscount",
        "setDiscount",
        "acceptCoupon",
        "someFutureEffect",
    ]
    # And serialising the model gives back exactly the wire form, as dict and as JSON
    assert state.to_wire()["event"]["effects"] == wire_effects
    assert json.loads(state.model_dump_json(by_alias=True))["event"]["effects"] == wire_effects
    assert state.to_wire() == json.loads(json.dumps(body))


# --- log_effects -----------------------------------------------------------------------------------

SECRET = "attr-value-7f3c9d-never-log-me"


def log_state(state: IntegrationState, *, operation: str, correlation_id: str | None = None) -> dict[str, int]:
    """Log a state's effects as the service does after a call; their counts per name."""
    return log_effects(
        state.event.effects,
        operation=operation,
        session_id=state.session.integration_id,
        profile_id=state.profile.integration_id,
        correlation_id=correlation_id,
    )


def state_with_attributes_everywhere(effects: list[Any]) -> IntegrationState:
    """An IntegrationState whose session, profile, event and cart item carry the SECRET value."""
    attrs = {"email": SECRET, "note": f"hello {SECRET}", "nested": {"deep": SECRET}}
    cart = [{"name": "N", "sku": "S", "quantity": 1, "price": 1.0, "attributes": attrs}]
    return IntegrationState.model_validate(
        payloads.integration_state(
            effects,
            session=payloads.customer_session(
                integrationId="sess-42", profileId="prof-42", attributes=attrs, cartItems=cart
            ),
            profile=payloads.customer_profile(integrationId="prof-42", attributes=attrs),
            event_body=payloads.event(sessionId="sess-42", profileId="prof-42", attributes=attrs),
        )
    )


def logged_effects(capture: StdoutCapture) -> list[dict[str, Any]]:
    """Every effect of the "effects" lines, each beside its line's call context."""
    return effect_entries(capture.logs("effects"))


def test_log_effects_writes_one_structured_line_listing_every_effect(
    powertools_stdout: StdoutCapture,
) -> None:
    # Given a state with three effects (two of the same kind)
    state = state_with_attributes_everywhere(
        [V1_DISCOUNT, [13, 35, 2, ["setDiscount", "Other", 1.0]], V2_DISCOUNT | {
            "effectType": "acceptCoupon", "props": {"value": "SUMMER"}}]
    )  # fmt: skip
    # When logged
    log_state(state, operation="updateCustomerSession", correlation_id="corr-1")
    # Then there is one line for the answer: its effects in order, their names flat, the context once
    [line] = powertools_stdout.logs("effects")
    assert line["effects_named"] == ["setDiscount", "setDiscount", "acceptCoupon"]
    assert line["effect_count"] == 3
    assert all("operation" not in effect for effect in line["effects"])
    # And each effect has its coordinates and ids, and the line the call's
    lines = logged_effects(powertools_stdout)
    assert len(lines) == 3
    first, second, third = lines
    assert first["effect"] == "setDiscount"
    assert (first["campaign_id"], first["ruleset_id"], first["rule_index"]) == (12, 34, 0)
    assert first["arguments"] == ["Free money", 45.55]
    assert (second["campaign_id"], second["rule_index"]) == (13, 2)
    assert third["effect"] == "acceptCoupon"
    assert third["rule_name"] == "Summer sale"
    assert third["arguments"] == ["SUMMER"]
    for line in lines:
        assert line["operation"] == "updateCustomerSession"
        assert line["session_id"] == "sess-42"
        assert line["profile_id"] == "prof-42"
        assert line["correlation_id"] == "corr-1"
        assert line["level"] == "INFO"


def test_an_answer_with_more_effects_than_a_line_holds_is_logged_in_whole_parts(
    powertools_stdout: StdoutCapture,
) -> None:
    # Given an answer with 250 effects (a large cart, a discount per item)
    state = state_with_attributes_everywhere([[12, 34, i, ["setDiscount", f"item {i}", 1.0]] for i in range(250)])

    # When they are logged
    counts = log_state(state, operation="updateCustomerSession")

    # Then they are three lines of at most EFFECTS_PER_LINE, numbered, every effect in one of them in order
    lines = powertools_stdout.logs("effects")
    assert [(line["part"], line["parts"], line["effect_count"]) for line in lines] == [
        (1, 3, 100),
        (2, 3, 100),
        (3, 3, 50),
    ]
    assert [entry["rule_index"] for entry in logged_effects(powertools_stdout)] == list(range(250))
    assert counts == {"setDiscount": 250}


def test_effect_counts_join_the_invocations_one_emf_document(powertools_stdout: StdoutCapture) -> None:
    # Given an invocation counting (a container's counters), its Talon.One call counted
    counts = telemetry.Counts()
    counts.add(telemetry.CALLS)
    # When the call's effects (two setDiscount, one acceptCoupon) are logged and counted
    state = state_with_attributes_everywhere([V1_DISCOUNT, V1_DISCOUNT, [1, 2, 3, ["acceptCoupon", "SUMMER"]]])
    counts.add_all(log_state(state, operation="trackEvent"))
    # Then no document is written before the invocation ends
    assert powertools_stdout.metrics() == []
    telemetry.flush(counts, "trackEvent")
    # And then ONE EMF document carries a Count per effect name beside the call, dimensioned by operation
    (doc,) = powertools_stdout.metrics()
    (directive,) = doc["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "TalonRelay"
    assert directive["Dimensions"] == [["operation", "service"]]  # the same metrics as before, one per name
    assert doc["operation"] == "trackEvent"
    by_name = {metric["Name"]: metric for metric in directive["Metrics"]}
    assert set(by_name) == {"setDiscount", "acceptCoupon", telemetry.CALLS}
    assert all(metric["Unit"] == "Count" for metric in by_name.values())
    assert doc["setDiscount"] == [2.0]
    assert doc["acceptCoupon"] == [1.0]
    assert doc[telemetry.CALLS] == [1.0]


def test_each_invocation_counts_from_nothing(powertools_stdout: StdoutCapture) -> None:
    # Given an invocation whose effects were counted and flushed
    counts = telemetry.Counts()
    counts.add_all(log_state(state_with_attributes_everywhere([V1_DISCOUNT]), operation="trackEvent"))
    assert telemetry.flush(counts, "trackEvent") == {"setDiscount": 1}
    # When the next invocation of the same container ends without effects
    # Then it writes nothing: the counters started again from nothing
    assert telemetry.flush(counts, "trackEvent") == {}
    (doc,) = powertools_stdout.metrics()
    assert doc["setDiscount"] == [1.0]


def test_the_emf_document_is_the_one_powertools_metrics_write(powertools_stdout: StdoutCapture) -> None:
    from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

    from talon_relay.observability import NAMESPACE, SERVICE
    from talon_relay.telemetry import emit_counts

    # Given the counts of one call, written by the relay and by Powertools' own metrics
    counts = {"setDiscount": 2, "acceptCoupon": 1}
    emit_counts(counts, operation="trackEvent")
    metrics = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
    metrics.add_dimension(name="operation", value="trackEvent")
    for name, count in counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=count)
    metrics.flush_metrics()
    # Then the two documents are the same, but for their timestamps
    ours, theirs = powertools_stdout.metrics()
    for doc in (ours, theirs):
        doc["_aws"].pop("Timestamp")
    assert ours == theirs


@pytest.mark.parametrize("application", [None, "shop-\u00fc"])
def test_the_emf_document_is_json_s_own_text_of_its_dict(
    application: str | None, powertools_stdout: StdoutCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from talon_relay.observability import NAMESPACE, SERVICE

    # Given counts whose names json must escape (a quote, a backslash, a newline, non-ASCII), a maximum and
    # a large count, at a fixed moment
    monkeypatch.setattr("talon_relay.telemetry.time.time", lambda: 1_796_400_000.1234)
    counts = {'se"t\\Disc\nount\u00e9': 2, telemetry.QUEUE_AGE: 7, telemetry.CALLS: 10**17}
    # When the relay writes its document as text
    telemetry.emit_counts(counts, operation="track\u00c9vent", application=application, enabled=True)
    # Then it is, byte for byte, what json writes for the document as a dict (the way it was built before)
    dimensions = (
        [["operation", "service"]]
        if application is None
        else [["application", "operation", "service"], ["application", "service"]]
    )
    document = {
        "_aws": {
            "Timestamp": 1_796_400_000_123,
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": dimensions,
                    "Metrics": [{"Name": name, "Unit": telemetry.MAXIMA.get(name, "Count")} for name in counts],
                }
            ],
        },
        "operation": "track\u00c9vent",
        "service": SERVICE,
        **({} if application is None else {"application": application}),
        **{name: [float(value)] for name, value in counts.items()},
    }
    assert powertools_stdout.text() == json.dumps(document, separators=(",", ":")) + "\n"


def test_effect_names_cloudwatch_refuses_are_not_counted_and_never_fail_the_call(
    powertools_stdout: StdoutCapture,
) -> None:
    from talon_relay.telemetry import emit_counts

    # Given a call's counts with a name over 255 characters and more names than one document holds
    counts = {"x" * 256: 1, "service": 1, **{f"effect{i}": 1 for i in range(150)}}
    emit_counts(counts, operation="trackEvent")
    # Then the valid names are counted, 100 per document at most, and the others dropped quietly
    docs = powertools_stdout.metrics()
    names = [m["Name"] for doc in docs for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    assert [len(doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]) for doc in docs] == [100, 50]
    assert sorted(names) == sorted(f"effect{i}" for i in range(150))
    assert all(doc["service"] == "talon-relay" for doc in docs)


def test_log_effects_honours_powertools_metrics_disabled(
    powertools_stdout: StdoutCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given metrics turned off the Powertools way
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    # When effects are logged and counted, and the invocation ends
    counts = telemetry.Counts()
    counts.add_all(log_state(state_with_attributes_everywhere([V1_DISCOUNT]), operation="trackEvent"))
    telemetry.flush(counts, "trackEvent")
    # Then the effects line is written, and no EMF document
    assert len(powertools_stdout.logs("effects")) == 1
    assert powertools_stdout.metrics() == []


def test_log_effects_of_a_state_without_effects_writes_nothing(
    powertools_stdout: StdoutCapture,
) -> None:
    state = state_with_attributes_everywhere([])
    log_state(state, operation="trackEvent")
    assert powertools_stdout.logs("effects") == []
    assert powertools_stdout.metrics() == []


def test_log_effects_never_logs_profile_session_or_event_attribute_values(
    powertools_stdout: StdoutCapture,
) -> None:
    # Given attributes holding a distinctive value in the session, profile, event and cart
    state = state_with_attributes_everywhere(
        [V1_DISCOUNT, V2_DISCOUNT, [1, 2, 3, ["unknownThing", 1]], {"broken": True}]
    )
    # When the effects are logged (including an unknown and a malformed one)
    log_state(state, operation="updateCustomerProfile")
    # Then lines were written, and the value appears nowhere in them
    output = powertools_stdout.text()
    assert len(logged_effects(powertools_stdout)) == 4
    assert SECRET not in output
    assert "email" not in output


def test_log_effects_never_logs_the_arguments_of_effects_it_does_not_name(
    powertools_stdout: StdoutCapture,
) -> None:
    # Given effects that can carry customer data: a v2 updateAttributeValue and a v1 webhook
    private = "jane.doe@example.com"
    state = state_with_attributes_everywhere(
        [
            {
                "campaignId": 1,
                "rulesetId": 2,
                "ruleIndex": 0,
                "ruleName": "copy email",
                "effectType": "updateAttributeValue",
                "props": {"path": "profile.email", "value": private},
            },
            [1, 2, 1, ["triggerWebhook", "hook", {"email": private}]],
            V1_DISCOUNT,
        ]
    )
    # When logged
    log_state(state, operation="updateCustomerSession")
    # Then each still gets its line with its name and how many arguments it had, but not their values
    lines = {line["effect"]: line for line in logged_effects(powertools_stdout)}
    assert lines["updateAttributeValue"].get("arguments") is None
    assert lines["updateAttributeValue"]["argument_count"] == 2
    assert lines["triggerWebhook"].get("arguments") is None
    assert lines["setDiscount"]["arguments"] == ["Free money", 45.55]
    assert private not in powertools_stdout.text()
