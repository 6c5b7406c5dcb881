"""The code keeps the shape the README's "Code layout" describes: small functions, no block
written twice, and pages and API operations that hold no transaction or refusal handling of
their own (``casework.actions`` and ``casework.api.views.write`` do that once)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from radon.complexity import cc_visit

import casework

PACKAGE = Path(casework.__file__).parent
MAX_COMPLEXITY = 15


def _sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "translations" not in p.parts)


def test_no_function_is_more_complex_than_fifteen() -> None:
    """Cyclomatic complexity as radon counts it (``radon cc -s -n C casework``)."""
    found = []
    for path in _sources():
        for block in cc_visit(path.read_text()):
            functions = getattr(block, "methods", None)
            for function in functions if functions is not None else [block]:
                if function.complexity > MAX_COMPLEXITY:
                    where = f"{path.relative_to(PACKAGE)}:{function.lineno}"
                    found.append(f"{where} {function.name} ({function.complexity})")
    assert found == [], "split these into named steps:\n" + "\n".join(found)


def test_no_block_of_six_lines_is_written_twice() -> None:
    """pylint's copy-and-paste detector (symilar), comments, docstrings, imports and
    signatures aside: the same six lines twice are one function waiting to be written."""
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from pylint.checkers.symilar import Run; Run(sys.argv[1:])",
            "--duplicates=6",
            "--ignore-comments",
            "--ignore-docstrings",
            "--ignore-imports",
            "--ignore-signatures",
            *map(str, _sources()),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    total = re.search(r"TOTAL lines=\d+ duplicates=(\d+)", run.stdout)
    assert total is not None, run.stdout[-2000:] + run.stderr[-2000:]
    assert total.group(1) == "0", run.stdout[-6000:]


def test_pages_and_api_operations_leave_the_transaction_to_the_request_shape() -> None:
    """No page or API module commits, rolls back or catches a service's refusal itself."""
    found = []
    for path in _sources():
        if path.name not in ("views.py", "api.py") or path.parent.name == "api":
            continue  # casework/api/views.py is the API's frame: ``write`` commits there
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"db\.session\.(commit|rollback)\(|except DomainError", line):
                found.append(f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}")
    assert found == [], "\n".join(found)
