"""The local stack's second Talon.One application (docs/applications.md): served by the same emulator process
as the first, with its own key, rules and data (the emulator's request log names the application each request
reached), its secrets in moto, and the Applications document that binds it.

`make run` serves two applications: `default` (EUR orders of the demo shop) and `us` (USD orders of the
same shop), both from the one emulator. The tests start one application unless
they ask for two (`LocalStack.start(applications=True)`).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.shopify_admin import SHOP_DOMAIN

SECOND = "us"
SECOND_TALON_KEY = "local-talon-api-key-us"  # the second application's key; not a secret of anyone's


def admin_url(emulator_url: str, application: str) -> str:
    """An application's own admin interface on the emulator (its requests, state, faults, rules)."""
    return f"{emulator_url}/_emulator/applications/{application}"


@dataclass
class SecondApplication:
    name: str
    emulator: Any
    talon_secret_arn: str
    caller_keys_secret_arn: str
    signing_secret_arn: str
    caller_key: str

    def parameters(self) -> dict[str, str]:
        """The template parameters that add it (Applications, ApplicationSecretArns)."""
        document = {
            "applications": [
                {"name": "default", "shops": [{"domain": SHOP_DOMAIN}]},  # all but USD: carts, customers too
                {
                    "name": self.name,
                    "talonSecretArn": self.talon_secret_arn,
                    "callerKeysSecretArn": self.caller_keys_secret_arn,
                    "signingSecretArn": self.signing_secret_arn,
                    "shops": [{"domain": SHOP_DOMAIN, "currencies": ["USD"]}],
                },
            ]
        }
        arns = (self.talon_secret_arn, self.caller_keys_secret_arn, self.signing_secret_arn)
        return {"Applications": json.dumps(document), "ApplicationSecretArns": ",".join(arns)}

    def describe(self) -> dict[str, Any]:
        return {
            "emulator_url": str(self.emulator.base_url),
            "emulator_admin": admin_url(str(self.emulator.base_url), self.name),
            "caller_key": self.caller_key,
            "caller_api_keys_secret_arn": self.caller_keys_secret_arn,
            "signing_secret_arn": self.signing_secret_arn,
        }


def start_second(aws: Any, host: Any, *, rules: Path | None, era: str) -> SecondApplication:
    """It served by the stack's emulator `host` (the same address, its own key), and its three secrets in moto
    (the caller key and the signing secret generated, as the template generates the default's)."""
    emulator = host.add_application(SECOND, api_keys={SECOND_TALON_KEY}, rules=rules, era=era)
    url = str(host.base_url)
    client = aws.client("secretsmanager")
    caller_key = secrets.token_hex(24)
    values = {
        "talon": {"baseUrl": url, "apiKey": SECOND_TALON_KEY},
        "caller-keys": {"current": caller_key},
        "signing": {"current": secrets.token_hex(24)},
    }
    arns = {}
    for kind, value in values.items():
        name = f"talon-relay/{SECOND}-{kind}"
        try:
            arns[kind] = client.create_secret(Name=name, SecretString=json.dumps(value))["ARN"]
        except client.exceptions.ResourceExistsException:
            arns[kind] = client.put_secret_value(SecretId=name, SecretString=json.dumps(value))["ARN"]
        aws.secret_arns[f"{SECOND}:{kind}"] = arns[kind]  # deleted with the stack's own
    return SecondApplication(SECOND, emulator, arns["talon"], arns["caller-keys"], arns["signing"], caller_key)
