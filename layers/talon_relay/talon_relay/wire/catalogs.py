"""Request and answer models of cart item catalogs: syncCatalog (`PUT /v1/catalogs/{catalogId}/sync`).

Names and constraints follow `talon_one_openapi-v25.17.0.yaml` (May 2026): `CatalogSyncRequest`, and each
action's payload as its `<Type>CatalogAction` schema. The May spec leaves `CatalogAction.payload` an open
object; the June 2026 split specs say which payload goes with which `type` (a `oneOf` on a `const` type),
which is what the actions here are: a union on `type` (tests/contract/test_catalogs.py compares both).
Talon.One refuses a whole request with two action types or a SKU twice; so does the checker (`one_sync`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field

from talon_relay.wire.base import INT64_MAX, STRICT, DateTime, RequestModel, ResponseModel, examples
from talon_relay.wire.formats import MAX_SYNC_ACTIONS, one_sync
from talon_relay.wire.models_v2 import Product

#: The spec's CatalogAction.type, in its order.
ACTION_TYPES = ("ADD", "PATCH", "PATCH_MANY", "REMOVE", "REMOVE_MANY", "ADD_PRICE_ADJUSTMENT")


class _Part(BaseModel):
    model_config = STRICT


class CatalogActionFilter(_Part):
    attr: str
    op: Literal["EQ", "LT", "LE", "GT", "GE", "IN"]
    value: Any


class AddItemCatalogAction(_Part):
    sku: str
    price: float | None = None
    attributes: dict[str, Any] | None = None
    product: Product | None = None
    replace_if_exists: bool | None = None


class PatchItemCatalogAction(_Part):
    sku: str
    price: float | None = None
    attributes: dict[str, Any] | None = None
    product: Product | None = None
    create_if_not_exists: bool | None = None


class PatchManyItemsCatalogAction(_Part):
    price: float | None = None
    filters: list[CatalogActionFilter] | None = None
    attributes: dict[str, Any] | None = None


class RemoveItemCatalogAction(_Part):
    sku: str


class RemoveManyItemsCatalogAction(_Part):
    filters: list[CatalogActionFilter] | None = None


class NewPriceAdjustment(_Part):
    price_type: str
    price: float | None = None
    reference_id: str = Field(min_length=1)
    calculated_at: DateTime | None = None
    effective_from: DateTime | None = None
    effective_until: DateTime | None = None
    context_id: str | None = None


class AddPriceAdjustmentCatalogAction(_Part):
    sku: str
    adjustments: list[NewPriceAdjustment]


class AddAction(_Part):
    type: Literal["ADD"]
    payload: AddItemCatalogAction


class PatchAction(_Part):
    type: Literal["PATCH"]
    payload: PatchItemCatalogAction


class PatchManyAction(_Part):
    type: Literal["PATCH_MANY"]
    payload: PatchManyItemsCatalogAction


class RemoveAction(_Part):
    type: Literal["REMOVE"]
    payload: RemoveItemCatalogAction


class RemoveManyAction(_Part):
    type: Literal["REMOVE_MANY"]
    payload: RemoveManyItemsCatalogAction


class AddPriceAdjustmentAction(_Part):
    type: Literal["ADD_PRICE_ADJUSTMENT"]
    payload: AddPriceAdjustmentCatalogAction


#: The spec's CatalogAction: its payload's schema chosen by its `type`.
CatalogAction = Annotated[
    AddAction | PatchAction | PatchManyAction | RemoveAction | RemoveManyAction | AddPriceAdjustmentAction,
    Field(discriminator="type"),
]


class CatalogSyncRequest(RequestModel):
    actions: Annotated[list[CatalogAction], Field(min_length=1, max_length=MAX_SYNC_ACTIONS), AfterValidator(one_sync)]
    version: int | None = Field(default=None, ge=1, le=INT64_MAX)

    model_config = examples(
        {
            "actions": [
                {
                    "type": "ADD",
                    "payload": {
                        "sku": "SKU-1",
                        "price": 99.5,
                        "product": {"name": "Sneakers"},
                        "attributes": {},
                        "replaceIfExists": True,
                    },
                }
            ]
        },
        {"actions": [{"type": "PATCH", "payload": {"sku": "SKU-1", "price": 89.5}}]},
        {"actions": [{"type": "REMOVE", "payload": {"sku": "SKU-1"}}]},
    )


class Catalog(ResponseModel):
    """syncCatalog's answer: the catalog after the sync (its items are not in it)."""

    id: int
    created: str
    account_id: int
    modified: str
    name: str
    description: str
    subscribed_applications_ids: list[int] | None = None
    version: int
    created_by: int
