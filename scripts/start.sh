#!/usr/bin/env bash
# Start Recsys Workbench on http://localhost:8501 (creates .venv on first run).
# The database is data/recsys.duckdb unless RECSYS_DB is set; the demo dataset loads on
# first start. Extra arguments go to `streamlit run` (e.g. --server.port 8502).
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh" requirements.txt
exec .venv/bin/python -m streamlit run app.py "$@"
