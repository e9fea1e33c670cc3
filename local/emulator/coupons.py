"""Coupon reservations, best prior price, referrals for several advocates and the customer's inventory.

Semantics:
- Coupons are the codes of the rules file's coupon rules (`WELCOME10`, `SAVE5` by default); an unknown
  code is a 404 naming `couponValue`. A reservation names profiles by integration id (each created if
  new, none empty); reserving twice is reserving once; removing one not reserved is a no-op.
- Best prior price: the lowest price of each SKU observed within `timeframe` days (a whole number, else a
  400 naming it) up to `timeframeEndDate`, from the price history: `PRICE_HISTORY` below plus every
  cart item's price in the sessions the emulator has seen (observed when the session was last updated).
  `price` and `sale` end types are answered as `strict`. A SKU never observed is left out of the answer.
- Referrals for several advocates: one code per advocate, each with the body's `usageLimit`; an unknown
  campaign is a 400 naming `campaignId` and nothing is created. 204 unless `silent=no`.
- The inventory of a profile (a 404 for an unknown one): its profile, the referrals it advocates (with
  the friends that used them), the coupons reserved for it, its loyalty ledgers, and no giveaways or
  achievements (the emulator has none yet).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from local.emulator.answers_v2 import customer_profile
from local.emulator.errors import ApiError
from local.emulator.loyalty import ledgers
from local.emulator.model import Outcome
from local.emulator.routes import Call, QueryParam, Route
from local.emulator.rules import CouponRule
from local.emulator.store import parse_time, rfc3339

#: (SKU, observed at, price): what the emulator knows of prices before any session.
PRICE_HISTORY: tuple[tuple[str, str, float], ...] = (
    ("SKU-CAMERA", "2026-04-01T00:00:00Z", 499.0),
    ("SKU-CAMERA", "2026-05-10T00:00:00Z", 449.0),
    ("SKU-CAMERA", "2026-05-25T00:00:00Z", 479.0),
    ("SKU-STRAP", "2026-05-01T00:00:00Z", 19.0),
)
#: when the rules file's coupons were created (the answers' `created`)
COUPONS_CREATED = "2026-01-01T00:00:00Z"
SILENT = QueryParam("silent", "string", default="yes", values=("yes", "no", "true", "false"))


def _coupon(call: Call) -> dict[str, Any]:
    """The path's coupon as a `Coupon` answer."""
    code = call.params["couponValue"]
    for campaign, _, rule in call.backend.rules.rules_of(CouponRule):
        for coupon in rule.codes:
            if coupon.code == code:
                reserved = call.backend.store.segments.reservations.get(code, [])
                return {
                    "id": coupon.id,
                    "created": COUPONS_CREATED,
                    "campaignId": campaign.id,
                    "value": code,
                    "usageLimit": coupon.usage_limit,
                    "usageCounter": call.backend.store.coupon_usage.get(code, 0),
                    "reservation": True,
                    "reservationCounter": len(reserved),
                }
    raise ApiError(404, "Coupon not found", title="Not found", parameter="couponValue")


def _ids(call: Call) -> list[str]:
    ids: list[str] = call.body["integrationIDs"]
    for index, value in enumerate(ids):
        if not value:
            raise ApiError(
                400, "integration ids must not be empty", title="Invalid value", pointer=f"/integrationIDs/{index}"
            )
    return ids


def create_coupon_reservation(call: Call) -> Outcome:
    _coupon(call)
    ids = _ids(call)
    backend = call.backend
    reserved = backend.store.segments.reservations.setdefault(call.params["couponValue"], [])
    now = backend.now()
    for value in ids:
        backend.store.profile(value, now, backend.rules.account_id)
        if value not in reserved:
            reserved.append(value)
    return Outcome(201, _coupon(call))


def delete_coupon_reservation(call: Call) -> Outcome:
    _coupon(call)
    ids = set(_ids(call))
    reservations = call.backend.store.segments.reservations
    code = call.params["couponValue"]
    reservations[code] = [value for value in reservations.get(code, []) if value not in ids]
    return Outcome(204, None)


def get_reserved_customers(call: Call) -> Outcome:
    _coupon(call)
    store = call.backend.store
    reserved = store.segments.reservations.get(call.params["couponValue"], [])
    data = [customer_profile(store.profiles[value]) for value in reserved if value in store.profiles]
    return Outcome(200, {"totalResultSize": len(data), "data": data})


def _observed(call: Call) -> list[tuple[str, datetime, float, str]]:
    """(sku, observed at, price, context) of the price history and of the sessions' carts."""
    seen = [(sku, parse_time(at), price, "default") for sku, at, price in PRICE_HISTORY]
    for session in call.backend.store.sessions.values():
        at = session.updated or session.created
        for item in session.cart_items:
            if isinstance(item.get("price"), int | float) and isinstance(item.get("sku"), str):
                seen.append((item["sku"], at, float(item["price"]), session.integration_id))
    return seen


def best_prior_price(call: Call) -> Outcome:
    body = call.body
    days = body["timeframe"]
    if not days.isascii() or not days.isdigit():
        raise ApiError(400, "timeframe must be a whole number of days", title="Invalid value", pointer="/timeframe")
    end = parse_time(body["timeframeEndDate"])
    start = end - timedelta(days=int(days))
    observed = _observed(call)
    answer: list[dict[str, Any]] = []
    for sku in dict.fromkeys(body["skus"]):
        within = [entry for entry in observed if entry[0] == sku and start <= entry[1] <= end]
        if not within:
            continue
        _, at, price, context = min(within, key=lambda entry: (entry[2], entry[1]))
        answer.append(
            {
                "id": len(answer) + 1,
                "sku": sku,
                "observedAt": rfc3339(at),
                "contextId": context,
                "price": price,
                "metadata": {"influencingCampaignDetails": []},
                "target": body.get("target") or {"targetType": "NONE"},
            }
        )
    return Outcome(200, answer)


def create_referrals(call: Call) -> Outcome:
    backend, body = call.backend, call.body
    if backend.rules.campaign(body["campaignId"]) is None:
        raise ApiError(
            400, f"Campaign {body['campaignId']} does not exist", title="Unknown campaign", pointer="/campaignId"
        )
    advocates: list[str] = body["advocateProfileIntegrationIds"]
    for index, advocate in enumerate(advocates):
        if not advocate:
            raise ApiError(
                400,
                "advocate ids must not be empty",
                title="Invalid value",
                pointer=f"/advocateProfileIntegrationIds/{index}",
            )
    created = []
    for advocate in advocates:
        one: dict[str, Any] = {key: body[key] for key in ("campaignId", "startDate", "expiryDate") if key in body}
        result = backend.create_referral({**one, "advocateProfileIntegrationId": advocate}, call.application_id)
        assert result.referral is not None
        result.referral.usage_limit = body["usageLimit"]
        created.append(result.referral.dump())
    if call.query.get("silent") in ("yes", "true"):
        return Outcome(204, None)
    return Outcome(201, {"totalResultSize": len(created), "data": created})


def get_customer_inventory(call: Call) -> Outcome:
    store, rules = call.backend.store, call.backend.rules
    integration_id = call.params["integrationId"]
    profile = store.profiles.get(integration_id)
    if profile is None:
        raise ApiError(404, "Customer profile not found", title="Not found", parameter="integrationId")
    wanted = {name for name, value in call.query.items() if value is True}
    answer: dict[str, Any] = {}
    if "profile" in wanted:
        answer["profile"] = customer_profile(profile)
    if "referrals" in wanted:
        answer["referrals"] = [
            {**record.dump(), "referredCustomers": [record.friend] if record.friend else []}
            for record in store.referrals.values()
            if record.advocate == integration_id
        ]
    if "coupons" in wanted:
        answer["coupons"] = _inventory_coupons(call, integration_id)
    if "loyalty" in wanted:
        answer["loyalty"] = ledgers(profile, rules)
    if "giveaways" in wanted:
        answer["giveaways"] = []
    if "achievements" in wanted:
        answer["achievements"] = []
    return Outcome(200, answer)


def _inventory_coupons(call: Call, integration_id: str) -> list[dict[str, Any]]:
    found = []
    for code, reserved in call.backend.store.segments.reservations.items():
        if integration_id in reserved:
            coupon = _coupon(Call(call.backend, {"couponValue": code}, {}, {}, call.application_id, call.era))
            found.append(
                {**coupon, "profileRedemptionCount": 0, "state": "active", "recipientIntegrationId": integration_id}
            )
    return found


ROUTES: tuple[Route, ...] = (
    Route(
        "createCouponReservation",
        "POST",
        "/v1/coupon_reservations/{couponValue}",
        201,
        create_coupon_reservation,
        body="CouponReservations",
        body_required=True,
        definitions={
            "CouponReservations": {
                "type": "object",
                "required": ["integrationIDs"],
                "properties": {"integrationIDs": {"items": {"type": "string"}, "maxItems": 1000, "type": "array"}},
            },
            "BestPriorPriceRequest": {
                "type": "object",
                "required": ["skus", "timeframe", "timeframeEndDate", "timeframeEndDateType"],
                "properties": {
                    "skus": {"items": {"type": "string"}, "minItems": 1, "type": "array"},
                    "timeframeEndDate": {"format": "date-time", "type": "string"},
                    "timeframe": {"type": "string"},
                    "timeframeEndDateType": {"enum": ["strict", "price", "sale"], "type": "string"},
                    "target": {"$ref": "#/definitions/BestPriorTarget"},
                },
            },
            "BestPriorTarget": {
                "type": "object",
                "required": ["targetType"],
                "properties": {
                    "targetType": {"enum": ["NONE", "AUDIENCE"], "type": "string"},
                    "audienceID": {"format": "int64", "type": "integer"},
                },
            },
            "NewReferralsForMultipleAdvocates": {
                "type": "object",
                "required": ["advocateProfileIntegrationIds", "campaignId", "usageLimit"],
                "properties": {
                    "startDate": {"format": "date-time", "type": "string"},
                    "expiryDate": {"format": "date-time", "type": "string"},
                    "usageLimit": {"format": "int64", "maximum": 999999, "minimum": 0, "type": "integer"},
                    "campaignId": {"format": "int64", "type": "integer"},
                    "advocateProfileIntegrationIds": {
                        "items": {"type": "string"},
                        "maxItems": 1000,
                        "minItems": 1,
                        "type": "array",
                    },
                    "attributes": {"properties": {}, "type": "object"},
                    "validCharacters": {"items": {"type": "string"}, "type": "array"},
                    "referralPattern": {"maxLength": 100, "minLength": 3, "type": "string"},
                },
            },
        },
    ),
    Route(
        "deleteCouponReservation",
        "DELETE",
        "/v1/coupon_reservations/{couponValue}",
        204,
        delete_coupon_reservation,
        body="CouponReservations",
        body_required=True,
    ),
    Route(
        "getReservedCustomers",
        "GET",
        "/v1/coupon_reservations/customerprofiles/{couponValue}",
        200,
        get_reserved_customers,
    ),
    Route(
        "bestPriorPrice",
        "POST",
        "/v1/best_prior_price",
        200,
        best_prior_price,
        body="BestPriorPriceRequest",
        body_required=True,
    ),
    Route(
        "createReferralsForMultipleAdvocates",
        "POST",
        "/v1/referrals_for_multiple_advocates",
        201,
        create_referrals,
        body="NewReferralsForMultipleAdvocates",
        body_required=True,
        query=(SILENT,),
    ),
    Route(
        "getCustomerInventory",
        "GET",
        "/v1/customer_profiles/{integrationId}/inventory",
        200,
        get_customer_inventory,
        query=tuple(
            QueryParam(name, "boolean")
            for name in ("profile", "referrals", "coupons", "loyalty", "giveaways", "achievements")
        ),
    ),
)
