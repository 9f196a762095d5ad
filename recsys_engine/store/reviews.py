"""SQL for review text kept with interactions (``interaction_text``).

An interactions file may carry free text per row (a review body, a summary). It is stored
per (user, item) interaction, the same key ``split_rows`` uses, so a split's training fold
can be joined to it: models read an item's content from the training reviews only, never
from validation or test rows.
"""

from __future__ import annotations

import pandas as pd

from recsys_engine.store.connection import StoreConnection
from recsys_engine.store.readers import StageSource, table_reader
from recsys_engine.store.sql import quote_ident


class ReviewTexts(StoreConnection):
    """Mixin of ``Store``: the ``interaction_text`` table."""

    def insert_interaction_text(
        self, src: StageSource, text_cols: tuple[str, ...], dataset_id: int
    ) -> int:
        """Store the ``text_cols`` of an interactions file, joined per (user, item).

        Called inside the caller's ``transaction()`` after the interactions are inserted.
        Empty texts are skipped; a pair that occurs on several rows (duplicates merged by
        the load's rule) keeps all its texts, joined. Lines the reader cannot parse are
        skipped here: the interaction checks have already refused or reported them.

        Returns:
            How many interactions got a text.
        """
        if not text_cols:
            return 0
        plain = StageSource(**{**src.__dict__, "value_col": None})
        reader = table_reader(plain, "VARCHAR")
        parts = ", ".join(
            f"nullif(trim(CAST({quote_ident(c)} AS VARCHAR)), '')" for c in text_cols
        )
        u, i = quote_ident(src.user_col), quote_ident(src.item_col)
        cur = self.cursor()
        before = self._first(
            "SELECT count(*) FROM interaction_text WHERE dataset_id = ?", [int(dataset_id)]
        )[0]
        cur.execute(
            "INSERT INTO interaction_text (dataset_id, user_id, item_id, text) "
            "SELECT ?, user_id, item_id, string_agg(text, ' ') FROM ("
            f"SELECT CAST({u} AS VARCHAR) AS user_id, CAST({i} AS VARCHAR) AS item_id, "
            f"concat_ws(' ', {parts}) AS text FROM {reader}) "
            "WHERE text <> '' AND user_id IS NOT NULL AND item_id IS NOT NULL "
            "GROUP BY user_id, item_id",
            [int(dataset_id)],
        )
        after = self._first(
            "SELECT count(*) FROM interaction_text WHERE dataset_id = ?", [int(dataset_id)]
        )[0]
        return int(after) - int(before)

    def count_interaction_texts(self, dataset_id: int) -> int:
        """How many interactions of a dataset carry review text (0 when none was kept)."""
        row = self._first(
            "SELECT count(*) FROM interaction_text WHERE dataset_id = ?", [int(dataset_id)]
        )
        return int(row[0]) if row else 0

    def train_review_texts(self, dataset_id: int, split_id: int) -> pd.DataFrame:
        """The review texts of the split's training fold only.

        Returns:
            ``item_id``, ``user_id``, ``text``: one row per training interaction with text,
            ordered by item then user; validation and test rows never appear.
        """
        return (
            self.cursor()
            .execute(
                "SELECT t.item_id, t.user_id, t.text FROM interaction_text t JOIN split_rows s "
                "ON s.split_id = ? AND s.fold = 'train' "
                "AND s.user_id = t.user_id AND s.item_id = t.item_id "
                "WHERE t.dataset_id = ? ORDER BY t.item_id, t.user_id",
                [int(split_id), int(dataset_id)],
            )
            .df()
        )

    def review_texts(self, dataset_id: int) -> pd.DataFrame:
        """Every review text of a dataset (``item_id``, ``user_id``, ``text``), whatever
        its fold: for checking that content exists, never for training."""
        return (
            self.cursor()
            .execute(
                "SELECT item_id, user_id, text FROM interaction_text WHERE dataset_id = ? "
                "ORDER BY item_id, user_id",
                [int(dataset_id)],
            )
            .df()
        )
