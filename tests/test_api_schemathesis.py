"""Property-based testing of the whole API against its own OpenAPI document: schemathesis
generates valid and invalid requests for every operation and sends them to a real gunicorn
server holding the demo's data, as the coordinator and as an officer. No answer may be a server
error, and every answer must match the document (status code, content type, body schema)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser.conftest import free_port, wait_for
from tests.conftest import copy_demo, demo_output, gunicorn, process_env

pytestmark = pytest.mark.slow

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    ]
)


def demo_tokens(output: str) -> dict[str, str]:
    """The tokens ``casework demo`` prints, one per demo user."""
    tokens: dict[str, str] = {}
    reading = False
    for line in output.splitlines():
        if line.startswith("Demo API tokens"):
            reading = True
            continue
        if reading:
            parts = line.split()
            if len(parts) != 2 or not parts[1].startswith("cw_"):
                break
            tokens[parts[0]] = parts[1]
    return tokens


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory, demo_database: Path):  # type: ignore[no-untyped-def]
    home = tmp_path_factory.mktemp("schemathesis")
    db = copy_demo(demo_database, home)
    output = demo_output(demo_database).read_text()
    tokens = demo_tokens(output)
    assert {"coordinator", "officer"} <= set(tokens), output
    env = process_env(
        home,
        CASEWORK_DATABASE_URL=f"sqlite:///{db}",
        # The fuzzer sends thousands of requests a minute: the limit is tested elsewhere.
        CASEWORK_API_REQUESTS_PER_MINUTE="1000000",
    )
    port = free_port()
    server_log = home / "server.log"
    server = gunicorn(port, 2, env, home, server_log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/login")
        yield base, tokens, home
    finally:
        server.terminate()
        server.wait(timeout=30)
        errors = server_log.read_text()
        assert "Traceback" not in errors  # nothing unhandled reached the server log


@pytest.mark.parametrize("username", ["coordinator", "officer"])
def test_every_api_operation_holds_to_its_document_under_generated_requests(
    demo_server, username: str
) -> None:  # type: ignore[no-untyped-def]
    base, tokens, home = demo_server
    st = shutil.which("st", path=str(Path(sys.executable).parent)) or "st"
    report = home / f"schemathesis-{username}.xml"
    result = subprocess.run(
        [
            st,
            "run",
            f"{base}/api/v1/openapi.json",
            "--checks",
            CHECKS,
            "--header",
            f"Authorization: Bearer {tokens[username]}",
            "--max-examples",
            "25",
            "--seed",
            "2021",
            "--workers",
            "1",
            "--phases",
            "examples,coverage,fuzzing",
            "--report",
            "junit",
            "--report-junit-path",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        cwd=home,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
