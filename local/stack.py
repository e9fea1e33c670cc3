"""The whole bundle on one machine: Talon.One emulator + moto (local AWS) + local gateway.

Used by `make run`, `make demo`, `make cleanup` and by the end-to-end tests, which start it on free
ports inside the test process.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.applications import SecondApplication, admin_url, start_second
from local.aws import LocalAws, export_environment, restore_environment, seed, start_moto
from local.extension import SecretsExtension
from local.gateway import Gateway, Reporter
from local.shopify_admin import ADMIN_TOKEN, SHOP_DOMAIN, ShopifyAdminServer
from local.template import ROOT, StackSpec, read_stack

STATE_DIR = ROOT / "local" / "state"
STACK_FILE = STATE_DIR / "stack.json"
LOCAL_API_KEY = "local-talon-api-key"  # the emulator's key; not a secret of anyone's

#: Template parameters that make sense on a laptop: failed messages come back in seconds, not minutes.
#: Callers authenticate as in a deployment: they sign with the generated CallerSigningSecret
#: (describe()["caller_signing_secret_arn"]), or send `x-api-key: local-relay-api-key` to reach
#: RelayKeyApi's routes. Pass parameters={"CallerAuthentication": "disabled"} to turn that off.
#: The way back (docs/events.md): the bus's subscriber queue RelayEventsQueue, and the loyalty write-back to
#: the local Shopify Admin stand-in's shop (local/shopify_admin.py, started with every stack).
LOCAL_PARAMETERS: dict[str, Any] = {
    "QueueVisibilityTimeout": 5,
    "EventsQueue": "enabled",
    "ShopifyShopDomain": SHOP_DOMAIN,
}
#: What `make run` and `make demo` add: every answer's effects on the bus too (EffectsToEventBus), so the
#: live view and RelayEventsQueue show them. Not the tests' default: their stacks stay as deployed by default.
RUN_PARAMETERS: dict[str, Any] = {"EffectsToEventBus": "enabled"}

#: Environment every local function gets on top of its template environment. A failed message comes back
#: after 2 s doubling to 30 s, not 30 s doubling to 15 minutes as deployed (the maxReceiveCount derived
#: for 24 hours then covers about 48 minutes of a local outage).
LOCAL_FUNCTION_ENV = {
    "POWERTOOLS_TRACE_DISABLED": "true",
    "QUEUE_RETRY_BASE_SECONDS": "2",
    "QUEUE_RETRY_MAX_SECONDS": "30",
}
#: The functions' session token locally (Lambda sets AWS_SESSION_TOKEN; the secrets extension checks it).
LOCAL_SESSION_TOKEN = "local-session-token"  # noqa: S105 - moto's, not a credential of anyone's

#: The stack running in this process. One at a time: moto keeps one state per process (two stacks
#: would share, and on stop delete, each other's queues and secrets), and the AWS environment
#: variables and the layer's caches are per process too.
_running: LocalStack | None = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def reset_layer_state() -> None:
    """Forget what the libraries cache per process (Powertools parameters' clients and values).

    They were built from the process environment (AWS_ENDPOINT_URL), which a stack changes when it
    starts and puts back when it stops; a cached client would keep talking to the moto server of a
    stack that is gone. (Each local container has its own layer container, made new.)
    """
    from talon_relay.container import forget_shared_caches

    forget_shared_caches()


@dataclass
class LocalStack:
    spec: StackSpec
    emulator: Any
    aws: LocalAws
    gateway: Gateway
    #: The process environment's values before start (None: unset), put back by stop().
    saved_environment: dict[str, str | None] = field(default_factory=dict)
    #: The Parameters and Secrets extension's stand-in (None: SecretsExtension=disabled).
    extension: SecretsExtension | None = None
    #: The second Talon.One application (None: one application, as the tests start by default).
    second: SecondApplication | None = None
    #: The Shopify Admin stand-in the loyalty write-back writes to (SHOPIFY_ADMIN_URL of the functions).
    shopify: ShopifyAdminServer | None = None

    @property
    def api_url(self) -> str:
        return self.gateway.url

    @property
    def emulator_url(self) -> str:
        return str(self.emulator.base_url)

    @property
    def shopify_admin_url(self) -> str | None:
        return self.shopify.url if self.shopify is not None else None

    @classmethod
    def start(
        cls,
        *,
        api_port: int = 0,
        emulator_port: int = 0,
        moto_port: int = 0,
        parameters: dict[str, Any] | None = None,
        function_environment: dict[str, str] | None = None,
        reporter: Reporter | None = None,
        poll: bool = True,
        schedules: bool = True,
        rules: Path | None = None,
        state_file: Path | None = None,
        era: str | None = None,
        applications: bool = False,
        shopify_port: int = 0,
    ) -> LocalStack:
        """The stack; with `applications`, two Talon.One applications (local/applications.py). The Shopify
        Admin stand-in on `shopify_port` (0: any free one) takes the loyalty write-back."""
        from local.emulator import Emulator
        from local.emulator.loyalty import DEFAULT_ERA

        global _running
        if _running is not None:
            raise RuntimeError(f"a local stack is already running in this process ({_running.api_url}); stop it first")
        spec = read_stack()
        # The answer shape of an era of Talon.One: today's loyalty ledgers unless asked for the May 2019
        # balances (era="2019", or TALON_EMULATOR_ERA=2019)
        era = era or os.environ.get("TALON_EMULATOR_ERA") or DEFAULT_ERA
        emulator = Emulator(
            rules=rules, api_keys={LOCAL_API_KEY}, state_file=state_file, era=era, application="default"
        )
        second: SecondApplication | None = None
        started: list[Any] = []
        saved: dict[str, str | None] = {}
        try:
            talon_url = emulator.start(host="127.0.0.1", port=emulator_port)
            started.append(emulator)
            shopify = ShopifyAdminServer(port=shopify_port).start()
            started.append(shopify)
            server, endpoint = start_moto(moto_port or free_port())
            aws = LocalAws(endpoint=endpoint, server=server)
            started.append(aws)
            saved = export_environment(endpoint)
            reset_layer_state()
            if applications:
                second = start_second(aws, emulator, rules=rules, era=era)  # the same emulator process
            resolver = seed(
                aws,
                spec,
                talon_base_url=talon_url,
                talon_api_key=LOCAL_API_KEY,
                parameters={**LOCAL_PARAMETERS, **(second.parameters() if second else {}), **(parameters or {})},
            )
            _shop_token(aws)
            extension, extension_env = _start_extension(resolver, endpoint)
            if extension is not None:
                started.append(extension)
            gateway = Gateway(
                spec,
                aws,
                resolver,
                extra_environment={
                    **LOCAL_FUNCTION_ENV,
                    "SHOPIFY_ADMIN_URL": shopify.graphql_url(),
                    **extension_env,
                    **(function_environment or {}),
                },
                reporter=reporter,
            )
            gateway.start(api_port, poll=poll, schedules=schedules)
        except BaseException:
            for item in reversed(started):
                item.stop()
            restore_environment(saved)
            reset_layer_state()
            raise
        _running = cls(spec, emulator, aws, gateway, saved, extension, second, shopify)
        return _running

    def stop(self) -> None:
        global _running
        self.gateway.stop()
        if self.extension is not None:
            self.extension.stop()
        self.aws.stop()
        self.emulator.stop()  # (with every application it serves)
        if self.shopify is not None:
            self.shopify.stop()
        restore_environment(self.saved_environment)
        self.saved_environment = {}
        reset_layer_state()
        if _running is self:
            _running = None

    def __enter__(self) -> LocalStack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def queue_url(self, logical_id: str) -> str:
        return self.aws.queue_urls[logical_id]

    def describe(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "api_url": self.api_url,
            "emulator_url": self.emulator_url,
            "aws_endpoint": self.aws.endpoint,
            "queues": self.aws.queue_urls,
            "secret_arn": self.aws.secret_arn,
            "caller_auth": self.gateway.resolver.parameters.get("CallerAuthentication"),
            "caller_signing_secret_arn": self.aws.secret_arns.get("CallerSigningSecret"),
            "caller_api_keys_secret_arn": self.aws.secret_arns.get("CallerApiKeysSecret"),
            "shopify_webhook_secret_arn": self.aws.secret_arns.get("ShopifyWebhookSecret"),
            # the way back (docs/events.md): Talon.One's notifications' secret header, the Shopify Admin stand-in
            "talon_one_webhook_secret_arn": self.aws.secret_arns.get("TalonOneWebhookSecret"),
            "shopify_admin_url": self.shopify_admin_url,
            "shop_domain": self.gateway.resolver.parameters.get("ShopifyShopDomain") or None,
            "event_bus_name": self.gateway.resolver.resolve({"Ref": "RelayEventBus"}),
            "api_key": self.gateway.api_key,
            "secrets_extension_port": self.extension.port if self.extension is not None else None,
            # each application's name: its emulator and relay caller key (docs/applications.md)
            "applications": {
                "default": {
                    "emulator_url": self.emulator_url,
                    "emulator_admin": admin_url(self.emulator_url, "default"),
                    "caller_key": None,  # read from CallerApiKeysSecret (local.demo.caller_api_key)
                    "caller_api_keys_secret_arn": self.aws.secret_arns.get("CallerApiKeysSecret"),
                    "signing_secret_arn": self.aws.secret_arns.get("CallerSigningSecret"),
                },
                **({self.second.name: self.second.describe()} if self.second else {}),
            },
        }

    def write_state(self, path: Path = STACK_FILE) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.describe(), indent=2))


def _shop_token(aws: LocalAws) -> None:
    """The stand-in's Admin API token in ShopifyAdminTokenSecret, as the operator writes the shop's."""
    arn = aws.secret_arns.get("ShopifyAdminTokenSecret")
    if arn:
        aws.client("secretsmanager").put_secret_value(
            SecretId=arn, SecretString=json.dumps({"accessToken": ADMIN_TOKEN})
        )


def _start_extension(resolver: Any, aws_endpoint: str) -> tuple[SecretsExtension | None, dict[str, str]]:
    """The secrets extension's stand-in when the template adds the extension (SecretsExtension), and
    what the functions then get: its port instead of Lambda's 2773, and a session token.

    It reads moto afresh on every request (no cache of its own): tests and `make run` change secrets
    between calls, and the relay's own cache (TALON_SECRET_MAX_AGE) is what is under test.
    """
    if not resolver.condition("SecretsExtensionEnabled"):
        return None, {}
    from talon_relay.aws.secret_values import PORT_VARIABLE

    extension = SecretsExtension(aws_endpoint, token=LOCAL_SESSION_TOKEN, ttl=0)
    port = extension.start()
    return extension, {PORT_VARIABLE: str(port), "AWS_SESSION_TOKEN": LOCAL_SESSION_TOKEN}


def running_stack(path: Path = STACK_FILE) -> dict[str, Any] | None:
    """The stack started by `make run`, if one is running (its state file names a live pid)."""
    try:
        info: dict[str, Any] = json.loads(path.read_text())
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError):
        return None
    return info
