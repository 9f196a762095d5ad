"""Security defaults (DESIGN §9, issue 8, SECURITY.md): hostile names and ids end to end
through the CLI and the store, sanitised upload names, formula-escaped exports, escaped
HTML, the server configuration, and static checks on the code base.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pandas as pd
import pytest
from badfiles import write

from recsys_engine import cli, export
from recsys_engine.store import Store

REPO = Path(__file__).resolve().parents[1]
RUNTIME_DIRS = ("recsys_engine", "ui", "pages")

HOSTILE_NAMES = [
    "x'); DROP TABLE datasets; --",
    'Robert"; DROP TABLE "interactions"; --',
    "' OR '1'='1",
    "../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "/tmp/absolute",
    "<script>alert('x')</script>",
    '<img src=x onerror="alert(1)">',
    "🎬 movie nights 🍿",
    "名前 %s %d {0} $HOME `id`",
    "=cmd|' /C calc'!A0",
]
FORMULA = "=cmd|' /C calc'!A0"
SCRIPT = "<script>alert('x')</script>"
LONG_ID = "u" + "x" * 10_239  # 10 kB


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """The working directory is three levels down in ``tmp_path``, so a name that escaped
    as a path would land inside ``tmp_path`` where the test sees it."""
    cwd = tmp_path / "a" / "b" / "c"
    cwd.mkdir(parents=True)
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("RECSYS_ARTEFACTS", str(tmp_path / "db" / "artefacts"))
    return tmp_path


# -- hostile names and ids end to end ------------------------------------------------------
def test_hostile_dataset_names_are_stored_verbatim_and_write_no_files(capsys, sandbox):
    inputs = sandbox / "inputs"
    inputs.mkdir()
    csv_path = write(inputs, "r.csv", "user_id,item_id,rating\n1,10,4\n1,11,3\n2,10,5\n")
    db = sandbox / "db" / "sec.duckdb"
    before = tree(sandbox)
    ids = {}
    for name in HOSTILE_NAMES:
        code, out, err = run_cli(
            capsys, "--db", str(db), "ingest", "--json", "--name", name, "--interactions",
            str(csv_path),
        )  # fmt: skip
        assert code == 0, (name, err)
        doc = json.loads(out)
        assert doc["name"] == name
        ids[name] = doc["dataset_id"]
    code, out, _ = run_cli(capsys, "--db", str(db), "datasets", "--json")
    assert code == 0
    listed = {d["name"]: d["dataset_id"] for d in json.loads(out)["datasets"]}
    assert listed == ids
    # every name resolves to its own dataset; the tables are all still there
    store = Store(db)
    try:
        for name, did in ids.items():
            assert store.resolve_dataset(name) == did
            assert store.get_dataset(did)["name"] == name
            assert len(store.interactions_frame(did)) == 3
        tables = {r[0] for r in store.cursor().execute("SELECT table_name FROM duckdb_tables()")
                  .fetchall()}  # fmt: skip
        assert {"datasets", "interactions", "items", "users", "runs"} <= tables
        # a rename to another hostile name, and a split with one
        first = ids[HOSTILE_NAMES[0]]
        store.rename_dataset(first, "'; DELETE FROM interactions; --")
        assert store.resolve_dataset("'; DELETE FROM interactions; --") == first
        from recsys_engine.splits import SplitConfig, create_split

        split = create_split(store, first, SplitConfig(min_interactions=1), name=SCRIPT)
        assert store.get_split(split)["name"] == SCRIPT
        total = store.cursor().execute("SELECT count(*) FROM interactions").fetchall()[0][0]
        assert total == 3 * len(HOSTILE_NAMES)
    finally:
        store.close()
    # nothing was written outside the database folder
    created = tree(sandbox) - before
    assert created, "the database was not created"
    assert all(p == "db" or p.startswith("db/") for p in created), sorted(created)
    assert not (sandbox / "etc").exists() and not Path("/tmp/absolute").exists()


def test_hostile_ids_and_titles_survive_to_escaped_exports(capsys, sandbox):
    users = [LONG_ID, "o'brien", 'say "hi"', "🙂 emoji", "x'); DROP TABLE users; --"]
    items = [FORMULA, SCRIPT, "a,b", "@SUM(A1)", "+1-2", "line\nbreak"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["user_id", "item_id", "rating"])
    for u_i, user in enumerate(users):
        for i_i, item in enumerate(items):
            if (u_i + i_i) % 3:
                w.writerow([user, item, 1 + (u_i + i_i) % 5])
    inputs = sandbox / "inputs"
    inputs.mkdir()
    ratings = write(inputs, "ratings.csv", buf.getvalue())
    ibuf = io.StringIO()
    iw = csv.writer(ibuf, lineterminator="\n")
    iw.writerow(["item_id", "title"])
    for item in items:
        iw.writerow([item, f"{SCRIPT} {FORMULA}" if item == FORMULA else f"title of {item}"])
    item_file = write(inputs, "items.csv", ibuf.getvalue())
    db = sandbox / "db" / "ids.duckdb"

    code, out, err = run_cli(
        capsys, "--db", str(db), "ingest", "--json", "--name", "hostile ids",
        "--interactions", str(ratings), "--items", str(item_file), "--title-col", "title",
    )  # fmt: skip
    assert code == 0, err
    did = json.loads(out)["dataset_id"]
    store = Store(db)
    try:
        df = store.interactions_frame(did)
        assert set(df.user_id) == set(users)  # the 10 kB id and the quotes, verbatim
        assert set(df.item_id) <= set(items) and FORMULA in set(df.item_id)
        titles = dict(store.items_frame(did)[["item_id", "title"]].values.tolist())
        assert titles[FORMULA] == f"{SCRIPT} {FORMULA}"
        # a title that starts with a formula is escaped in a CSV export, nothing else changes
        frame = store.items_frame(did)[["item_id", "title"]]
        frame.loc[len(frame)] = ["plain", FORMULA]
        rows = list(csv.reader(io.StringIO(export.to_csv_bytes(frame).decode())))[1:]
        exported = dict((r[0].removeprefix("'"), r[1]) for r in rows)
        assert exported["plain"] == "'" + FORMULA
        assert exported[FORMULA] == f"{SCRIPT} {FORMULA}"  # starts with "<": no formula
        assert all(not c.startswith(export.FORMULA_PREFIXES) for r in rows for c in r)

        from recsys_engine.runs import run_model
        from recsys_engine.splits import SplitConfig, create_split

        split = create_split(store, did, SplitConfig(min_interactions=1, test_fraction=0.3))
        run_id = run_model(store, split, "popularity")
        assert store.get_run(run_id)["status"] == "succeeded"
        recs = store.recommendations_frame(run_id)
        assert set(recs.item_id) <= set(items) and set(recs.user_id) <= set(users)
    finally:
        store.close()

    # the CLI export of the recommendations escapes every formula-looking id
    out_csv = sandbox / "db" / "recs.csv"
    code, _, err = run_cli(
        capsys, "--db", str(db), "export", "--run", str(run_id), "--what", "recommendations",
        "--out", str(out_csv),
    )  # fmt: skip
    assert code == 0, err
    with out_csv.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows
    assert all(not c.startswith(export.FORMULA_PREFIXES) for r in rows for c in r.values())
    ids_seen = {r["item_id"] for r in rows}
    assert ids_seen & {"'" + FORMULA, "'@SUM(A1)", "'+1-2"}  # popular enough to be listed
    assert {i.removeprefix("'") for i in ids_seen} <= set(items)
    assert {r["user_id"] for r in rows} <= set(users)


def test_cli_names_with_sql_in_a_real_subprocess(tmp_path):
    """The same through ``python -m recsys_engine`` (argv, not Python strings)."""
    db = tmp_path / "db" / "p.duckdb"
    data = write(tmp_path, "r.csv", "user_id,item_id,rating\n1,10,4\n2,11,3\n")
    name = "x'); DROP TABLE datasets; --"
    cmd = [sys.executable, "-m", "recsys_engine", "--db", str(db)]
    done = subprocess.run(
        [*cmd, "ingest", "--name", name, "--interactions", str(data)],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = subprocess.run(
        [*cmd, "datasets", "--json"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert [d["name"] for d in json.loads(done.stdout)["datasets"]] == [name]


def test_names_with_control_characters_or_too_long_are_refused(capsys, sandbox):
    data = write(sandbox, "r.csv", "user_id,item_id,rating\n1,10,4\n")
    db = sandbox / "db" / "n.duckdb"
    for bad in ("a\nb", "tab\there", "x" * 101, "   ", "\u200b", "\ufeff", "\u202eevil", "a\x85b"):
        code, _, err = run_cli(
            capsys, "--db", str(db), "ingest", "--name", bad, "--interactions", str(data)
        )
        assert code == 1 and err.strip().splitlines()[-1].startswith("error: "), (bad, err)
        assert "Traceback" not in err


def test_html_report_escapes_user_text(sandbox):
    from recsys_engine.compare import compare_runs
    from recsys_engine.compare.report import html_report
    from recsys_engine.runs import run_model
    from recsys_engine.splits import SplitConfig, create_split

    rows = [
        (f"u{u}", f"i{(u * 7 + j) % 30}", float(1 + j % 5)) for u in range(40) for j in range(8)
    ]
    import pandas as pd

    store = Store(":memory:")
    try:
        frame = pd.DataFrame(rows, columns=["user_id", "item_id", "rating"])
        did = store.create_dataset_from_frames(SCRIPT, frame)
        split = create_split(store, did, SplitConfig(seed=3), name='<b onmouseover="x()">s</b>')
        a = run_model(store, split, "popularity")
        b = run_model(store, split, "itemknn")
        page = html_report(compare_runs(store, a, b), title=f"{SCRIPT} report")
    finally:
        store.close()
    assert "alert('x')</script>" not in page and "<b onmouseover" not in page
    assert "&lt;script&gt;" in page


# -- upload file names ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "raw",
    [
        "../../etc/passwd",
        "..\\..\\windows\\system32\\config",
        "/etc/shadow",
        "C:\\Users\\x\\ratings.csv",
        "....//....//x.csv",
        ".hidden.csv",
        "..",
        "",
        "a b;rm -rf ~;$(id).csv",
        "<script>.csv",
        "🎬.csv",
        "x" * 500 + ".csv",
        "nul\x00byte.csv",
    ],
)
def test_upload_names_are_sanitised(raw, tmp_path):
    from ui.data import safe_name

    name = safe_name(raw)
    assert name and len(name) <= 120
    assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]*", name), name
    assert "/" not in name and "\\" not in name and ".." not in name.split("/")
    target = (tmp_path / name).resolve()
    assert target.parent == tmp_path.resolve()


def test_upload_names_keep_ordinary_names():
    from ui.data import safe_name

    assert safe_name("ratings.csv") == "ratings.csv"
    assert safe_name("user_artists.dat") == "user_artists.dat"
    assert safe_name("ml-latest-small/ratings.csv") == "ratings.csv"


# -- server configuration ------------------------------------------------------------------
def test_streamlit_config_is_locked_down():
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    server = config["server"]
    assert server["address"] == "127.0.0.1"
    assert server["enableXsrfProtection"] is True
    assert isinstance(server["maxUploadSize"], int) and 0 < server["maxUploadSize"] <= 2048
    assert config["browser"]["gatherUsageStats"] is False
    assert config.get("client", {}).get("showErrorDetails") in ("none", False)


# -- static checks on the code base ---------------------------------------------------------
def runtime_files() -> list[Path]:
    files = [REPO / "app.py"]
    for d in RUNTIME_DIRS:
        files += sorted((REPO / d).rglob("*.py"))
    return files


def rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node


def test_no_raw_html_rendering():
    bad = []
    for path in runtime_files():
        tree = ast.parse(path.read_text(), str(path))
        for node in calls(tree):
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
            if name == "html" and isinstance(fn, ast.Attribute):  # st.html, components.html
                bad.append(f"{rel(path)}:{node.lineno} {name}()")
            for kw in node.keywords:
                if kw.arg == "unsafe_allow_html" and not (
                    isinstance(kw.value, ast.Constant) and kw.value.value is False
                ):
                    bad.append(f"{rel(path)}:{node.lineno} unsafe_allow_html")
    assert bad == []


def test_sql_only_in_the_store():
    """No ``.execute``/``.sql``/``.query``/``.cursor`` call and no ``duckdb`` import outside
    ``recsys_engine/store/``: SQL with user values can only be built where every statement
    binds its values and quotes its identifiers, and callers reach the database through
    ``Store`` methods only (no raw cursor)."""
    bad = []
    for path in runtime_files():
        if rel(path).startswith("recsys_engine/store/"):
            continue
        tree = ast.parse(path.read_text(), str(path))
        for node in calls(tree):
            if isinstance(node.func, ast.Attribute) and node.func.attr in (
                "execute",
                "executemany",
                "sql",
                "query",
                "cursor",
            ):
                bad.append(f"{rel(path)}:{node.lineno} .{node.func.attr}()")
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                mods = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                mods.append(getattr(node, "module", None) or "")
                if any(m == "duckdb" or m.startswith("duckdb.") for m in mods):
                    bad.append(f"{rel(path)}:{node.lineno} imports duckdb")
    assert bad == []


def test_no_network_imports_in_runtime_code():
    banned = ("requests", "urllib.request", "httpx", "http.client", "aiohttp", "urllib3")
    bad = []
    for path in runtime_files():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                mods = [base] + [f"{base}.{a.name}" for a in node.names]
            else:
                continue
            for m in mods:
                if any(m == b or m.startswith(b + ".") for b in banned):
                    bad.append(f"{rel(path)}:{node.lineno} {m}")
    assert bad == []


def test_file_names_that_look_like_patterns_or_placeholders(capsys, sandbox):
    """A path with glob characters is refused (DuckDB would also read the files it matches);
    a column named like an internal placeholder (``{rt}``) is just a name."""
    (sandbox / "r2.csv").write_text("user_id,item_id,rating\n9,90,4\n9,91,5\n")
    star = write(sandbox, "r*.csv", "user_id,item_id,rating\n1,10,4\n1,11,3\n2,10,5\n")
    db = sandbox / "db" / "g.duckdb"
    code, _, err = run_cli(
        capsys, "--db", str(db), "ingest", "--name", "star", "--interactions", str(star)
    )
    assert code == 1 and "Traceback" not in err
    assert err.strip().splitlines() == [
        f"error: cannot read '{star}': DuckDB reads names with * as a pattern of several "
        "files; rename the file (or copy it) without those characters"
    ]
    odd = write(sandbox, "odd.csv", "user{rt},item{rs},rating\n1,10,4\n1,11,x\n2,10,5\n")
    code, _, err = run_cli(
        capsys, "--db", str(db), "ingest", "--name", "odd", "--interactions", str(odd)
    )
    assert code == 1 and "Traceback" not in err
    assert "error: odd.csv, line 3, column 'rating': 'x' is not a number" in err, err
    store = Store(db)
    assert store.list_datasets().empty  # neither load wrote anything
    store.close()


def test_control_characters_in_titles_never_reach_the_terminal(capsys, sandbox):
    """A title with ANSI escapes (retitle the terminal, clear the screen) prints inert."""
    db = sandbox / "db" / "t.duckdb"
    evil = "Evil \x1b]0;PWNED\x07\x1b[2J"
    rows = "".join(f"{u},{i},4\n" for u in range(1, 6) for i in range(1, 5) if (u + i) % 2)
    inter = write(sandbox, "r.csv", "user_id,item_id,rating\n" + rows)
    items = write(sandbox, "items.csv", f'item_id,title\n1,"{evil}"\n2,Two\n3,Three\n4,Four\n')
    code, _, err = run_cli(
        capsys, "--db", str(db), "ingest", "--name", "t", "--interactions", str(inter),
        "--items", str(items),
    )  # fmt: skip
    assert code == 0, err
    assert run_cli(capsys, "--db", str(db), "split", "t")[0] == 0
    assert run_cli(capsys, "--db", str(db), "train", "t", "--split", "1", "--model", "ease")[0] == 0
    code, out, err = run_cli(capsys, "--db", str(db), "recommend", "1", "--history", "2,3")
    assert code == 0, err
    assert "Evil \\x1b]0;PWNED\\x07\\x1b[2J" in out, out
    assert "\x1b" not in out + err and "\x07" not in out + err


def test_names_are_compared_in_one_unicode_form(store):
    """ "é" typed as one character or as "e" + combining accent is the same name."""
    from recsys_engine.errors import ConfigError
    from recsys_engine.store.names import check_name

    assert check_name(" Caf\u0065\u0301 ") == "Caf\u00e9"
    frame = pd.DataFrame({"user_id": ["u1", "u2"], "item_id": ["i1", "i2"], "rating": [4.0, 5.0]})
    store.create_dataset_from_frames("Caf\u00e9", frame)
    with pytest.raises(ConfigError, match="already exists"):
        store.create_dataset_from_frames("Cafe\u0301", frame)


def test_only_plain_ascii_numbers_are_ids(capsys, sandbox):
    """ "²", "١" (Arabic-Indic one) and "007" are names, not ids; no traceback either way."""
    from recsys_engine.store.names import as_id

    assert [as_id(t) for t in ("12", "²", "١", "007", "0", "-1", "1.0")] == [
        12, None, None, None, 0, None, None,
    ]  # fmt: skip
    db = sandbox / "db" / "ids.duckdb"
    data = write(sandbox, "r.csv", "user_id,item_id,rating\n1,10,4\n1,11,3\n2,10,5\n2,12,1\n")
    for name in ("first", "007"):
        code, _, err = run_cli(
            capsys, "--db", str(db), "ingest", "--name", name, "--interactions", str(data)
        )
        assert code == 0, err
    code, out, err = run_cli(capsys, "--db", str(db), "split", "007", "--json")
    assert code == 0, err
    assert json.loads(out)["dataset_id"] == 2  # the dataset named "007", not id 7
    for ref in ("²", "١"):
        code, _, err = run_cli(capsys, "--db", str(db), "split", ref)
        assert code == 1 and "Traceback" not in err
        assert err.strip() == f"error: no dataset with id or name {ref!r}", err
    code, _, err = run_cli(capsys, "--db", str(db), "recommend", "²", "--history", "10")
    assert code == 1 and err.strip() == "error: run must be a numeric id (got '²')", err
