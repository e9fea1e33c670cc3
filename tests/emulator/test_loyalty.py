"""The emulator's loyalty programs and achievements: points earned by the rules, pending until activated,
deleted, cards generated, linked and unlinked, and achievements counted from events (default rules:
program 1 profile-based, program 2 card-based, achievement 1 three purchases)."""

from __future__ import annotations

from typing import Any

from local.emulator import Emulator
from local.emulator.store import Store
from tests.emulator.helpers import Answer, Client

PROFILE = "/v1/loyalty_programs/1/profile/{}"
CARDS = "/v1/loyalty_programs/2/cards"


def event(client: Client, profile: str, kind: str) -> Answer:
    answer = client.event_v2({"profileId": profile, "type": kind, "attributes": {}}, "silent=no")
    assert answer.status == 200, answer.body
    return answer


def get(client: Client, path: str) -> Any:
    answer = client.request("GET", path)
    assert answer.status == 200, answer.body
    return answer.body


def test_a_purchase_earns_active_points_with_its_effects_transaction_uuid(client: Client) -> None:
    # When a profile's purchase is tracked
    answer = event(client, "ada", "purchase")
    # Then its ledger holds one active entry of 10 points, the same transaction as the effect's
    (effect,) = [e for e in answer.body["effects"] if e["effectType"] == "addLoyaltyPoints"]
    points = get(client, PROFILE.format("ada") + "/points")
    assert [(e["amount"], e["transactionUUID"]) for e in points["data"]] == [(10, effect["props"]["transactionUUID"])]
    assert get(client, PROFILE.format("ada") + "/balances")["balance"]["activePoints"] == 10


def test_review_points_are_pending_until_activated(client: Client) -> None:
    # Given a review's 5 pending points
    event(client, "bo", "review")
    assert get(client, PROFILE.format("bo") + "/balances")["balance"]["pendingPoints"] == 5
    pending = get(client, PROFILE.format("bo") + "/transactions?awaitsActivation=true")["data"]
    # When they are activated by their transaction
    answer = client.request(
        "POST", "/v1/loyalty_programs/1/activate_points", {"transactionUUIDs": [pending[0]["transactionUUID"]]}
    )
    # Then they are active, in the ledger and in the profile's loyalty
    assert (answer.status, [e["amount"] for e in answer.body["ledgerEntries"]]) == (200, [5])
    balance = get(client, PROFILE.format("bo") + "/balances")["balance"]
    assert (balance["activePoints"], balance["pendingPoints"]) == (5, 0)
    assert get(client, PROFILE.format("bo") + "/transactions?awaitsActivation=true")["data"] == []


def test_deleting_a_profiles_transactions_empties_its_ledger(client: Client) -> None:
    event(client, "cy", "purchase")
    answer = client.request("POST", PROFILE.format("cy") + "/delete_transactions", {"scope": "AllSubledgers"})
    assert answer.status == 204
    assert get(client, PROFILE.format("cy") + "/transactions")["data"] == []
    assert get(client, PROFILE.format("cy") + "/balances")["balance"]["activePoints"] == 0


def test_card_points_go_to_the_linked_card_and_follow_its_links(client: Client) -> None:
    # Given a card generated for a profile
    card = client.request("POST", CARDS, {"cardIdentifier": "CARD-0042", "customerProfileIds": ["di"]}).body
    assert [p["integrationId"] for p in card["profiles"]] == ["di"]
    # When the profile buys with its card
    event(client, "di", "card_purchase")
    # Then the card holds the points
    assert get(client, f"{CARDS}/CARD-0042/balances")["balance"]["activePoints"] == 3
    assert [e["cardIdentifier"] for e in get(client, f"{CARDS}/CARD-0042/transactions")["data"]] == ["CARD-0042"]
    # And after the card is unlinked, a purchase earns nothing on it
    unlink = client.request("POST", "/v2/loyalty_programs/2/cards/CARD-0042/unlink_profile", {"integrationId": "di"})
    assert (unlink.status, unlink.body["profiles"]) == (200, [])
    event(client, "di", "card_purchase")
    assert len(get(client, f"{CARDS}/CARD-0042/points")["data"]) == 1


def test_a_card_takes_two_profiles_at_most(client: Client) -> None:
    client.request("POST", CARDS, {"cardIdentifier": "CARD-0007", "customerProfileIds": ["a1", "a2"]})
    answer = client.request("POST", "/v2/loyalty_programs/2/cards/CARD-0007/link_profile", {"integrationId": "a3"})
    assert answer.status == 400


def test_unknown_programs_cards_and_profiles_are_404s_and_the_wrong_kind_a_400(client: Client) -> None:
    event(client, "ed", "purchase")
    assert client.request("GET", "/v1/loyalty_programs/9/profile/ed/balances").status == 404
    assert client.request("GET", PROFILE.format("nobody") + "/balances").status == 404
    assert client.request("GET", f"{CARDS}/CARD-9999/balances").status == 404
    wrong = client.request("GET", "/v1/loyalty_programs/2/profile/ed/balances")
    assert (wrong.status, wrong.body["errors"][0]["source"]) == (400, {"parameter": "loyaltyProgramId"})


def test_achievements_count_purchases_to_completion(client: Client) -> None:
    # Given two purchases, then a third
    for _ in range(2):
        event(client, "fa", "purchase")
    progress = get(client, "/v1/customer_profiles/fa/achievements")["data"][0]["currentProgress"]
    assert (progress["status"], progress["progress"]) == ("inprogress", 2)
    event(client, "fa", "purchase")
    # Then the history holds the completed achievement, with its definition
    history = get(client, "/v1/customer_profiles/fa/achievements/1")
    assert [(e["status"], e["achievementId"], e["name"]) for e in history["data"]] == [
        ("completed", 1, "ThreePurchases")
    ]
    assert get(client, "/v1/customer_profiles/fa/achievements?currentProgressStatus=inprogress")["data"] == []
    assert client.request("GET", "/v1/customer_profiles/fa/achievements/7").status == 404


def test_ledgers_and_cards_survive_the_state_file(emulator: Emulator, client: Client) -> None:
    event(client, "gu", "purchase")
    client.request("POST", CARDS, {"cardIdentifier": "CARD-0100"})
    # When the state is written and read back
    state = client.admin("GET", "state").body
    again = Store.from_json(state)
    # Then the ledgers and cards are the same
    assert [t["profileId"] for t in again.ledgers.transactions] == ["gu"]
    assert list(again.ledgers.cards) == ["2/CARD-0100"]
    assert again.to_json()["ledgers"] == state["ledgers"]
