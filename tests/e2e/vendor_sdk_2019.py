# mypy: ignore-errors
"""A 2019 integration of Talon.One, written with the vendor's Python SDK of September 2019
(talon_one.py 2.0.0), calling the relay instead: `python vendor_sdk_2019.py API_URL CALLER_KEY RUN`.

Run by tests/e2e/test_vendor_sdk_2019.py in a throw-away venv that holds that SDK (not on PyPI; it has
the same package name as today's talon-one-sdk, so it cannot share the project's venv). Only the host
and the key differ from a 2019 integration. It calls the v1 operations the SDK has and prints one JSON
document: the class of each typed answer and what it read from them; any answer the SDK's models cannot
deserialize raises (a non-zero exit, the traceback on stderr).
"""

import json
import sys

import talon_one


def main(api_url: str, key: str, run: str) -> dict:
    configuration = talon_one.Configuration()
    configuration.host = api_url
    configuration.api_key["Authorization"] = key
    configuration.api_key_prefix["Authorization"] = "ApiKey-v1"
    api = talon_one.IntegrationApi(talon_one.ApiClient(configuration))
    profile, friend, session = f"ada-{run}", f"bob-{run}", f"cart-{run}"
    report = {"sdk": talon_one.Configuration().to_debug_report().splitlines()[-1].strip()}

    profile_state = api.update_customer_profile(profile, talon_one.NewCustomerProfile(attributes={"tier": "gold"}))
    report["update_customer_profile"] = {
        "type": type(profile_state).__name__,
        "integration_id": profile_state.profile.integration_id,
    }

    camera = talon_one.CartItem(name="Camera", sku="SKU-CAMERA", quantity=1, price=120.0)
    session_state = api.update_customer_session(
        session,
        talon_one.NewCustomerSession(profile_id=profile, coupon="WELCOME10", state="open", cart_items=[camera]),
    )
    report["update_customer_session"] = {
        "type": type(session_state).__name__,
        "session_type": type(session_state.session).__name__,
        "integration_id": session_state.session.integration_id,
        "effects": [effect[3][0] for effect in session_state.event.effects],
    }

    event_state = api.track_event(
        talon_one.NewEvent(profile_id=profile, session_id=session, type="purchase", attributes={})
    )
    programs = event_state.loyalty.programs if event_state.loyalty else {}
    report["track_event"] = {
        "type": type(event_state).__name__,
        "effects": [effect[3][0] for effect in event_state.event.effects],
        "loyalty": {
            program: {"type": type(ledgers).__name__, "title": ledgers.title, "balance": ledgers.ledger.current_balance}
            for program, ledgers in programs.items()
        },
    }

    referral = api.create_referral(talon_one.NewReferral(campaign_id=3, advocate_profile_integration_id=profile))
    report["create_referral"] = {"type": type(referral).__name__, "code": referral.code}

    api.update_customer_profile(friend, talon_one.NewCustomerProfile(attributes={}))
    report["delete_customer_data"] = {"answer": api.delete_customer_data(friend)}
    return report


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4])))
