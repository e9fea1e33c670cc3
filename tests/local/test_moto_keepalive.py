"""Local AWS keeps connections alive, as DynamoDB, SQS and Secrets Manager do (local/moto_keepalive.py).

moto's own server closed each connection after one answer; the relay's pools reuse theirs against AWS, so
locally too one connection carries many calls, and a request's body cannot be taken for the next request.
"""

from __future__ import annotations

import http.client
import json
import socket
import uuid

import pytest

from local.aws import LOCAL_AWS_ENV, create_relay_table, local_client, start_moto
from talon_relay.aws import table_client
from talon_relay.container import Container


def _port(endpoint: str) -> int:
    return int(endpoint.rsplit(":", 1)[1])


def test_the_relays_dynamodb_calls_share_one_connection(moto_endpoint: str) -> None:
    # Given the relay's own DynamoDB client (no boto3) pointed at local AWS, and a table
    table = create_relay_table(local_client("dynamodb", moto_endpoint), f"keepalive-{uuid.uuid4().hex[:8]}")
    container = Container({**LOCAL_AWS_ENV, "AWS_ENDPOINT_URL": moto_endpoint})
    client = table_client.client(container)
    assert isinstance(client, table_client.TableClient)
    pool = container.http("dynamodb").connection_from_url(moto_endpoint)
    assert pool.pool is not None
    # When it writes and reads ten items, noting after each call the TCP connection its pool keeps open
    answers, kept = [], []
    for n in range(10):
        client.put_item(TableName=table, Item={"id": {"S": f"item-{n}"}, "n": {"N": str(n)}})
        answers.append(client.get_item(TableName=table, Key={"id": {"S": f"item-{n}"}})["Item"])
        kept.append([conn.sock.getsockname() for conn in pool.pool.queue if conn is not None and conn.sock])
    # Then each answer is the item written, and all twenty calls went over one connection, still open
    assert answers == [{"id": {"S": f"item-{n}"}, "n": {"N": str(n)}} for n in range(10)]
    assert pool.num_requests == 20
    assert pool.num_connections == 1
    assert kept == [kept[0]] * 10
    assert len(kept[0]) == 1


def test_sqs_and_secrets_manager_answer_through_boto3(moto_endpoint: str) -> None:
    # Given boto3 clients of SQS and Secrets Manager on local AWS
    sqs, secrets = local_client("sqs", moto_endpoint), local_client("secretsmanager", moto_endpoint)
    name = f"keepalive-{uuid.uuid4().hex[:8]}"
    try:
        # When each is called several times on its kept connection
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        for n in range(3):
            sqs.send_message(QueueUrl=url, MessageBody=f"body-{n}")
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        arn = secrets.create_secret(Name=name, SecretString=json.dumps({"k": "v"}))["ARN"]
        value = secrets.get_secret_value(SecretId=arn)["SecretString"]
        # Then they answer as before
        assert sorted(m["Body"] for m in received) == ["body-0", "body-1", "body-2"]
        assert json.loads(value) == {"k": "v"}
    finally:
        sqs.delete_queue(QueueUrl=url)
        secrets.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
        sqs.close()
        secrets.close()


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_moto_does_not_read_is_not_taken_for_the_next_request(moto_endpoint: str, chunked: bool) -> None:
    # Given one connection to local AWS
    connection = http.client.HTTPConnection("127.0.0.1", _port(moto_endpoint), timeout=10)
    try:
        # When a request moto answers without reading its body carries a body that looks like a request
        smuggled = b"DELETE /moto-api/reset HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
        body = iter([smuggled]) if chunked else smuggled
        connection.request("GET", "/moto-api/", body=body, encode_chunked=chunked)
        first = connection.getresponse()
        first.read()
        kept = connection.sock
        # And a DynamoDB request follows on the same connection
        connection.request(
            "POST",
            "/",
            body=b"{}",
            headers={
                "X-Amz-Target": "DynamoDB_20120810.ListTables",
                "Content-Type": "application/x-amz-json-1.0",
                "Authorization": "AWS4-HMAC-SHA256 Credential=local/20261205/us-east-1/dynamodb/aws4_request, "
                "SignedHeaders=host, Signature=0",
            },
        )
        second = connection.getresponse()
        tables = json.loads(second.read())
        # Then each request got its own answer, on the one connection kept open
        assert first.status == 200
        assert first.getheader("Connection") != "close"
        assert second.status == 200
        assert "TableNames" in tables
        assert connection.sock is kept
    finally:
        connection.close()


def test_a_client_that_asks_to_close_is_answered_and_closed(moto_endpoint: str) -> None:
    # Given one connection to local AWS
    with socket.create_connection(("127.0.0.1", _port(moto_endpoint)), timeout=10) as raw:
        # When a request asks for the connection to close
        raw.sendall(b"GET /moto-api/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        received = b""
        while chunk := raw.recv(65536):
            received += chunk
        # Then the answer says so, carries its whole body, and the server closes the connection
        head, _, body = received.partition(b"\r\n\r\n")
        fields = (line.partition(b":") for line in head.split(b"\r\n")[1:])
        headers = {name.strip().lower(): value.strip() for name, _, value in fields}
        assert head.startswith(b"HTTP/1.1 200")
        assert headers[b"connection"] == b"close"
        assert int(headers[b"content-length"]) == len(body) > 0


def test_stopping_ends_the_connections_it_kept() -> None:
    # Given local AWS with a connection kept open after an answer
    server, endpoint = start_moto()
    connection = http.client.HTTPConnection("127.0.0.1", _port(endpoint), timeout=10)
    try:
        connection.request("GET", "/moto-api/")
        connection.getresponse().read()
        assert connection.sock is not None
        # When it stops
        server.stop()
        # Then the kept connection finds its end (the server closed it) and a new one is refused
        assert connection.sock.recv(1) == b""
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", _port(endpoint)), timeout=10).close()
    finally:
        connection.close()
