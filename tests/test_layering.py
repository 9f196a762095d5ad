"""The three layers stay apart (pages → ui → recsys_engine, CONVENTIONS "Three layers").

- The engine is a plain library: importing every one of its modules loads neither
  Streamlit nor the app's ``ui``/``pages`` code, so tests, the CLI and notebooks can use it
  without a browser session.
- Listing the registry (and reading default configs) does not import TensorFlow, so the
  CLI's ``--help`` and the Train page's model picker stay fast.
- Pages only read widgets and call functions: no SQL and no TensorFlow/Keras in them.

Imports are checked in a fresh interpreter: the test process itself has long imported
everything.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = sorted((REPO / "pages").glob("*.py"))
#: Top-level packages the engine must never load.
APP_PACKAGES = ("streamlit", "ui", "pages")
#: Calls through which Python code runs SQL (DuckDB connections and cursors).
SQL_CALLS = {"execute", "executemany", "sql", "query", "cursor", "fetchall", "fetchone", "fetchdf"}
#: SQL statements, keywords upper-case as the store writes them (prose such as "Select a run
#: from the list" is not SQL).
SQL_TEXT = re.compile(
    r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|"
    r"CREATE\s+(TABLE|VIEW|INDEX)|DROP\s+(TABLE|VIEW))\b",
    re.DOTALL,
)
ML_PACKAGES = ("tensorflow", "keras", "duckdb")


def run_python(code: str) -> dict:
    """Run ``code`` in a fresh interpreter from the repository root; its last stdout line
    is JSON, returned parsed."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=REPO
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_engine_never_imports_streamlit_or_the_app():
    code = (
        "import importlib, json, pkgutil, sys\n"
        "import recsys_engine\n"
        "names = ['recsys_engine'] + [\n"
        "    m.name for m in pkgutil.walk_packages(recsys_engine.__path__, 'recsys_engine.')\n"
        "    if m.name != 'recsys_engine.__main__'  # runs the CLI\n"
        "]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        f"app = {APP_PACKAGES!r}\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & set(app))\n"
        "print(json.dumps({'names': names, 'loaded': loaded}))\n"
    )
    result = run_python(code)
    # the walk really reached the whole tree (subpackages and Keras modules included)
    assert {"recsys_engine.store", "recsys_engine.cli", "recsys_engine.models.neumf"} <= set(
        result["names"]
    )
    assert len(result["names"]) > 30
    assert result["loaded"] == []


def test_listing_models_does_not_import_tensorflow():
    code = (
        "import json, sys\n"
        "from recsys_engine.models import get_model, list_models\n"
        "names = [s.name for s in list_models()]\n"
        "for n in names: get_model(n).default_config()\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras'})\n"
        "print(json.dumps({'names': names, 'heavy': heavy}))\n"
    )
    result = run_python(code)
    assert {"two_tower", "neumf", "mf_explicit", "content", "hybrid"} <= set(result["names"])
    assert result["heavy"] == []


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_pages_hold_no_sql_and_no_tensorflow(page: Path):
    tree = ast.parse(page.read_text(), filename=str(page))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & set(ML_PACKAGES), f"{page.name} imports {imported & set(ML_PACKAGES)}"
    calls = {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    assert not calls & SQL_CALLS, f"{page.name} calls {calls & SQL_CALLS}"
    strings = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]
    sql = [s for s in strings if SQL_TEXT.search(s)]
    assert not sql, f"{page.name} holds SQL: {sql}"


def test_the_pages_are_found():
    assert {"home", "data", "train", "models", "compare", "explain"} <= {p.stem for p in PAGES}
