"""`Emulator`: the facade that starts, stops, configures and persists the Talon.One emulator.

One process may serve several Talon.One applications (`add_application`): each has its own Integration API
key, rules, data, faults and settings, as Talon.One's applications do; a request reaches the application
whose key it carries, and the one request log names the application each request reached (`/_emulator/requests`:
all of them; `/_emulator/applications/<name>/...`: one application's admin interface, its requests only).

The work is done elsewhere: `api` serves the Integration API (with `requestlog`, `faults`, `auth`,
`validation`, and the table `operations`: each operation's route and handler, the handlers in `v1` and
`v2` over the `state.Backend`), `admin` the `/_emulator/` interface, `http` the sockets.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from local.emulator import admin
from local.emulator.api import IntegrationApi
from local.emulator.auth import Credentials
from local.emulator.errors import ApiError
from local.emulator.faults import MAX_DELAY, FaultSpec
from local.emulator.headers import header
from local.emulator.http import EmulatorHTTPServer, Reply, error_reply, loopback_address
from local.emulator.jsonio import dumps, loads_strict
from local.emulator.loyalty import DEFAULT_ERA, Era, check_era
from local.emulator.rules import RulesConfig, load_rules
from local.emulator.state import Backend
from local.emulator.store import Store

logger = logging.getLogger("local.emulator")


class Emulator:
    """A stateful Talon.One Integration API (v1 of 2019, v2 of today) on a loopback port.

    >>> emu = Emulator(api_keys={"key"}, applications={12: "a1b2"})
    >>> base_url = emu.start()          # http://127.0.0.1:<free port>
    >>> emu.stop()
    """

    def __init__(
        self,
        rules: RulesConfig | Mapping[str, Any] | str | Path | None = None,
        *,
        api_keys: Iterable[str] | Mapping[str, int] = (),
        applications: Mapping[int | str, str] | None = None,
        state_file: str | Path | None = None,
        bad_signature_status: int = 401,
        clock: Callable[[], datetime] | None = None,
        code_factory: Callable[[], str] | None = None,
        max_log: int = 10_000,
        era: str = DEFAULT_ERA,
        monotonic: Callable[[], float] = time.monotonic,
        application: str | None = None,
    ) -> None:
        #: The application of the relay's deployment it stands for: named in each request log entry.
        self.application = application
        self._rules = load_rules(rules)
        self._backend = Backend(self._rules, clock=clock, code_factory=code_factory)
        self._lock = threading.RLock()
        self._credentials = Credentials(self._rules.application_id, bad_signature_status=bad_signature_status)
        self.set_keys(api_keys=api_keys, applications=applications or {})
        self.state_file = Path(state_file) if state_file is not None else None
        self._stopping = threading.Event()
        self._api = IntegrationApi(
            self._backend,
            self._credentials,
            lock=self._lock,
            on_change=self.save,
            stopping=self._stopping,
            max_log=max_log,
            monotonic=monotonic,
            pause=self.pause,
        )
        self._api.era = check_era(era)
        self._api.application = application
        #: the other applications this process serves, by name (add_application); the host of one of them
        self._applications: dict[str, Emulator] = {}
        self._host: Emulator | None = None
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url: str | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on host:port (0 = a free port); returns the base URL. Loopback hosts only."""
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        address = loopback_address(host)
        self.load()
        self._stopping.clear()
        server = EmulatorHTTPServer((address, port), self)
        self._server = server
        bound_port = server.server_address[1]
        shown = f"[{address}]" if ":" in address else address
        self.base_url = f"http://{shown}:{bound_port}"
        for other in self._applications.values():
            other.base_url = self.base_url
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"talon-emulator-{bound_port}",
            daemon=True,
        )
        self._thread.start()
        logger.info("Talon.One emulator listening on %s", self.base_url)
        return self.base_url

    def stop(self) -> None:
        """Stop serving, close every connection, join every thread, save the state file."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        server.join_handlers(timeout=5.0)
        if thread is not None:
            thread.join(timeout=5.0)
        self._server = self._thread = None
        self.base_url = None
        for other in self._applications.values():
            other.base_url = None
        self.save()
        logger.info("Talon.One emulator stopped")

    @property
    def running(self) -> bool:
        return self._server is not None

    def pause(self, seconds: float) -> bool:
        """Wait `seconds` (a delay fault, the latency setting); stop() cuts the wait short (then True).
        A test's subclass may wait otherwise, e.g. on a fake clock."""
        return self._stopping.wait(seconds)

    def __enter__(self) -> Emulator:
        if not self.running:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- several applications in one process --------------------------------------------------

    def add_application(
        self,
        name: str,
        *,
        api_keys: Iterable[str] | Mapping[str, int],
        rules: RulesConfig | Mapping[str, Any] | str | Path | None = None,
        era: str | None = None,
    ) -> Emulator:
        """Serve another Talon.One application from this process: its own API keys, rules (None: the
        default rules) and data. Returns it (its faults, state, requests and settings are its own);
        it shares this emulator's address and request log, and starts and stops with it."""
        if self._host is not None:
            raise ValueError("an added application cannot host another; add it to the first emulator")
        if name in self._applications or name == self.application or not name:
            raise ValueError(f"application {name!r} is served already (or has no name)")
        other = Emulator(rules=rules, api_keys=api_keys, era=era or self.era, application=name)
        other._host = self
        other._api.log = self._api.log  # one log, each entry naming its application
        other.base_url = self.base_url
        self._applications[name] = other
        return other

    def applications(self) -> list[str]:
        """The names of the applications this process serves, its own first (unnamed: none)."""
        return [name for name in (self.application, *self._applications) if name]

    def _reached(self, headers: Mapping[str, str]) -> Emulator:
        """The application whose Integration API key the request carries (else this one, which refuses
        it as Talon.One does)."""
        if self._applications:
            authorization = header(headers, "Authorization")
            for other in self._applications.values():
                if other._credentials.holds(authorization):
                    return other
        return self

    def _admin_target(self, raw_path: str) -> tuple[admin.Target | None, str]:
        """`/_emulator/applications/<name>/<rest>`: that application's admin interface at `/_emulator/<rest>`."""
        prefix = "/_emulator/applications/"
        if not raw_path.startswith(prefix):
            return self, raw_path
        name, _, rest = raw_path.removeprefix(prefix).partition("/")
        target: admin.Target | None = self._applications.get(name)
        if target is None and name and name == self.application:
            target = _OwnApplication(self)
        return target, f"/_emulator/{rest}"

    # --- HTTP entry points (called by the request handler threads) -------------------------

    def serve_api(self, method: str, raw_path: str, query: str, headers: Mapping[str, str], body: bytes) -> Reply:
        return self._reached(headers)._api.serve(method, raw_path, query, headers, body)

    def serve_admin(self, method: str, raw_path: str, body: bytes) -> Reply:
        target, path = self._admin_target(raw_path)
        if target is None:
            known = ", ".join(self.applications()) or "none"
            error = ApiError(404, f"No such application: {raw_path} (served: {known})", title="Not found")
            return error_reply(error)
        return admin.serve_admin(target, method, path, body)

    # --- state, persistence ----------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Profiles, sessions, events, referrals and counters (GET /_emulator/state)."""
        with self._lock:
            dump: dict[str, Any] = json.loads(dumps(self._backend.store.to_json()))
            return dump

    def load(self) -> None:
        """Read the state file, if there is one (done by start())."""
        if self.state_file is None or not self.state_file.exists():
            return
        data = loads_strict(self.state_file.read_text(encoding="utf-8"))
        with self._lock:
            self._backend.store = Store.from_json(data)

    def save(self) -> None:
        """Write the state file atomically (done after every change and by stop())."""
        if self.state_file is None:
            return
        with self._lock:
            text = dumps(self._backend.store.to_json(), indent=1, sort_keys=True)
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".emulator-", dir=self.state_file.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(text)
                os.replace(tmp, self.state_file)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise

    def reset(self) -> None:
        """Forget all state, the request log and the queued faults (keys, rules, settings stay); of every
        application this process serves (an added application's reset: its own)."""
        self._reset_own()
        for other in self._applications.values():
            other.reset()
        self.clear_requests()

    def _reset_own(self) -> None:
        with self._lock:
            self._backend.store = Store()
        self.clear_faults()
        self.reset_concurrency()
        self.save()

    # --- configuration ---------------------------------------------------------------------

    def set_keys(
        self,
        api_keys: Iterable[str] | Mapping[str, int] | None = None,
        applications: Mapping[int | str, str] | None = None,
    ) -> None:
        """Replace the accepted API keys and/or application keys (None leaves one as it is).

        `api_keys`: keys, or key -> applicationId; `applications`: applicationId -> hex key.
        """
        self._credentials.set_keys(api_keys=api_keys, applications=applications)

    def keys_summary(self) -> dict[str, Any]:
        """{"apiKeys": how many, "applications": [ids]} (never a key)."""
        return self._credentials.summary()

    def set_rules(self, rules: RulesConfig | Mapping[str, Any] | str | Path) -> None:
        """Replace the campaign rules; state is kept."""
        loaded = load_rules(rules)
        with self._lock:
            self._rules = loaded
            self._backend.rules = loaded
            self._credentials.default_application_id = loaded.application_id

    @property
    def rules(self) -> RulesConfig:
        return self._rules

    @property
    def era(self) -> Era:
        """Shape of v1 answers: "2019" (LoyaltyProgramBalance) or "2026" (LoyaltyProgramLedgers)."""
        return self._api.era

    @era.setter
    def era(self, value: str) -> None:
        self._api.era = check_era(value)

    @property
    def bad_signature_status(self) -> int:
        """Status of a wrong Content-Signature: 401, or 400 as Talon.One answered in 2019."""
        return self._credentials.bad_signature_status

    @bad_signature_status.setter
    def bad_signature_status(self, value: int) -> None:
        self._credentials.bad_signature_status = value

    @property
    def latency_ms(self) -> float:
        """Milliseconds every Integration API request waits before it is served (a remote Talon.One's)."""
        return self._api.latency * 1000

    @latency_ms.setter
    def latency_ms(self, value: float) -> None:
        if not 0 <= value <= MAX_DELAY * 1000:
            raise ValueError(f"latency must be 0 to {MAX_DELAY * 1000:.0f} ms")
        self._api.latency = value / 1000

    def settings(self) -> dict[str, Any]:
        """GET /_emulator/settings: {"era", "badSignatureStatus", "latencyMs"}."""
        return {"era": self.era, "badSignatureStatus": self.bad_signature_status, "latencyMs": self.latency_ms}

    def set_settings(
        self, *, era: str | None = None, bad_signature_status: int | None = None, latency_ms: float | None = None
    ) -> None:
        """Change the given settings (None leaves one as it is)."""
        if era is not None:
            self.era = era
        if bad_signature_status is not None:
            self.bad_signature_status = bad_signature_status
        if latency_ms is not None:
            self.latency_ms = latency_ms

    # --- faults ----------------------------------------------------------------------------

    def inject_fault(
        self,
        *,
        count: int = 1,
        status: int | None = None,
        delay: float = 0.0,
        drop: bool = False,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        path: str | None = None,
        method: str | None = None,
        after: bool = False,
        seconds: float | None = None,
    ) -> dict[str, Any]:
        """Queue `count` faulty answers for matching Integration API requests (FIFO).

        status: answer that status (ErrorResponse body, or `body`) instead of processing;
        delay: sleep first (<= 30 s); drop: close the connection without an answer;
        after: process the request first (state changes), then delay/fail/drop the answer.
        path: raw path prefix filter; method: HTTP method filter.
        seconds: answer every matching request for this long instead of `count` of them (an outage).
        """
        spec = FaultSpec(
            count=count,
            status=status,
            delay=delay,
            drop=drop,
            body=body,
            headers=dict(headers) if headers is not None else None,
            path=path,
            method=method,
            after=after,
            seconds=seconds,
        )
        return self.add_fault(spec)

    def add_fault(self, spec: FaultSpec) -> dict[str, Any]:
        return self._api.faults.add(spec)

    def faults(self) -> list[dict[str, Any]]:
        return self._api.faults.list()

    def clear_faults(self) -> None:
        self._api.faults.clear()

    # --- concurrency -----------------------------------------------------------------------

    def concurrency(self) -> dict[str, int]:
        """Integration API requests in flight now and at most since the last reset: {"inFlight", "peak"}."""
        return self._api.concurrency.wire()

    def reset_concurrency(self) -> None:
        """Start the peak again from what is in flight now."""
        self._api.concurrency.reset()

    # --- request log -----------------------------------------------------------------------

    def requests(self) -> list[dict[str, Any]]:
        """The Integration API requests received, oldest first (no secrets), each naming the application it
        reached: of every application this process serves (an added application's: its own)."""
        return self._api.log.list(self.application if self._host is not None else None)

    def clear_requests(self) -> None:
        self._api.log.clear(self.application if self._host is not None else None)


class _OwnApplication:
    """The first application of an emulator serving several, addressed by its name: its admin interface,
    with its own requests only (the emulator's own `/_emulator/...` shows every application's)."""

    def __init__(self, host: Emulator) -> None:
        self._host = host

    def requests(self) -> list[dict[str, Any]]:
        return self._host._api.log.list(self._host.application)

    def clear_requests(self) -> None:
        self._host._api.log.clear(self._host.application)

    def reset(self) -> None:
        self._host._reset_own()
        self.clear_requests()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._host, name)
