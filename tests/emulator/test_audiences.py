"""The emulator's audiences and memberships, bulk profile updates, coupon reservations, best prior price,
referrals for several advocates and the customer's inventory, over HTTP."""

from __future__ import annotations

from typing import Any

from tests.emulator.helpers import Client

PRICES = {"timeframeEndDate": "2026-06-01T00:00:00Z", "timeframe": "30", "timeframeEndDateType": "strict"}


def _audience(client: Client, name: str = "VIP", **more: Any) -> dict[str, Any]:
    answer = client.request("POST", "/v2/audiences", {"name": name, **more})
    assert answer.status == 201, answer.body
    body: dict[str, Any] = answer.body
    return body


def _memberships(client: Client, *items: tuple[str, str, int]) -> Any:
    data = [
        {"action": action, "profileIntegrationId": profile, "audienceId": audience}
        for action, profile, audience in items
    ]
    return client.request("POST", "/v2/customer_audiences", {"data": data})


def _state(client: Client) -> dict[str, Any]:
    state: dict[str, Any] = client.admin("GET", "state").body
    return state


def test_audiences_are_created_renamed_and_deleted(client: Client) -> None:
    # Given two new audiences
    first, second = _audience(client, "VIP", integrationId="mp-1"), _audience(client, "Newsletter")
    # Then they get the next ids, with the account and what was sent
    assert (first["id"], second["id"]) == (1, 2)
    assert first["accountId"] == 1 and first["integrationId"] == "mp-1" and first["created"]
    # When one is renamed, Then the answer is the renamed audience
    renamed = client.request("PUT", "/v2/audiences/1", {"name": "VIP 2026"})
    assert (renamed.status, renamed.body["name"], renamed.body["id"]) == (200, "VIP 2026", 1)
    # When it is deleted, Then it is gone: a second delete and a rename are 404s naming the id
    assert client.request("DELETE", "/v2/audiences/1").status == 204
    again = client.request("DELETE", "/v2/audiences/1")
    assert again.status == 404 and again.body["errors"][0]["source"] == {"parameter": "audienceId"}
    assert client.request("PUT", "/v2/audiences/1", {"name": "x"}).status == 404


def test_a_second_audience_with_the_same_integration_id_is_a_conflict(client: Client) -> None:
    _audience(client, "VIP", integrationId="mp-1")
    answer = client.request("POST", "/v2/audiences", {"name": "Other", "integrationId": "mp-1"})
    assert answer.status == 409 and answer.body["errors"][0]["source"] == {"pointer": "/integrationId"}


def test_an_audience_id_that_is_not_an_integer_is_a_400_naming_it(client: Client) -> None:
    answer = client.request("DELETE", "/v2/audiences/abc")
    assert answer.status == 400 and answer.body["errors"][0]["source"] == {"parameter": "audienceId"}


def test_memberships_are_added_removed_and_cleared_and_attributes_reach_members(client: Client) -> None:
    # Given an audience with two members (profiles created on joining)
    audience = _audience(client)["id"]
    assert _memberships(client, ("add", "p-1", audience), ("add", "p-2", audience)).status == 204
    assert _state(client)["segments"]["members"] == {str(audience): ["p-1", "p-2"]}
    # When the members' attributes are set, Then every member's profile has them
    assert client.request("PUT", f"/v2/audience_customers/{audience}/attributes", {"tier": "gold"}).status == 204
    profiles = _state(client)["profiles"]
    assert profiles["p-1"]["attributes"] == {"tier": "gold"} == profiles["p-2"]["attributes"]
    # When one leaves, and then all memberships are deleted, Then none is left
    assert _memberships(client, ("delete", "p-1", audience)).status == 204
    assert _state(client)["segments"]["members"] == {str(audience): ["p-2"]}
    assert client.request("DELETE", f"/v2/audiences/{audience}/memberships").status == 204
    assert _state(client)["segments"]["members"] == {str(audience): []}


def test_a_membership_of_an_unknown_audience_applies_nothing(client: Client) -> None:
    audience = _audience(client)["id"]
    answer = _memberships(client, ("add", "p-1", audience), ("add", "p-2", 99))
    assert answer.status == 404 and answer.body["errors"][0]["source"] == {"pointer": "/data/1/audienceId"}
    assert _state(client)["segments"]["members"] == {str(audience): []}


def test_bulk_profile_updates_merge_each_profile_and_answer_unless_silent(client: Client) -> None:
    body = {"customerProfiles": [{"integrationId": "p-1", "attributes": {"a": 1}}, {"integrationId": "p-2"}]}
    # When sent silently (the default), Then 204 and both profiles exist
    assert client.request("PUT", "/v2/customer_profiles", body).status == 204
    assert {"p-1", "p-2"} <= set(_state(client)["profiles"])
    # When sent with silent=no, Then each profile is answered in order
    answer = client.request("PUT", "/v2/customer_profiles?silent=no", body)
    assert answer.status == 200
    assert [s["customerProfile"]["integrationId"] for s in answer.body["integrationStates"]] == ["p-1", "p-2"]
    assert answer.body["integrationStates"][0]["customerProfile"]["attributes"] == {"a": 1}


def test_a_bulk_update_with_an_empty_id_is_refused_whole(client: Client) -> None:
    body = {"customerProfiles": [{"integrationId": "p-1"}, {"integrationId": ""}]}
    answer = client.request("PUT", "/v2/customer_profiles", body)
    assert answer.status == 400
    assert answer.body["errors"][0]["source"] == {"pointer": "/customerProfiles/1/integrationId"}
    assert "p-1" not in _state(client)["profiles"]


def test_coupon_reservations_are_added_listed_and_removed(client: Client) -> None:
    # When SAVE5 is reserved for two customers (twice for one)
    answer = client.request("POST", "/v1/coupon_reservations/SAVE5", {"integrationIDs": ["p-1", "p-2", "p-1"]})
    # Then the coupon is answered, reserved for both
    assert answer.status == 201
    assert (answer.body["value"], answer.body["campaignId"], answer.body["reservationCounter"]) == ("SAVE5", 1, 2)
    listed = client.request("GET", "/v1/coupon_reservations/customerprofiles/SAVE5")
    assert [p["integrationId"] for p in listed.body["data"]] == ["p-1", "p-2"] and listed.body["totalResultSize"] == 2
    # When one reservation is removed, Then the other stays
    removed = client.request("DELETE", "/v1/coupon_reservations/SAVE5", {"integrationIDs": ["p-1"]})
    assert removed.status == 204
    listed = client.request("GET", "/v1/coupon_reservations/customerprofiles/SAVE5")
    assert [p["integrationId"] for p in listed.body["data"]] == ["p-2"]


def test_an_unknown_coupon_is_a_404_naming_it(client: Client) -> None:
    answer = client.request("POST", "/v1/coupon_reservations/NOPE", {"integrationIDs": ["p-1"]})
    assert answer.status == 404 and answer.body["errors"][0]["source"] == {"parameter": "couponValue"}


def test_the_best_prior_price_is_the_lowest_within_the_timeframe(client: Client) -> None:
    # Given the price history (449 on 2026-05-10, 479 on 05-25, 499 on 04-01) and a cart seen today
    cart = [{"sku": "SKU-NEW", "name": "New", "quantity": 1, "price": 12.5}]
    client.session_v2("s-1", {"customerSession": {"profileId": "p-1", "cartItems": cart}})
    # When the best prior price is asked for 30 days up to June 1st
    answer = client.request("POST", "/v1/best_prior_price", {"skus": ["SKU-CAMERA", "SKU-NONE"], **PRICES})
    # Then the camera's is the lowest within, and a SKU never seen is left out
    assert answer.status == 200
    assert [(p["sku"], p["price"], p["observedAt"]) for p in answer.body] == [
        ("SKU-CAMERA", 449.0, "2026-05-10T00:00:00.000000Z")
    ]
    # And 10 days leave only the later price
    short = client.request("POST", "/v1/best_prior_price", {"skus": ["SKU-CAMERA"], **PRICES, "timeframe": "10"})
    assert [p["price"] for p in short.body] == [479.0]


def test_a_timeframe_that_is_not_a_number_of_days_is_a_400_naming_it(client: Client) -> None:
    answer = client.request("POST", "/v1/best_prior_price", {"skus": ["SKU-CAMERA"], **PRICES, "timeframe": "month"})
    assert answer.status == 400 and answer.body["errors"][0]["source"] == {"pointer": "/timeframe"}


def test_referrals_for_several_advocates_one_code_each(client: Client) -> None:
    body = {"campaignId": 3, "advocateProfileIntegrationIds": ["p-1", "p-2"], "usageLimit": 4}
    answer = client.request("POST", "/v1/referrals_for_multiple_advocates?silent=no", body)
    assert answer.status == 201 and answer.body["totalResultSize"] == 2
    assert [(r["advocateProfileIntegrationId"], r["usageLimit"]) for r in answer.body["data"]] == [
        ("p-1", 4),
        ("p-2", 4),
    ]
    assert len({r["code"] for r in answer.body["data"]}) == 2
    # silent (the default): 204
    assert client.request("POST", "/v1/referrals_for_multiple_advocates", body).status == 204
    unknown = client.request("POST", "/v1/referrals_for_multiple_advocates", {**body, "campaignId": 99})
    assert unknown.status == 400 and unknown.body["errors"][0]["source"] == {"pointer": "/campaignId"}


def test_the_inventory_holds_what_was_asked_for(client: Client) -> None:
    # Given a customer with a reserved coupon and a referral code
    client.request("POST", "/v1/coupon_reservations/SAVE5", {"integrationIDs": ["p-1"]})
    client.referral({"campaignId": 3, "advocateProfileIntegrationId": "p-1"})
    # When the inventory is read with everything
    everything = "profile=true&coupons=true&referrals=true&loyalty=true&giveaways=true&achievements=true"
    answer = client.request("GET", f"/v1/customer_profiles/p-1/inventory?{everything}")
    # Then each part is there
    assert answer.status == 200
    assert answer.body["profile"]["integrationId"] == "p-1"
    assert [(c["value"], c["state"]) for c in answer.body["coupons"]] == [("SAVE5", "active")]
    assert [r["advocateProfileIntegrationId"] for r in answer.body["referrals"]] == ["p-1"]
    assert answer.body["loyalty"] == {"programs": {}}
    assert answer.body["giveaways"] == [] and answer.body["achievements"] == []
    # And without flags, nothing; an unknown profile is a 404
    assert client.request("GET", "/v1/customer_profiles/p-1/inventory").body == {}
    assert client.request("GET", "/v1/customer_profiles/p-9/inventory").status == 404


def test_erasing_a_customer_takes_them_out_of_audiences_and_reservations(client: Client) -> None:
    # Given a customer in an audience and holding a reserved coupon
    audience = _audience(client)["id"]
    _memberships(client, ("add", "p-1", audience), ("add", "p-2", audience))
    client.request("POST", "/v1/coupon_reservations/SAVE5", {"integrationIDs": ["p-1"]})
    # When their data is deleted
    assert client.delete("p-1").status == 204
    # Then they are in neither any more, and the others stay
    segments = _state(client)["segments"]
    assert segments["members"] == {str(audience): ["p-2"]} and segments["reservations"] == {"SAVE5": []}
