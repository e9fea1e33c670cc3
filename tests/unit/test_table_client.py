"""The relay's DynamoDB client without boto3 signs exactly as botocore signs (SigV4), and speaks boto3's shapes."""

from __future__ import annotations

import datetime
import json

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from talon_relay.aws import table_client
from talon_relay.container import Container

MOMENT = 1_796_400_000.0  # a fixed instant (2026-12-04)


@pytest.mark.parametrize("target", ["PutItem", "TransactWriteItems", "BatchWriteItem"])
@pytest.mark.parametrize(("token", "earlier"), [("session-token-1", None), (None, None), (None, MOMENT - 86_400)])
def test_a_call_is_signed_exactly_as_botocore_signs_it(
    token: str | None, earlier: float | None, target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the light client of a function in eu-west-1 and a PutItem body
    client = table_client.TableClient(
        Container({}), url="https://dynamodb.eu-west-1.amazonaws.com", region="eu-west-1",
        key_id="AKIDEXAMPLE", secret="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token=token,
    )  # fmt: skip
    body = json.dumps({"TableName": "t", "Item": {"id": {"S": "a"}}}).encode()
    if earlier is not None:  # and it signed a call the day before (its signing key is the day's, kept)
        client._headers("GetItem", body, earlier)
    # When it signs the call at a fixed moment, and botocore signs the same request at that moment
    headers = client._headers(target, body, MOMENT)
    request = AWSRequest(
        method="POST",
        url="https://dynamodb.eu-west-1.amazonaws.com/",
        data=body,
        headers={k: v for k, v in headers.items() if k not in ("authorization", "x-amz-date", "x-amz-security-token")},
    )
    moment = datetime.datetime.fromtimestamp(MOMENT, datetime.UTC).replace(tzinfo=None)
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: moment)
    SigV4Auth(
        Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token), "dynamodb", "eu-west-1"
    ).add_auth(request)
    # Then both carry the same Authorization (and date, and token)
    assert headers["authorization"] == request.headers["Authorization"]
    assert headers["x-amz-date"] == request.headers["X-Amz-Date"]
    assert headers.get("x-amz-security-token") == request.headers.get("X-Amz-Security-Token")


def test_binary_values_travel_as_base64_and_come_back_as_bytes() -> None:
    # Given a part item's binary data as boto3 takes it
    params = {"Item": {"data": {"B": b"\x00\xffparts"}, "list": {"L": [{"B": b"x"}]}}}
    # When encoded for DynamoDB's JSON, and an answer decoded
    encoded = table_client._encode(params)
    decoded = table_client._decode(encoded)
    # Then the wire holds base64 text and the caller gets the bytes back
    assert json.loads(encoded)["Item"]["data"]["B"] == "AP9wYXJ0cw=="
    assert decoded == params


def test_without_credentials_in_the_environment_the_sdk_client_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an environment restored from a SnapStart snapshot (credentials from a container endpoint)
    container = Container({"AWS_REGION": "us-east-1"})
    sentinel = object()
    monkeypatch.setattr(container, "aws", lambda service: sentinel)
    # When the table's client is made
    # Then it is boto3's, which finds them
    assert table_client.client(container) is sentinel
    # And with credentials in the environment it is the light one, pointed at AWS_ENDPOINT_URL
    env = {
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    }
    light = table_client.client(Container(env))
    assert isinstance(light, table_client.TableClient)
    assert light._url == "http://127.0.0.1:9/"


def test_after_a_container_reset_calls_go_to_the_new_pool_manager() -> None:
    # Given the light client of a container, which has sent to DynamoDB's host once
    container = Container({})
    client = table_client.TableClient(
        container, url="http://127.0.0.1:9", region="us-east-1", key_id="k", secret="s", token=None
    )
    before = client._host_pool()
    # When the container is reset (its pool managers cleared: their pools closed)
    container.reset()
    after = client._host_pool()
    # Then the host's pool is the new manager's, open, for the same host
    assert after is not before
    assert after is container.http("dynamodb").connection_from_url("http://127.0.0.1:9/")
    assert (after.host, after.port) == ("127.0.0.1", 9)
