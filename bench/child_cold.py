"""One cold start, run by the harness as `python -c <this file's text> SPEC RESULT` in a fresh process.

Standalone on purpose (standard library plus what it measures), so the process imports nothing of
the harness. SPEC is a JSON file: {"mode": "relay" | "sdk" | "floor" | "floor_extension" |
"floor_boto3", ...}. The script serves one first request and writes to RESULT the CLOCK_MONOTONIC
instants (comparable with the parent's time.monotonic_ns(), which it took just before starting this
process) at which the script began, the imports were done and the first answer was in hand, the RSS
after the imports and the peak RSS after the first answer.

The compliant floors read their Talon.One secret as the relay must before the same POST: one GET to
the Parameters and Secrets extension's endpoint, or boto3's Secrets Manager client. With "snapstart"
in a relay SPEC, the runtime's SnapStart hooks run between the import and the first call (before the
snapshot, then after the restore), and the instant between them is the restore's. With "sqs", the event
is an SQS batch, answered when no record failed.
"""

from __future__ import annotations

import time

T_MAIN = time.monotonic_ns()

import json  # noqa: E402 - after the first clock reading on purpose
import resource  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402


def status_kb(field: str) -> int:
    """A memory figure of this process image from /proc/self/status (VmHWM: peak RSS; VmRSS: now).

    ru_maxrss would do on Lambda, but on Linux it keeps the spawning process's peak across
    fork + exec, so a child of a big harness would report the harness's size.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


class Context:
    """What Lambda's context object offers the handlers and Powertools."""

    def __init__(self, function_name: str, timeout: float = 30.0) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 256
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.aws_request_id = "bench-cold-0001"
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "bench"
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(int((self._deadline - time.monotonic()) * 1000), 0)


def relay(spec: dict[str, Any]) -> tuple[int, int, int, str]:
    # __import__ (an import statement's path) rather than importlib: `-X importtime` reports it.
    module = __import__(spec["module"])
    imported, rss = time.monotonic_ns(), status_kb("VmRSS")
    if spec.get("snapstart"):
        import snapshot_restore_py

        for func, args, kwargs in reversed(snapshot_restore_py.get_before_snapshot()):
            func(*args, **kwargs)
        imported, rss = time.monotonic_ns(), status_kb("VmRSS")  # the snapshot: what follows is a restore
        for func, args, kwargs in snapshot_restore_py.get_after_restore():
            func(*args, **kwargs)
    response = module.handler(spec["event"], Context(spec["function_name"]))
    if spec.get("sqs"):  # an SQS batch: answered when no record failed
        failed = not isinstance(response, dict) or response.get("batchItemFailures")
        status = 0 if failed else spec["expect"]
    else:
        status = int(response.get("statusCode", 0)) if isinstance(response, dict) else 0
    detail = "" if status == spec["expect"] else json.dumps(response)[:500]
    return imported, rss, status, detail


def sdk(spec: dict[str, Any]) -> tuple[int, int, int, str]:
    import talon_one

    imported, rss = time.monotonic_ns(), status_kb("VmRSS")
    config = talon_one.Configuration(host=spec["url"])
    config.api_key["api_key_v1"] = spec["api_key"]
    config.api_key_prefix["api_key_v1"] = "ApiKey-v1"
    api = talon_one.IntegrationApi(talon_one.ApiClient(config))
    body = talon_one.NewReferral.from_dict(spec["body"])
    assert body is not None
    created = api.create_referral(body)  # raises unless 2xx
    detail = "" if created.code else repr(created)[:500]
    return imported, rss, spec["expect"], detail


def post_referral(pool: Any, url: str, api_key: str, spec: dict[str, Any]) -> tuple[int, str]:
    response = pool.request(
        "POST",
        url + "/v1/referrals",
        body=json.dumps(spec["body"], separators=(",", ":")).encode(),
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Authorization": "ApiKey-v1 " + api_key,
        },
    )
    answer = json.loads(response.data)
    detail = "" if response.status == spec["expect"] and answer.get("code") else response.data.decode()[:500]
    return response.status, detail


def floor(spec: dict[str, Any]) -> tuple[int, int, int, str]:
    import urllib3

    imported, rss = time.monotonic_ns(), status_kb("VmRSS")
    status, detail = post_referral(urllib3.PoolManager(), spec["url"], spec["api_key"], spec)
    return imported, rss, status, detail


def floor_extension(spec: dict[str, Any]) -> tuple[int, int, int, str]:
    import os
    from urllib.parse import quote

    import urllib3

    imported, rss = time.monotonic_ns(), status_kb("VmRSS")
    pool = urllib3.PoolManager()
    port = os.environ["PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"]
    answer = pool.request(
        "GET",
        f"http://localhost:{port}/secretsmanager/get?secretId={quote(spec['secret_arn'], safe='')}",
        headers={"X-Aws-Parameters-Secrets-Token": os.environ["AWS_SESSION_TOKEN"]},
    )
    secret = json.loads(json.loads(answer.data)["SecretString"])
    status, detail = post_referral(pool, secret["baseUrl"], secret["apiKey"], spec)
    return imported, rss, status, detail


def floor_boto3(spec: dict[str, Any]) -> tuple[int, int, int, str]:
    import boto3
    import urllib3

    imported, rss = time.monotonic_ns(), status_kb("VmRSS")
    answer = boto3.client("secretsmanager").get_secret_value(SecretId=spec["secret_arn"])
    secret = json.loads(answer["SecretString"])
    status, detail = post_referral(urllib3.PoolManager(), secret["baseUrl"], secret["apiKey"], spec)
    return imported, rss, status, detail


MODES = {"relay": relay, "sdk": sdk, "floor": floor, "floor_extension": floor_extension, "floor_boto3": floor_boto3}


def main() -> int:
    spec_path, result_path = sys.argv[1], sys.argv[2]
    with open(spec_path) as handle:
        spec = json.load(handle)
    imported, rss_import_kb, status, detail = MODES[spec["mode"]](spec)
    done = time.monotonic_ns()
    maxrss_kb = status_kb("VmHWM")
    with open(result_path, "w") as handle:
        json.dump(
            {
                "t_main": T_MAIN,
                "t_imported": imported,
                "t_done": done,
                "maxrss_kb": maxrss_kb,
                "rss_import_kb": rss_import_kb,
                "status": status,
                "detail": detail,
            },
            handle,
        )
    return 0 if not detail else 3


if __name__ == "__main__":
    raise SystemExit(main())
