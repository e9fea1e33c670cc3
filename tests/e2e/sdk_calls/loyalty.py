"""Loyalty programs (profile ledgers, cards) and achievements. Locally (README: the local stack) program 1
is profile-based (a `purchase` event earns 10 points, a `review` event 5 pending ones), program 2 is
card-based (a `card_purchase` event earns 3 points on the profile's linked card), and achievement 1 counts
three purchases."""

from __future__ import annotations

from typing import Any

import talon_one

from tests.e2e.sdk_calls import Call, World

PROFILE_PROGRAM = 1
CARD_PROGRAM = 2
ACHIEVEMENT = 1


def _event(world: World, profile: str, kind: str) -> None:
    world.api.track_event_v2(
        talon_one.IntegrationEventV2Request(profile_id=profile, type=kind, attributes={}), silent="no"
    )


def _member(world: World, stem: str, *events: str) -> str:
    profile = world.unique(stem)
    for kind in events or ("purchase",):
        _event(world, profile, kind)
    return profile


def _card(world: World, stem: str, *profiles: str) -> str:
    card = world.api.generate_loyalty_card(
        CARD_PROGRAM,
        talon_one.GenerateLoyaltyCard(card_identifier=world.unique(stem.upper()), customer_profile_ids=list(profiles)),
    )
    return str(card.identifier)


def get_loyalty_balances(world: World) -> Any:
    answer = world.api.get_loyalty_balances(PROFILE_PROGRAM, _member(world, "sdk-balance"))
    assert answer.balance.active_points == 10
    return answer


def get_loyalty_program_profile_points(world: World) -> Any:
    answer = world.api.get_loyalty_program_profile_points(PROFILE_PROGRAM, _member(world, "sdk-points"))
    assert [entry.amount for entry in answer.data] == [10]
    return answer


def get_loyalty_program_profile_transactions(world: World) -> Any:
    profile = _member(world, "sdk-transactions", "purchase", "review")
    answer = world.api.get_loyalty_program_profile_transactions(PROFILE_PROGRAM, profile, page_size=10)
    assert sorted(entry.amount for entry in answer.data) == [5, 10]
    return answer


def activate_loyalty_points(world: World) -> Any:
    profile = _member(world, "sdk-activate", "review")
    pending = world.api.get_loyalty_program_profile_transactions(PROFILE_PROGRAM, profile, awaits_activation=True)
    answer = world.api.activate_loyalty_points(
        PROFILE_PROGRAM,
        talon_one.ActivateLoyaltyPoints(transaction_uuids=[entry.transaction_uuid for entry in pending.data]),
    )
    assert [entry.amount for entry in answer.ledger_entries] == [5]
    return answer


def delete_loyalty_transactions_from_ledgers(world: World) -> Any:
    profile = _member(world, "sdk-forget")
    answer = world.api.delete_loyalty_transactions_from_ledgers(
        PROFILE_PROGRAM, profile, talon_one.DeleteLoyaltyTransactionsRequest(scope="AllSubledgers")
    )
    left = world.api.get_loyalty_program_profile_transactions(PROFILE_PROGRAM, profile)
    assert left.data == []
    return answer


def generate_loyalty_card(world: World) -> Any:
    answer = world.api.generate_loyalty_card(
        CARD_PROGRAM, talon_one.GenerateLoyaltyCard(customer_profile_ids=[world.unique("sdk-holder")])
    )
    assert [p.integration_id for p in answer.profiles] == [world.unique("sdk-holder")]
    return answer


def link_loyalty_card_to_profile(world: World) -> Any:
    answer = world.api.link_loyalty_card_to_profile(
        CARD_PROGRAM, _card(world, "sdk-link"), talon_one.LoyaltyCardRegistration(integration_id=world.unique("p"))
    )
    assert [p.integration_id for p in answer.profiles] == [world.unique("p")]
    return answer


def unlink_loyalty_card_from_profile(world: World) -> Any:
    card = _card(world, "sdk-unlink", world.unique("p"))
    answer = world.api.unlink_loyalty_card_from_profile(
        CARD_PROGRAM, card, talon_one.LoyaltyCardRegistration(integration_id=world.unique("p"))
    )
    assert answer.profiles == []
    return answer


def _card_with_points(world: World, stem: str) -> str:
    profile = world.unique(stem)
    card = _card(world, stem, profile)
    _event(world, profile, "card_purchase")
    return card


def get_loyalty_card_balances(world: World) -> Any:
    answer = world.api.get_loyalty_card_balances(CARD_PROGRAM, _card_with_points(world, "sdk-card-balance"))
    assert answer.balance.active_points == 3
    return answer


def get_loyalty_card_points(world: World) -> Any:
    answer = world.api.get_loyalty_card_points(CARD_PROGRAM, _card_with_points(world, "sdk-card-points"))
    assert [entry.amount for entry in answer.data] == [3]
    return answer


def get_loyalty_card_transactions(world: World) -> Any:
    card = _card_with_points(world, "sdk-card-transactions")
    answer = world.api.get_loyalty_card_transactions(CARD_PROGRAM, card)
    assert [(entry.card_identifier, entry.amount) for entry in answer.data] == [(card, 3)]
    return answer


def get_customer_achievements(world: World) -> Any:
    answer = world.api.get_customer_achievements(_member(world, "sdk-achiever", "purchase", "purchase"))
    assert [(a.id, a.current_progress.progress) for a in answer.data] == [(ACHIEVEMENT, 2)]
    return answer


def get_customer_achievement_history(world: World) -> Any:
    profile = _member(world, "sdk-history", "purchase", "purchase", "purchase")
    answer = world.api.get_customer_achievement_history(profile, ACHIEVEMENT)
    assert [entry.status for entry in answer.data] == ["completed"]
    return answer


CALLS: dict[str, Call] = {
    "get_loyalty_balances": get_loyalty_balances,
    "get_loyalty_program_profile_points": get_loyalty_program_profile_points,
    "get_loyalty_program_profile_transactions": get_loyalty_program_profile_transactions,
    "activate_loyalty_points": activate_loyalty_points,
    "delete_loyalty_transactions_from_ledgers": delete_loyalty_transactions_from_ledgers,
    "generate_loyalty_card": generate_loyalty_card,
    "link_loyalty_card_to_profile": link_loyalty_card_to_profile,
    "unlink_loyalty_card_from_profile": unlink_loyalty_card_from_profile,
    "get_loyalty_card_balances": get_loyalty_card_balances,
    "get_loyalty_card_points": get_loyalty_card_points,
    "get_loyalty_card_transactions": get_loyalty_card_transactions,
    "get_customer_achievements": get_customer_achievements,
    "get_customer_achievement_history": get_customer_achievement_history,
}
