"""The Talon.One applications one deployment serves, and which caller or shop reaches which.

A Talon.One application has one currency and one set of campaigns, and its own Integration API key.
The relay serves several from one deployment: the `default` application is the one the environment
has always named (TALON_SECRET_ARN, CALLER_API_KEYS_SECRET_ARN, CALLER_SIGNING_SECRET_ARN), and
TALON_APPLICATIONS (JSON, the template parameter `Applications`) adds others and binds shops:

    {"applications": [
        {"name": "default", "shops": [{"domain": "acme.myshopify.com", "currencies": ["EUR"]}]},
        {"name": "us", "talonSecretArn": "arn:...", "callerKeysSecretArn": "arn:...",
         "signingSecretArn": "arn:...", "shops": [{"domain": "acme.myshopify.com", "currencies": ["USD"]}]}],
     "keyApi": "default"}

Validated once per container (records of `fields.py`, like the settings), then checked as a whole:
names unique, every secret bound to one application only, a shop domain bound once per currency and
at most once without currencies (that entry takes the shop's webhooks no currency rule takes: carts,
customers, other currencies), `keyApi` a known name. Each fault names the setting,
as `TALON_APPLICATIONS.applications.1.shops.0.domain: ...`. Pure: no secret is read here (routing a
caller by its key or signature is `core/applications.py`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic_core import ValidationError
from pydantic_core import core_schema as cs

from talon_relay.config.fields import key, record_schema, validator
from talon_relay.errors import SettingsError, problems

#: The application of a deployment that names none: what every single-application deployment serves.
DEFAULT = "default"
SETTING = "TALON_APPLICATIONS"
#: What an application's name may be: it appears in store keys, FIFO groups, metric dimensions, logs.
NAME_PATTERN = r"^[a-z][a-z0-9-]{0,31}$"


@dataclass(frozen=True, kw_only=True)
class Shop:
    """A shop domain bound to an application, for all its orders or for those in `currencies`."""

    domain: str = key(
        "domain", schema=cs.str_schema(min_length=1, max_length=255, to_lower=True, strip_whitespace=True)
    )
    currencies: tuple[str, ...] = key(
        "currencies",
        schema=cs.tuple_schema([cs.str_schema(pattern=r"^[A-Z]{3}$")], variadic_item_index=0, min_length=1),
        default=(),
    )


@dataclass(frozen=True, kw_only=True)
class Application:
    """One Talon.One application: its secret, its callers' secrets, its shops."""

    name: str = key("name", schema=cs.str_schema(pattern=NAME_PATTERN))
    talon_secret_arn: str | None = key("talonSecretArn", schema=cs.str_schema(min_length=1), default=None)
    caller_keys_secret_arn: str | None = key("callerKeysSecretArn", schema=cs.str_schema(min_length=1), default=None)
    signing_secret_arn: str | None = key("signingSecretArn", schema=cs.str_schema(min_length=1), default=None)
    shops: tuple[Shop, ...] = key(
        "shops", schema=cs.tuple_schema([record_schema(Shop)], variadic_item_index=0), default=()
    )


@dataclass(frozen=True, kw_only=True)
class Document:
    applications: tuple[Application, ...] = key(
        "applications", schema=cs.tuple_schema([record_schema(Application)], variadic_item_index=0, min_length=1)
    )
    key_api: str | None = key("keyApi", schema=cs.str_schema(pattern=NAME_PATTERN), default=None)


@dataclass(frozen=True)
class Applications:
    """The deployment's applications by name (`default` first), and its routing tables."""

    by_name: Mapping[str, Application]
    #: The application RelayKeyApi's callers reach (API Gateway checked their API key).
    key_api: str

    @property
    def several(self) -> bool:
        return len(self.by_name) > 1

    def get(self, name: str) -> Application | None:
        return self.by_name.get(name)

    def for_shop(self, domain: str | None) -> list[Application]:
        """Every application a shop domain is bound to (a single application takes every shop)."""
        if not self.several:
            return list(self.by_name.values())
        wanted = (domain or "").strip().lower()
        return [app for app in self.by_name.values() if any(shop.domain == wanted for shop in app.shops)]

    def by_currency(self, domain: str | None) -> bool:
        """Whether a shop's webhooks are routed by their currency (an entry of the shop names currencies)."""
        wanted = (domain or "").strip().lower()
        return self.several and any(
            shop.domain == wanted and shop.currencies for app in self.for_shop(domain) for shop in app.shops
        )

    def for_order(self, domain: str | None, currency: str | None) -> Application:
        """The one application of a shop's webhook: the one its currency is bound to, else the shop's
        entry without currencies; ValueError says why there is none."""
        if not self.several:
            return self.by_name[DEFAULT]
        bound = self.for_shop(domain)
        if not bound:
            raise ValueError(f"shop {domain!r} is bound to no application ({SETTING})")
        wanted = (domain or "").strip().lower()
        for fallback in (False, True):  # its currency's rule first, else the shop's entry without one
            for app in bound:
                for shop in app.shops:
                    if shop.domain == wanted and (not shop.currencies if fallback else currency in shop.currencies):
                        return app
        names = ", ".join(app.name for app in bound)
        raise ValueError(
            f"shop {domain!r} is bound to applications {names} by currency, and the webhook's currency "
            f"{currency!r} is bound to none of them (an entry of the shop without currencies takes the rest)"
        )


#: The environment variables the `default` application's secrets come from.
ENVIRONMENT = {
    "talon_secret_arn": "TALON_SECRET_ARN",
    "caller_keys_secret_arn": "CALLER_API_KEYS_SECRET_ARN",
    "signing_secret_arn": "CALLER_SIGNING_SECRET_ARN",
}


def _fault(where: str, message: str) -> SettingsError:
    setting = where if where in ENVIRONMENT.values() else f"{SETTING}.{where}"
    return SettingsError(f"invalid function configuration: {setting}: {message}")


def _check(doc: Document, default: Application) -> Applications:
    """The document as a whole: one name, one secret, one shop binding per currency each."""
    by_name: dict[str, Application] = {}
    secrets: dict[str, str] = {}
    for index, app in enumerate(doc.applications):
        where = f"applications.{index}"
        if app.name in by_name and app.name != DEFAULT:
            raise _fault(f"{where}.name", f"application {app.name!r} is named twice")
        if app.name == DEFAULT:
            if DEFAULT in by_name and by_name[DEFAULT] is not default:
                raise _fault(f"{where}.name", f"application {DEFAULT!r} is named twice")
            for field in ("talon_secret_arn", "caller_keys_secret_arn", "signing_secret_arn"):
                if getattr(app, field) not in (None, getattr(default, field)):
                    raise _fault(
                        f"{where}", f"the {DEFAULT!r} application's secrets are the environment's, not set here"
                    )
            app = Application(**{**default.__dict__, "shops": app.shops})
        elif app.talon_secret_arn is None:
            raise _fault(f"{where}.talonSecretArn", f"application {app.name!r} needs its Talon.One secret")
        by_name[app.name] = app
    by_name = {DEFAULT: by_name.get(DEFAULT, default), **{n: a for n, a in by_name.items() if n != DEFAULT}}
    several = len(by_name) > 1
    index_of = {app.name: index for index, app in enumerate(doc.applications)}
    for app in by_name.values():
        for field, setting in (
            ("talon_secret_arn", "talonSecretArn"),
            ("caller_keys_secret_arn", "callerKeysSecretArn"),
            ("signing_secret_arn", "signingSecretArn"),
        ):
            arn = getattr(app, field)
            where = ENVIRONMENT[field] if app.name == DEFAULT else f"applications.{index_of[app.name]}.{setting}"
            if arn is None:
                if several and field == "signing_secret_arn":
                    raise _fault(
                        where,
                        f"application {app.name!r} needs a signing secret: it seals its queued messages",
                    )
                continue
            if arn in secrets:
                raise _fault(
                    where,
                    f"duplicate binding: the secret is bound to applications {secrets[arn]!r} and {app.name!r}",
                )
            secrets[arn] = app.name
    _check_shops(doc.applications)
    key_api = doc.key_api or DEFAULT
    if key_api not in by_name:
        raise _fault("keyApi", f"unknown application {key_api!r} (known: {', '.join(by_name)})")
    return Applications(by_name, key_api)


def _check_shops(apps: tuple[Application, ...]) -> None:
    taken: dict[tuple[str, str | None], str] = {}
    for index, app in enumerate(apps):
        for number, shop in enumerate(app.shops):
            where = f"applications.{index}.shops.{number}"
            for currency in shop.currencies or (None,):
                clashes = [
                    owner for (domain, other), owner in taken.items() if (domain, other) == (shop.domain, currency)
                ]
                if clashes:
                    what = f"shop {shop.domain!r}" + (f" in {currency}" if currency else " without currencies")
                    raise _fault(
                        f"{where}.domain",
                        f"duplicate binding: {what} is bound to applications {clashes[0]!r} and {app.name!r}",
                    )
                taken[(shop.domain, currency)] = app.name


def load_applications(text: str | None, default: Application) -> Applications:
    """The deployment's applications: `default` alone, or with those TALON_APPLICATIONS adds."""
    if not text or not text.strip():
        return Applications({DEFAULT: default}, DEFAULT)
    try:
        data: Any = json.loads(text)
    except ValueError:
        raise SettingsError(f"invalid function configuration: {SETTING}: not JSON") from None
    try:
        doc: Document = validator(Document).validate_python(data)
    except ValidationError as exc:
        raise SettingsError(f"invalid function configuration: {problems(exc, whole=SETTING, prefix=SETTING)}") from None
    return _check(doc, default)
