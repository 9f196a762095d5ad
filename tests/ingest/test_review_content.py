"""Review text of an interactions file kept as item content, and item files whose ids repeat.

Hand-checked on tiny files: which columns are guessed as review text, that an item's content
comes from the training fold only, how words are counted per item (stop-words, numbers,
words one reviewer used, words every item gets), and the counts reported when rows repeat an
item id (refused, or combined on request).
"""

from __future__ import annotations

import json

import pandas as pd
from badfiles import csv_text, write

from recsys_engine.errors import ValidationError
from recsys_engine.ingest import ItemMapping, guess_plan, load_dataset
from recsys_engine.ingest.plan import replace
from recsys_engine.item_content import review_documents, split_item_content
from recsys_engine.models.features import FeatureOptions, item_features
from recsys_engine.splits import SplitConfig, create_split

REVIEW_HEADER = "reviewerID,asin,reviewerName,overall,reviewText,summary,unixReviewTime"
LONG = "a long paragraph about the thing that goes on and on " * 3


def test_guess_keeps_review_text_but_not_names_or_dates(tmp_path):
    rows = [
        f'u{n},i{n % 3},"Jo Smith ""the reviewer"" of many things",5,"{LONG}",'
        f'"Works well for me",{1_600_000_000 + n}'
        for n in range(6)
    ]
    path = write(tmp_path, "reviews.csv", csv_text(*rows, header=REVIEW_HEADER))
    m = guess_plan([path]).files[0].mapping
    assert (m.user_col, m.item_col, m.value_col, m.time_col) == (
        "reviewerID",
        "asin",
        "overall",
        "unixReviewTime",
    )
    assert m.text_cols == ("reviewText", "summary")


# -- training fold only --------------------------------------------------------------------
# Four users review items A and B at times 1, 2 (and user u4 a third time). A leave-last
# split holds out each user's latest review; only those test reviews say "zebra".
REVIEWS = [
    ("u1", "A", 1, "warm tube amp"),
    ("u2", "A", 1, "tube amp glow"),
    ("u1", "B", 2, "zebra tube"),
    ("u2", "B", 2, "zebra"),
    ("u3", "B", 1, "nylon strings"),
    ("u4", "B", 1, "nylon strings bright"),
    ("u3", "A", 2, "zebra zebra"),
    ("u4", "A", 2, "zebra stripes"),
]


def load_reviews(store, tmp_path):
    rows = [f"{u},{i},4,{t},{text}" for u, i, t, text in REVIEWS]
    path = write(
        tmp_path, "r.csv", csv_text(*rows, header="user_id,item_id,rating,timestamp,review_text")
    )
    plan = guess_plan([path], name="reviews")
    assert plan.files[0].mapping.text_cols == ("review_text",)
    return load_dataset(store, plan)


def test_item_content_comes_from_the_training_fold_only(store, tmp_path):
    result = load_reviews(store, tmp_path)
    assert result.n_review_texts == len(REVIEWS)
    did = result.dataset_id
    sid = create_split(
        store, did, SplitConfig(strategy="leave-last", n_last=1, min_interactions=1)
    )
    train = store.train_review_texts(did, sid)
    assert sorted(train["text"]) == sorted(
        ["warm tube amp", "tube amp glow", "nylon strings", "nylon strings bright"]
    )
    assert store.review_texts(did)["text"].str.contains("zebra").sum() == 4  # it is stored
    items = split_item_content(store, did, sid).set_index("item_id")
    # A: "tube" and "amp" are in both training reviews; "warm"/"glow" in one only.
    assert items.loc["A", "text"] == "amp amp tube tube"
    assert items.loc["B", "text"] == "nylon nylon strings strings"
    assert not items["text"].str.contains("zebra").any()
    opts = FeatureOptions(min_df=1)
    names = item_features(items.reset_index(), items.index.to_numpy(), opts).names
    assert "text:zebra" not in names and "text:tube" in names


def test_review_words_drop_stop_words_numbers_and_one_reviewer_words():
    reviews = pd.DataFrame(
        {
            "item_id": ["X", "X", "X"] + ["Y"] * 4,
            "text": [
                "The 10 strings are great and the strings sound bright",
                "Bright strings, 10 of the best",
                "I love it",
                "It is a cable",
                "A cable that works",
                "Cable works fine",
                "fine cable",
            ],
        }
    )
    docs = review_documents(reviews, min_reviews=2, min_lift=1.0).set_index("item_id")
    # X: strings and bright are in 2 of 3 reviews; great, sound, best, love in 1; "10",
    # "the", "are", "and", "of", "it" are numbers or stop-words.
    assert docs.loc["X", "text"] == "bright bright strings strings"
    assert docs.loc["Y", "text"] == "cable cable cable cable fine fine works works"
    assert docs["n_reviews"].tolist() == [3, 4]


def test_words_every_item_gets_are_dropped_by_lift():
    reviews = pd.DataFrame(
        {
            "item_id": ["X", "X", "Y", "Y"],
            "text": ["great capo", "great capo", "great cable", "great cable"],
        }
    )
    docs = review_documents(reviews).set_index("item_id")
    # "great": 2/2 of X's reviews and 4/4 of all (lift 1); "capo": 2/2 against 2/4 (lift 2)
    assert docs["text"].to_dict() == {"X": "capo capo", "Y": "cable cable"}


def test_tfidf_leaves_out_stop_words_and_words_in_most_items():
    items = pd.DataFrame(
        {
            "item_id": ["a", "b", "c", "d"],
            "text": ["the guitar capo", "guitar strings", "guitar cable and capo", "guitar strap"],
        }
    )
    ids = items["item_id"].to_numpy()
    names = set(item_features(items, ids, FeatureOptions(min_df=1)).names)
    assert names == {"text:capo", "text:strings", "text:cable", "text:strap"}
    every = set(item_features(items, ids, FeatureOptions(min_df=1, max_df=1.0)).names)
    assert {"text:guitar", "text:capo"} <= every and "text:the" not in every
    old = set(
        item_features(items, ids, FeatureOptions(min_df=1, max_df=1.0, stop_words=False)).names
    )
    assert {"text:the", "text:and"} <= old


# -- item files whose ids repeat -----------------------------------------------------------
def ratings_file(tmp_path):
    rows = [f"u{u},{i},4,{1_600_000_000 + u}" for u in range(3) for i in (10, 11)]
    return write(tmp_path, "r.csv", csv_text(*rows, header="user_id,item_id,rating,timestamp"))


def items_plan(tmp_path, rows, combine):
    items = write(
        tmp_path, "items.csv", csv_text(*rows, header="item_id,title,genres,text,price")
    )
    plan = guess_plan([ratings_file(tmp_path), items], name="items")
    f = plan.by_role("items")[0]
    mapping = ItemMapping(
        "item_id", "title", ("text",), "genres", "|", ("price",), combine_rows=combine
    )
    return replace(plan, files=(plan.files[0], replace(f, role="items", mapping=mapping)))


def test_repeated_ids_are_one_error_with_the_real_counts(store, tmp_path):
    rows = [f"{10 + n % 2},T,A,t,1" for n in range(2000)]  # ids 10 and 11, 1,000 rows each
    try:
        load_dataset(store, items_plan(tmp_path, rows, combine=False))
    except ValidationError as exc:
        problems = [p for p in exc.problems if p.severity == "error"]
    else:
        raise AssertionError("repeated ids loaded without combining")
    assert len(problems) == 1
    assert problems[0].line == 4 and problems[0].column == "item_id"
    assert problems[0].message.startswith(
        "1,998 rows repeat an id already seen: 2 ids appear more than once (e.g. '10', '11'"
    )
    assert "Combine rows per item" in problems[0].message


def test_combine_rows_per_item_joins_unites_averages_and_counts(store, tmp_path):
    rows = ["10,Ten,A|B,text one,1", "10,,B|C,text two,3", "11,Eleven,C,,5", "10,Dix,A,,"]
    result = load_dataset(store, items_plan(tmp_path, rows, combine=True))
    assert result.warnings == [
        "items.csv, column 'item_id': combined 4 rows into 2 items: 2 rows repeated one of "
        "1 item id and merged into it (text joined, categories united, numbers averaged)"
    ]
    items = store.items_frame(result.dataset_id).set_index("item_id")
    assert items.loc["10", "title"] == "Ten"
    assert items.loc["10", "text"] == "text one text two"
    assert list(items.loc["10", "categories"]) == ["A", "B", "C"]
    assert json.loads(items.loc["10", "numeric"]) == {"price": 2.0}
    assert json.loads(items.loc["11", "numeric"]) == {"price": 5.0}
    assert result.n_catalog_items == 2


def test_deleting_the_dataset_deletes_its_review_text(store, tmp_path):
    did = load_reviews(store, tmp_path).dataset_id
    assert store.count_interaction_texts(did) == len(REVIEWS)
    store.delete_dataset(did)
    assert store.count_interaction_texts(did) == 0


def test_cli_keeps_chosen_review_columns_and_combines_item_rows(tmp_path, capsys):
    from recsys_engine import cli

    rows = [f"{u},{i},4,{t},{text}" for u, i, t, text in REVIEWS]
    log = write(
        tmp_path, "r.csv", csv_text(*rows, header="user_id,item_id,rating,timestamp,review_text")
    )
    items = write(tmp_path, "items.csv", csv_text("A,Amp", "A,", "B,Strings", header="id,title"))
    db = str(tmp_path / "cli.duckdb")
    base = ["--db", db, "ingest", "--json", "--interactions", str(log), "--items", str(items)]
    base += ["--item-id-col", "id", "--title-col", "title"]
    assert cli.main([*base, "--name", "refused"]) == 1  # the repeated id
    assert "1 row repeats an id already seen" in capsys.readouterr().err
    code = cli.main([*base, "--name", "ok", "--combine-item-rows", "--review-text-cols", "none"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["n_review_texts"] == 0 and out["n_catalog_items"] == 2
    assert any("combined 3 rows into 2 items" in w for w in out["warnings"])
    assert cli.main([*base, "--name", "texts", "--combine-item-rows"]) == 0
    assert json.loads(capsys.readouterr().out)["n_review_texts"] == len(REVIEWS)
