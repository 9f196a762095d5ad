"""``python -m recsys_engine`` entry point."""

from __future__ import annotations

import sys

from recsys_engine.cli import main

sys.exit(main())
