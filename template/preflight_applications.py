"""`make deploy`'s preflight of the Applications document (docs/applications.md): what every function would
refuse at its start is refused before the deploy, with the same message naming the setting.

The document is validated by the layer's own records (`talon_relay.config.applications`), with the
`default` application the stack's parameters give (TalonSecretArn, the caller keys secret the stack
creates, CallerSigningSecretArn or the signing secret it creates), so the preflight and the functions
never disagree. Beyond what a function can see, the template parameters around the document:
ApplicationSecretArns must hold every secret the document names (IAM denies the others' reads), and
AlarmApplications may name only known applications, at most MAX_APPLICATIONS of them.
"""

from __future__ import annotations

from collections.abc import Mapping

from talon_relay.config.applications import DEFAULT, Application, load_applications
from talon_relay.errors import SettingsError
from template.application_alarms import MAX_APPLICATIONS

#: Stand-ins for the secrets the stack creates (their ARNs exist only once deployed): never in a document.
CREATED_CALLER_KEYS = "<the stack's CallerApiKeysSecret>"
CREATED_SIGNING = "<the stack's CallerSigningSecret>"


def _default(values: Mapping[str, str]) -> Application:
    """The `default` application as the stack's parameters make it."""
    return Application(
        name=DEFAULT,
        talon_secret_arn=values.get("TalonSecretArn") or None,
        caller_keys_secret_arn=CREATED_CALLER_KEYS,
        signing_secret_arn=values.get("CallerSigningSecretArn") or CREATED_SIGNING,
    )


def _listed(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def problems(values: Mapping[str, str], where: str) -> list[str]:
    """What is wrong with the Applications document and the parameters around it, each naming its setting."""
    document = values.get("Applications", "")
    try:
        apps = load_applications(document, _default(values))
    except SettingsError as exc:
        detail = str(exc).removeprefix("invalid function configuration: ")
        return [f"Applications (the functions' TALON_APPLICATIONS) is refused: {detail}; fix it in {where}"]
    found: list[str] = []
    granted = set(_listed(values.get("ApplicationSecretArns", "")))
    for app in apps.by_name.values():
        if app.name == DEFAULT:
            continue  # the environment's: the template grants them
        for arn in (app.talon_secret_arn, app.caller_keys_secret_arn, app.signing_secret_arn):
            if arn and arn not in granted:
                found.append(
                    f"ApplicationSecretArns lacks {arn}, a secret of application {app.name!r} in Applications: "
                    f"IAM would deny every function its read; add it to ApplicationSecretArns in {where}"
                )
    watched = _listed(values.get("AlarmApplications", ""))
    for name in watched:
        if apps.get(name) is None:
            found.append(
                f"AlarmApplications names unknown application {name!r} (known: {', '.join(apps.by_name)}): "
                f"its alarms would watch a metric no function writes; fix it in {where}"
            )
    if len(watched) > MAX_APPLICATIONS:
        found.append(
            f"AlarmApplications names {len(watched)} applications; the template has alarm slots for "
            f"{MAX_APPLICATIONS}: the rest would have none; shorten it in {where}"
        )
    return found
