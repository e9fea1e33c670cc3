"""The signing examples of docs/api.md (Python and shell), run as a sender would run them, against the local stack."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from local.stack import LocalStack
from tests.e2e.helpers import Http, talon_requests
from tests.support import ROOT

pytestmark = pytest.mark.e2e


def signing_examples() -> tuple[str, str]:
    """The ```python and ```sh blocks of docs/api.md's "Signing a request" section."""
    document = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    section = document[document.index("### Signing a request") :]
    section = section[: section.index("\n## ")]
    python = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    shell = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert python and shell, "the signing section has a Python and a shell example"
    return python.group(1), shell.group(1)


def test_the_python_and_shell_signing_examples_work(stack: LocalStack, http: Http) -> None:
    # Given the documented examples, pointed at the local stack and its signing secret
    assert http.secret
    python, shell = signing_examples()
    python = re.sub(r'(?m)^API_URL = ".*?"', f'API_URL = "{stack.api_url}"', python)
    python = re.sub(r'(?m)^SECRET = ".*?"', f'SECRET = "{http.secret}"', python)
    shell = re.sub(r"(?m)^API_URL=\S+ SECRET=\S+", f"API_URL={stack.api_url} SECRET={http.secret}", shell)

    # When a sender runs each (the second repeats the first with the same Idempotency-Key)
    from_python = subprocess.run(
        [sys.executable, "-c", python], capture_output=True, text=True, timeout=60, check=False
    )
    from_shell = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=60, check=False)

    # Then both are let in and answered with the session, and Talon.One saw the update once
    assert from_python.returncode == 0, from_python.stderr
    assert from_shell.returncode == 0, from_shell.stderr
    for output in (from_python.stdout, from_shell.stdout):
        state = json.loads(output)
        assert state["session"]["integrationId"] == "session-1", output[:300]
    assert len(talon_requests(stack, method="PUT")) == 1
