"""Everything one Lambda container keeps between invocations, in one object.

A Lambda container is one process that serves one invocation at a time and keeps whatever the code
made: settings read from its environment, the HTTP pool to Talon.One, AWS clients, secrets read, reads
kept a few seconds (the read cache), the Talon.One client, the thread pool of SQS batches, the counters
of the running invocation. Here they all live on one `Container`, built once where the handler is made
(`entry.lambda_handler`) and passed down to whatever needs it, so nothing per-container hides in a module
global or a context variable, and one `reset` forgets it all: what a SnapStart restore needs
(`snapstart.after_restore`), and what a test or the local gateway does when it starts a container afresh.

Module-level caches elsewhere in the layer hold only what is computed from the code itself (validators
compiled from the shipped schemas, the operation table), the same in every container; never anything
read from the environment, the network or AWS.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from talon_relay.config.applications import DEFAULT, Application, Applications, load_applications
from talon_relay.config.settings import Settings, load_settings
from talon_relay.telemetry import Counts

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    import urllib3

T = TypeVar("T")


class SecretReader(Protocol):
    def __call__(self, container: Container, secret_id: str, *, max_age: int, force: bool) -> Any: ...


class Container:
    """One Lambda container's state (see the module docstring); thread-safe."""

    def __init__(self, environ: Mapping[str, str] | None = None, *, clock: Callable[[], float] | None = None) -> None:
        #: The environment the container started with (a Lambda container's never changes).
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        #: The container's monotonic clock, in seconds (a test gives a fake one): the read cache's ages.
        self.clock: Callable[[], float] = clock or time.monotonic
        #: Reads kept (core/read_cache.py): key -> (clock time kept, answer text); oldest first.
        self.read_cache: dict[tuple[str, ...], tuple[float, str]] = {}
        #: The characters of those answers, all together (kept as answers come and go, not summed per read).
        self.read_cache_chars = 0
        #: The counters of the invocation running now (telemetry): one invocation at a time.
        self.counts = Counts()
        #: Secrets read: secret id -> (monotonic time read, JSON value) (aws.secret_values).
        self.secrets: dict[str, tuple[float, Any]] = {}
        #: The secrets extension refused a connection: this environment has none.
        self.no_secrets_extension = False
        self._lock = threading.RLock()
        self._settings: Settings | None = None
        self._applications: Applications | None = None
        self._made: dict[str, Any] = {}
        self._http: dict[str, urllib3.PoolManager] = {}
        self._batch_pool: ThreadPoolExecutor | None = None

    def settings(self) -> Settings:
        """The container's settings: its environment, read and validated on first use, then kept
        (SettingsError names what is wrong, on every call until the environment is fixed)."""
        current = self._settings
        if current is None:
            current = self._settings = load_settings(self.environ)
        return current

    def applications(self) -> Applications:
        """The deployment's Talon.One applications (TALON_APPLICATIONS beside the environment's own
        `default`), validated on first use, then kept; SettingsError names the setting at fault."""
        current = self._applications
        if current is None:
            cfg = self.settings()
            default = Application(
                name=DEFAULT,
                talon_secret_arn=cfg.talon_secret_arn,
                caller_keys_secret_arn=cfg.caller_api_keys_secret_arn,
                signing_secret_arn=cfg.caller_signing_secret_arn,
            )
            current = self._applications = load_applications(cfg.talon_applications, default)
        return current

    def once(self, name: str, make: Callable[[], T]) -> T:
        """The container's `name`, made by `make` on first use (the Talon.One client, AWS clients,
        the idempotency store, mapping files...); made once even when batch threads ask together."""
        try:
            return self._made[name]  # type: ignore[no-any-return]
        except KeyError:
            pass
        with self._lock:
            if name not in self._made:
                self._made[name] = make()
            return self._made[name]  # type: ignore[no-any-return]

    def secret(self, secret_id: str, *, max_age: int, force: bool = False, read: SecretReader) -> Any:
        """A secret's value as read within `max_age` seconds (the same object while it is kept, so a
        new value is told by identity), else (or when `force`d: a key may have been rotated) what
        `read` (`aws.secret_values.read_secret`) reads now, kept from then on."""
        if not force:
            hit = self.secrets.get(secret_id)
            if hit is not None and time.monotonic() - hit[0] < max_age:
                return hit[1]
        value = read(self, secret_id, max_age=max_age, force=force)
        self.secrets[secret_id] = (time.monotonic(), value)
        return value

    def aws(self, service: str) -> Any:
        """The container's boto3 client of `service` (boto3 is imported on the first one; the
        AWS_ENDPOINT_URL of the container's environment is honoured, as boto3 does)."""

        def make() -> Any:
            import boto3

            endpoint = self.environ.get("AWS_ENDPOINT_URL") or None
            # boto3's default session is not thread-safe while it creates a client: `once` holds the lock
            return boto3.client(service, endpoint_url=endpoint)  # type: ignore[call-overload]

        return self.once(f"aws:{service}", make)

    def http(self, name: str = "talon-one", *, maxsize: int = 16) -> urllib3.PoolManager:
        """The container's HTTP pool `name` (Talon.One's, the secrets extension's): thread-safe, kept
        alive between invocations, sized for concurrent batch processing."""
        pool = self._http.get(name)
        if pool is None:
            import urllib3

            with self._lock:
                pool = self._http.get(name)
                if pool is None:
                    pool = self._http[name] = urllib3.PoolManager(num_pools=4, maxsize=maxsize, block=False)
        return pool

    def batch_pool(self, workers: int) -> ThreadPoolExecutor:
        """The thread pool that runs a batch's message groups side by side (imported here: an API request's
        cold start has no batch, and concurrent.futures is about a millisecond of it)."""
        from concurrent.futures import ThreadPoolExecutor

        with self._lock:
            if self._batch_pool is None:
                self._batch_pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="group")
            return self._batch_pool

    def reset(self, environ: Mapping[str, str] | None = None) -> None:
        """Forget everything: connections closed, secrets and clients dropped, settings read again
        (from `environ` when given), the batch pool stopped (the next batch starts another)."""
        with self._lock:
            if environ is not None:
                self.environ = environ
            http, self._http = list(self._http.values()), {}
            pool, self._batch_pool = self._batch_pool, None
            self._settings = None
            self._applications = None
            self._made.clear()
            self.secrets.clear()
            self.read_cache.clear()
            self.read_cache_chars = 0
            self.no_secrets_extension = False
            self.counts = Counts()
        for connections in http:
            connections.clear()
        if pool is not None:
            pool.shutdown(wait=True)  # idle between invocations: its threads end at once
        forget_shared_caches()


def forget_shared_caches() -> None:
    """Powertools parameters keep their own cache and boto3 clients in the process (the fallback
    path of secrets): forgotten with every reset, and by a process that changes AWS endpoints."""
    import sys

    if "aws_lambda_powertools.utilities.parameters" in sys.modules:  # never imported just to be cleared
        from aws_lambda_powertools.utilities import parameters

        parameters.clear_caches()  # type: ignore[no-untyped-call]
        parameters.base.DEFAULT_PROVIDERS.clear()  # type: ignore[attr-defined]
