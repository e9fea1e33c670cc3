"""The local stack reads secrets as a deployed one does: through the Parameters and Secrets extension's
endpoint (local/extension.py, moto behind it) when SecretsExtension is enabled, else through boto3."""

from __future__ import annotations

import pytest

from local.stack import LocalStack
from tests.e2e.helpers import FUNCTION_ENVIRONMENT, PARAMETERS, Http

pytestmark = pytest.mark.e2e

SESSION_BODY = {"profileId": "ext-p-1", "coupon": "WELCOME10"}


def test_functions_read_their_secrets_through_the_extension(stack: LocalStack, http: Http) -> None:
    # Given the stack as the template deploys it (SecretsExtension enabled), each function freshly started
    assert stack.extension is not None
    for function in stack.gateway.functions.values():
        function.retire_idle()
    before = stack.extension.stats.requests
    # When a signed request reaches a function (it reads the signing secret, then the Talon.One secret)
    answer = http.relay("PUT", "/v1/customer_sessions/ext-s-1", SESSION_BODY)
    # Then it was served, and both secrets came through the extension with the session token
    assert answer.status == 200, answer.data
    assert stack.extension.stats.requests - before == 2
    assert stack.extension.stats.refused == 0


def test_without_the_extension_the_functions_read_through_the_sdk(no_shared_stack: None) -> None:
    # Given a stack deployed with SecretsExtension=disabled
    stack = LocalStack.start(
        parameters={**PARAMETERS, "SecretsExtension": "disabled"}, function_environment=FUNCTION_ENVIRONMENT
    )
    http = Http(stack)
    try:
        # Then no extension runs, and requests are served all the same (boto3 reads the secrets)
        assert stack.extension is None
        assert stack.describe()["secrets_extension_port"] is None
        answer = http.relay("PUT", "/v1/customer_sessions/ext-s-2", SESSION_BODY)
        assert answer.status == 200, answer.data
    finally:
        http.close()
        stack.stop()
