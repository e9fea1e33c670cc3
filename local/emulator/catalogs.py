"""Cart item catalogs and syncCatalog (`PUT /v1/catalogs/{catalogId}/sync`) as Talon.One has them.

Semantics (the spec's text, and where it says nothing, the strict choice, so a relay that sends an
action twice is seen doing it):

- Catalog `LOCAL_CATALOG_ID` (1, "products") exists locally; any other id is a 404.
- One request holds one action type and each SKU at most once, else 400 and nothing applies; a request
  applies whole or not at all, and each applied request adds one to the catalog's `version`. A `version`
  other than the catalog's current one is a 400 (the request was made against another state).
- ADD: a new SKU; an existing one is a 400 unless `replaceIfExists` (then its attributes are replaced, its
  price kept when none is given, its product null when none is given).
- PATCH: attributes merged, price and product as for ADD with replace; an unknown SKU is a 400 unless
  `createIfNotExists`.
- PATCH_MANY / REMOVE_MANY: every item whose attributes match all `filters` (none: every item).
- REMOVE: an unknown SKU is a 400. ADD_PRICE_ADJUSTMENT: the SKU must exist; its adjustments are kept.
"""

from __future__ import annotations

import copy
from typing import Any

from local.emulator.errors import ApiError
from local.emulator.model import Outcome
from local.emulator.routes import Call
from local.emulator.store import rfc3339

LOCAL_CATALOG_ID = 1
LOCAL_CATALOG_NAME = "products"
MAX_ACTIONS = 1000
SKU_ACTIONS = frozenset({"ADD", "PATCH", "REMOVE", "ADD_PRICE_ADJUSTMENT"})

#: The body's definitions as the May 2026 spec has them (CatalogAction's payload: an open object).
DEFINITIONS: dict[str, Any] = {
    "CatalogSyncRequest": {
        "type": "object",
        "required": ["actions"],
        "properties": {
            "actions": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_ACTIONS,
                "items": {"$ref": "#/definitions/CatalogAction"},
            },
            "version": {"type": "integer", "format": "int64", "minimum": 1},
        },
    },
    "CatalogAction": {
        "type": "object",
        "required": ["payload", "type"],
        "properties": {
            "type": {
                "type": "string",
                "enum": ["ADD", "PATCH", "PATCH_MANY", "REMOVE", "REMOVE_MANY", "ADD_PRICE_ADJUSTMENT"],
            },
            "payload": {"type": "object", "properties": {}},
        },
    },
}


def _bad(details: str, pointer: str) -> ApiError:
    return ApiError(400, details, title="Invalid catalog sync", pointer=pointer)


def _catalog(call: Call) -> dict[str, Any]:
    text = call.params["catalogId"]
    if not text.isdigit():
        raise ApiError(400, "catalogId must be an integer", title="Invalid path parameter", parameter="catalogId")
    catalogs: dict[str, Any] = call.backend.store.catalogs
    if int(text) != LOCAL_CATALOG_ID:
        raise ApiError(404, f"Catalog {text} not found", title="Not found", parameter="catalogId")
    if text not in catalogs:
        now = rfc3339(call.backend.now())
        catalogs[text] = {
            "id": LOCAL_CATALOG_ID,
            "name": LOCAL_CATALOG_NAME,
            "description": "the local emulator's product catalog",
            "version": 1,
            "created": now,
            "modified": now,
            "items": {},
        }
    found: dict[str, Any] = catalogs[text]
    return found


def _sku(action: dict[str, Any], index: int) -> str:
    sku = action["payload"].get("sku")
    if not isinstance(sku, str) or not sku:
        raise _bad("sku is required (a non-empty string)", f"/actions/{index}/payload/sku")
    return sku


def _matches(item: dict[str, Any], filters: list[dict[str, Any]]) -> bool:
    attributes = item.get("attributes") or {}
    for where in filters:
        have, want, op = attributes.get(where.get("attr")), where.get("value"), where.get("op")
        if op == "EQ" and have != want:
            return False
        if op == "IN" and str(have) not in str(want).split(","):
            return False
        if op in ("LT", "LE", "GT", "GE"):
            if not isinstance(have, int | float) or not isinstance(want, int | float):
                return False
            if not {"LT": have < want, "LE": have <= want, "GT": have > want, "GE": have >= want}[op]:
                return False
    return True


def _put(items: dict[str, Any], sku: str, payload: dict[str, Any], old: dict[str, Any] | None, merge: bool) -> None:
    attributes = dict((old or {}).get("attributes") or {}) if merge else {}
    attributes.update(payload.get("attributes") or {})
    price = payload.get("price", (old or {}).get("price"))
    items[sku] = {"sku": sku, "price": price, "attributes": attributes, "product": payload.get("product")}


def _apply(items: dict[str, Any], kind: str, action: dict[str, Any], index: int) -> None:
    payload = action["payload"]
    if kind in SKU_ACTIONS:
        sku = _sku(action, index)
        old = items.get(sku)
        if kind == "ADD":
            if old is not None and payload.get("replaceIfExists") is not True:
                raise _bad(f"an item with SKU {sku!r} exists already", f"/actions/{index}/payload/sku")
            _put(items, sku, payload, old, merge=False)
        elif kind == "PATCH":
            if old is None and payload.get("createIfNotExists") is not True:
                raise _bad(f"no item with SKU {sku!r}", f"/actions/{index}/payload/sku")
            _put(items, sku, payload, old, merge=True)
        elif kind == "REMOVE":
            if old is None:
                raise _bad(f"no item with SKU {sku!r}", f"/actions/{index}/payload/sku")
            del items[sku]
        else:  # ADD_PRICE_ADJUSTMENT
            if old is None:
                raise _bad(f"no item with SKU {sku!r}", f"/actions/{index}/payload/sku")
            old.setdefault("adjustments", []).extend(payload.get("adjustments") or [])
        return
    chosen = [sku for sku, item in items.items() if _matches(item, payload.get("filters") or [])]
    for sku in chosen:
        if kind == "REMOVE_MANY":
            del items[sku]
        else:  # PATCH_MANY
            _put(items, sku, {**payload, "product": items[sku].get("product")}, items[sku], merge=True)


def sync_catalog(call: Call) -> Outcome:
    catalog = _catalog(call)
    actions: list[dict[str, Any]] = call.body["actions"]
    kind = actions[0]["type"]
    seen: dict[str, int] = {}
    for index, action in enumerate(actions):
        if action["type"] != kind:
            raise _bad("You can perform only one type of action in a single sync request", f"/actions/{index}/type")
        sku = action["payload"].get("sku")
        if isinstance(sku, str) and kind in SKU_ACTIONS:
            if sku in seen:
                raise _bad(f"duplicate SKU {sku!r} in one sync request", f"/actions/{index}/payload/sku")
            seen[sku] = index
    version = call.body.get("version")
    if version is not None and version != catalog["version"]:
        raise _bad(f"the catalog is at version {catalog['version']}, not {version}", "/version")
    items = copy.deepcopy(catalog["items"])  # whole or nothing
    for index, action in enumerate(actions):
        _apply(items, kind, action, index)
    catalog["items"] = items
    catalog["version"] += 1
    catalog["modified"] = rfc3339(call.backend.now())
    return Outcome(200, answer(catalog, call), [])


def answer(catalog: dict[str, Any], call: Call) -> dict[str, Any]:
    """The spec's Catalog: the catalog without its items."""
    return {
        "id": catalog["id"],
        "created": catalog["created"],
        "accountId": call.backend.rules.account_id,
        "modified": catalog["modified"],
        "name": catalog["name"],
        "description": catalog["description"],
        "subscribedApplicationsIds": [call.application_id],
        "version": catalog["version"],
        "createdBy": 1,
    }
