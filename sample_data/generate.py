"""Generate the "movie nights" demo dataset: synthetic, deterministic, small.

Writes ``interactions.csv``, ``items.csv`` and ``users.csv`` next to this script (or into
``--out``). Running it twice gives byte-identical files: every random draw comes from one
seeded ``numpy.random.Generator`` and the files are written with fixed formatting.

The data is built so that recommenders have something to learn:

* every item has a latent *taste cluster*; every user mixes a few clusters, so items of a
  cluster are watched together (collaborative signal);
* every user favours a few genres (drawn from an age-group prior), and picks and rates
  items of those genres more highly; descriptions use genre keywords (content signal);
* item popularity is Zipf-like, user activity is log-normal (long tails on both sides);
* a few items are new to the catalogue and have no interactions (cold-start items).

Usage::

    .venv/bin/python sample_data/generate.py [--out DIR] [--seed N]
"""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

import numpy as np

SEED = 20240601
N_USERS = 1_000
N_ITEMS = 800
N_COLD_ITEMS = 24  # newest catalogue items, nobody has watched them yet
TARGET_INTERACTIONS = 50_000
N_CLUSTERS = 10
START = 1_672_531_200  # 2023-01-01 00:00:00 UTC
END = 1_735_689_599  # 2024-12-31 23:59:59 UTC

# Per genre: title adjectives, title nouns, description keywords.
GENRES: dict[str, tuple[list[str], list[str], list[str]]] = {
    "Action": (
        ["Iron", "Final", "Burning", "Rogue", "Deadly", "Last", "Savage", "Rapid"],
        ["Strike", "Mission", "Fury", "Protocol", "Convoy", "Showdown", "Target", "Siege"],
        [
            "explosive",
            "car chase",
            "mercenary",
            "heist crew",
            "firefight",
            "bodyguard",
            "rooftop",
            "countdown",
        ],
    ),
    "Adventure": (
        ["Lost", "Golden", "Hidden", "Wild", "Distant", "Forgotten", "Endless", "Northern"],
        ["Expedition", "Island", "Map", "Voyage", "Temple", "Frontier", "Treasure", "Canyon"],
        [
            "jungle",
            "expedition",
            "ancient map",
            "treasure",
            "shipwreck",
            "mountain pass",
            "explorer",
            "desert caravan",
        ],
    ),
    "Animation": (
        ["Little", "Brave", "Magic", "Tiny", "Happy", "Sleepy", "Clever", "Bouncy"],
        ["Fox", "Robot", "Dragon", "Kingdom", "Balloon", "Penguin", "Garden", "Toybox"],
        [
            "talking animals",
            "colourful",
            "family friendly",
            "musical numbers",
            "sidekick",
            "hand-drawn",
            "friendship",
            "enchanted forest",
        ],
    ),
    "Comedy": (
        ["Awkward", "Crazy", "Accidental", "Lucky", "Clumsy", "Big", "Wrong", "Weekend"],
        [
            "Wedding",
            "Roommate",
            "Road Trip",
            "Reunion",
            "Neighbours",
            "Party",
            "Vacation",
            "Interns",
        ],
        [
            "hilarious",
            "mix-up",
            "slapstick",
            "road trip",
            "wedding",
            "awkward family",
            "prank",
            "improvised",
        ],
    ),
    "Crime": (
        ["Dirty", "Cold", "Crooked", "Silent", "Midnight", "Broken", "Stolen", "Hollow"],
        ["Money", "Alibi", "Syndicate", "Precinct", "Ledger", "Confession", "Docks", "Informant"],
        [
            "detective",
            "mob boss",
            "corrupt cop",
            "undercover",
            "robbery",
            "informant",
            "courtroom",
            "cartel",
        ],
    ),
    "Documentary": (
        ["Inside", "Untold", "Real", "Hidden", "Living", "True", "Changing", "Secret"],
        ["Planet", "Oceans", "Story", "Kitchen", "Archive", "Climate", "Factory", "Summit"],
        [
            "interviews",
            "archival footage",
            "true story",
            "wildlife",
            "climate",
            "investigation",
            "history",
            "behind the scenes",
        ],
    ),
    "Drama": (
        ["Quiet", "Long", "Fragile", "Distant", "Bitter", "Tender", "Broken", "Second"],
        ["Winter", "Promise", "Letters", "Harvest", "Daughter", "Reckoning", "Homecoming", "Years"],
        [
            "family secrets",
            "grief",
            "small town",
            "redemption",
            "coming of age",
            "estranged",
            "sacrifice",
            "memory",
        ],
    ),
    "Fantasy": (
        ["Shadow", "Crystal", "Ember", "Elder", "Enchanted", "Cursed", "Silver", "Hollow"],
        ["Crown", "Sorcerer", "Realm", "Prophecy", "Throne", "Grimoire", "Citadel", "Wyvern"],
        ["wizard", "quest", "prophecy", "dragon", "spellbook", "elven", "sword", "dark lord"],
    ),
    "Horror": (
        ["Silent", "Crimson", "Haunted", "Rotting", "Pale", "Whispering", "Hollow", "Black"],
        ["House", "Cellar", "Ritual", "Asylum", "Woods", "Mirror", "Harvest", "Attic"],
        [
            "haunted",
            "possession",
            "slasher",
            "ghost",
            "cabin in the woods",
            "curse",
            "jump scares",
            "demon",
        ],
    ),
    "Romance": (
        ["Summer", "Sweet", "Endless", "Paper", "Stolen", "Falling", "Starlit", "Second"],
        ["Kiss", "Hearts", "Promise", "Letters", "Dance", "Harbor", "Bride", "Crush"],
        [
            "love story",
            "first date",
            "heartbreak",
            "soulmates",
            "wedding",
            "long distance",
            "chance meeting",
            "rivals to lovers",
        ],
    ),
    "Sci-Fi": (
        ["Quantum", "Dark", "Distant", "Neon", "Orbital", "Synthetic", "Red", "Infinite"],
        ["Horizon", "Signal", "Colony", "Android", "Nebula", "Paradox", "Station", "Drift"],
        [
            "spaceship",
            "android",
            "time travel",
            "alien",
            "galaxy",
            "dystopia",
            "artificial intelligence",
            "space colony",
        ],
    ),
    "Thriller": (
        ["Blind", "Final", "Silent", "Twisted", "Perfect", "Hidden", "Deadly", "Fatal"],
        ["Witness", "Stranger", "Harbor", "Conspiracy", "Code", "Hours", "Deception", "Trap"],
        [
            "conspiracy",
            "stalker",
            "hostage",
            "double cross",
            "paranoia",
            "serial killer",
            "cat and mouse",
            "plot twist",
        ],
    ),
}
GENRE_NAMES = list(GENRES)
#: Share of items whose primary genre is each genre (drama and comedy are common).
GENRE_WEIGHTS = np.array([10, 6, 5, 12, 7, 4, 14, 6, 8, 9, 8, 11], dtype=float)

AGE_GROUPS = ["18-24", "25-34", "35-44", "45-54", "55+"]
AGE_WEIGHTS = np.array([0.22, 0.31, 0.22, 0.15, 0.10])
#: Genres each age group leans towards (added to a flat Dirichlet prior).
AGE_TILT = {
    "18-24": ["Horror", "Action", "Sci-Fi", "Animation", "Comedy"],
    "25-34": ["Action", "Sci-Fi", "Thriller", "Comedy", "Fantasy"],
    "35-44": ["Thriller", "Crime", "Drama", "Comedy", "Animation"],
    "45-54": ["Drama", "Crime", "Documentary", "Thriller", "Romance"],
    "55+": ["Drama", "Documentary", "Romance", "Crime", "Adventure"],
}
COUNTRIES = ["US", "GB", "DE", "FR", "IN", "BR", "CA", "JP", "ES", "AU"]
COUNTRY_WEIGHTS = np.array([30, 12, 10, 8, 10, 8, 7, 6, 5, 4], dtype=float)

TITLE_PATTERNS = ["The {a} {n}", "{a} {n}", "The {n} of {a2}", "{n}", "A {a} {n}"]
PATTERN_WEIGHTS = np.array([0.38, 0.3, 0.12, 0.05, 0.15])
PLACES = [
    "Avalon",
    "Marrow Bay",
    "Kestrel Point",
    "the North",
    "Old Vale",
    "Saltmarsh",
    "Ironfield",
    "the Reef",
    "Dunmore",
    "the Valley",
]
OPENINGS = [
    "A {kw} tale",
    "An unforgettable {kw} story",
    "A {kw} ride",
    "A gripping {kw} film",
    "A {kw} journey",
    "A quietly {kw} picture",
]
TONES = ["bold", "moving", "sharp", "strange", "warm", "dark", "playful", "tense"]
LEADS = [
    "a retired pilot",
    "two estranged sisters",
    "a young cartographer",
    "a night-shift nurse",
    "a washed-up musician",
    "a stubborn farmer",
    "an ambitious journalist",
    "a lonely teenager",
    "a former soldier",
    "a small-town baker",
    "an exiled prince",
    "a junior analyst",
]


def _pick(rng: np.random.Generator, seq: list[str]) -> str:
    return seq[int(rng.integers(len(seq)))]


def _make_items(rng: np.random.Generator) -> dict[str, np.ndarray | list]:
    n_genres = len(GENRE_NAMES)
    primary = rng.choice(n_genres, size=N_ITEMS, p=GENRE_WEIGHTS / GENRE_WEIGHTS.sum())
    extra = rng.choice(3, size=N_ITEMS, p=[0.35, 0.45, 0.20])  # 1-3 genres per item
    titles: list[str] = []
    seen: set[str] = set()
    genres: list[list[int]] = []
    descriptions: list[str] = []
    for i in range(N_ITEMS):
        g = int(primary[i])
        others = [int(x) for x in rng.permutation(n_genres) if x != g][: int(extra[i])]
        item_genres = [g, *others]
        genres.append(item_genres)
        adjs, nouns, _ = GENRES[GENRE_NAMES[g]]
        while True:
            pattern = TITLE_PATTERNS[int(rng.choice(len(TITLE_PATTERNS), p=PATTERN_WEIGHTS))]
            title = pattern.format(a=_pick(rng, adjs), n=_pick(rng, nouns), a2=_pick(rng, PLACES))
            if title in seen:  # add a sequel number rather than loop for long
                title = f"{title} {int(rng.integers(2, 5))}"
            if title not in seen:
                break
        seen.add(title)
        titles.append(title)
        descriptions.append(_describe(rng, item_genres))
    # Taste clusters: half follow the primary genre's "home" cluster, half are anywhere.
    home = rng.permutation(np.arange(n_genres) % N_CLUSTERS)
    cluster = np.where(
        rng.random(N_ITEMS) < 0.5, home[primary], rng.integers(N_CLUSTERS, size=N_ITEMS)
    )
    # Zipf-like base popularity over a random ranking of the items.
    rank = rng.permutation(N_ITEMS)
    popularity = 1.0 / (rank + 2.0) ** 1.7
    quality = rng.normal(0.0, 0.45, size=N_ITEMS)
    # The newest items (cold start) are the last rows of the catalogue.
    cold = np.zeros(N_ITEMS, dtype=bool)
    cold[N_ITEMS - N_COLD_ITEMS :] = True
    return {
        "titles": titles,
        "genres": genres,
        "descriptions": descriptions,
        "cluster": cluster,
        "popularity": popularity,
        "quality": quality,
        "cold": cold,
    }


def _describe(rng: np.random.Generator, item_genres: list[int]) -> str:
    main = GENRES[GENRE_NAMES[item_genres[0]]][2]
    kws = [main[int(k)] for k in rng.choice(len(main), size=3, replace=False)]
    if len(item_genres) > 1:  # one keyword from a secondary genre
        kws[2] = _pick(rng, GENRES[GENRE_NAMES[item_genres[1]]][2])
    opening = _pick(rng, OPENINGS).format(kw=_pick(rng, TONES))
    return (
        f"{opening} about {_pick(rng, LEADS)} in {_pick(rng, PLACES)}: "
        f"{kws[0]}, {kws[1]} and {kws[2]}."
    )


def _make_users(rng: np.random.Generator) -> dict[str, np.ndarray]:
    n_genres = len(GENRE_NAMES)
    age = rng.choice(len(AGE_GROUPS), size=N_USERS, p=AGE_WEIGHTS)
    country = rng.choice(len(COUNTRIES), size=N_USERS, p=COUNTRY_WEIGHTS / COUNTRY_WEIGHTS.sum())
    genre_pref = np.empty((N_USERS, n_genres))
    for u in range(N_USERS):
        alpha = np.full(n_genres, 0.25)
        for name in AGE_TILT[AGE_GROUPS[age[u]]]:
            alpha[GENRE_NAMES.index(name)] += 0.6
        genre_pref[u] = rng.dirichlet(alpha)
    cluster_mix = rng.dirichlet(np.full(N_CLUSTERS, 0.3), size=N_USERS)
    activity = np.clip(np.round(rng.lognormal(np.log(28.0), 1.05, size=N_USERS)), 1, 400)
    activity = np.clip(np.round(activity * TARGET_INTERACTIONS / activity.sum()), 1, 400)
    bias = rng.normal(0.0, 0.45, size=N_USERS)
    # Users join over the two years (more later: the service grows) and stay a while.
    join = START + (END - START) * rng.beta(1.2, 1.0, size=N_USERS) * 0.9
    stay = rng.exponential(240 * 86_400, size=N_USERS) + 14 * 86_400
    leave = np.minimum(join + stay, END)
    return {
        "age": age,
        "country": country,
        "genre_pref": genre_pref,
        "cluster_mix": cluster_mix,
        "activity": activity.astype(int),
        "bias": bias,
        "join": join,
        "leave": leave,
    }


def _make_interactions(
    rng: np.random.Generator, items: dict, users: dict
) -> list[tuple[int, int, int, int]]:
    n_genres = len(GENRE_NAMES)
    genre_matrix = np.zeros((N_ITEMS, n_genres))
    for i, gs in enumerate(items["genres"]):
        genre_matrix[i, gs] = 1.0 / len(gs)
    warm = np.flatnonzero(~items["cold"])
    log_pop = np.log(items["popularity"][warm])
    rows: list[tuple[int, int, int, int]] = []
    for u in range(N_USERS):
        # How much this user likes each item's genres (1.0 = average) and cluster.
        genre_aff = genre_matrix[warm] @ users["genre_pref"][u] * n_genres
        cluster_aff = users["cluster_mix"][u][items["cluster"][warm]] * N_CLUSTERS
        logits = log_pop + 1.4 * np.log(genre_aff + 0.05) + 1.2 * np.log(cluster_aff + 0.05)
        p = np.exp(logits - logits.max())
        p /= p.sum()
        n = min(int(users["activity"][u]), int(np.count_nonzero(p > 0)))
        chosen = rng.choice(warm.size, size=n, replace=False, p=p)
        rating = (
            3.25
            + users["bias"][u]
            + items["quality"][warm[chosen]]
            + 0.55 * np.log(genre_aff[chosen] + 0.3)
            + 0.25 * np.log(cluster_aff[chosen] + 0.3)
            + rng.normal(0.0, 0.95, size=n)
        )
        rating = np.clip(np.round(rating), 1, 5).astype(int)
        ts = rng.uniform(users["join"][u], users["leave"][u], size=n).astype(np.int64)
        for item, r, t in zip(warm[chosen], rating, ts, strict=True):
            rows.append((u + 1, int(item) + 1, int(r), int(t)))
    rows.sort(key=lambda row: (row[3], row[0], row[1]))
    return rows


def _write(path: Path, header: list[str], rows: list[list]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8", newline="")


def generate(out: Path, seed: int = SEED) -> dict[str, int]:
    """Write the three CSV files into ``out``; return their row counts."""
    rng = np.random.default_rng(seed)
    items = _make_items(rng)
    users = _make_users(rng)
    interactions = _make_interactions(rng, items, users)
    out.mkdir(parents=True, exist_ok=True)
    _write(
        out / "interactions.csv",
        ["user_id", "item_id", "rating", "timestamp"],
        [list(r) for r in interactions],
    )
    _write(
        out / "items.csv",
        ["item_id", "title", "categories", "description"],
        [
            [
                i + 1,
                items["titles"][i],
                "|".join(GENRE_NAMES[g] for g in items["genres"][i]),
                items["descriptions"][i],
            ]
            for i in range(N_ITEMS)
        ],
    )
    _write(
        out / "users.csv",
        ["user_id", "age_group", "country"],
        [
            [u + 1, AGE_GROUPS[users["age"][u]], COUNTRIES[users["country"][u]]]
            for u in range(N_USERS)
        ],
    )
    return {"interactions": len(interactions), "items": N_ITEMS, "users": N_USERS}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="folder for the CSV files (default: next to this script)",
    )
    parser.add_argument("--seed", type=int, default=SEED, help="random seed")
    args = parser.parse_args(argv)
    counts = generate(args.out, args.seed)
    print(", ".join(f"{v:,} {k}" for k, v in counts.items()), "->", args.out)


if __name__ == "__main__":
    main()
