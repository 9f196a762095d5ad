"""Context columns of an upload (issue 18): the plan checks and the row checks.

A context field is categorical — a column of the interactions file mapped as context
(device, country, channel, ...) or a field derived from the time column (``hour`` of day
"00"–"23", ``weekday`` "Mon"–"Sun"). Each is stored per interaction with the interactions,
in the same transaction (``store.context``). A column with more than
``MAX_CONTEXT_VALUES`` distinct values is refused: it is an id or a free-text column, not
a context a model can learn an embedding for.
"""

from __future__ import annotations

from recsys_engine.errors import Problem
from recsys_engine.ingest.plan import FilePlan, InteractionMapping
from recsys_engine.store import Store
from recsys_engine.store.context import DERIVED_PREFIX, ContextSpec

#: Fields derived from the time of each interaction.
DERIVED_FIELDS = ("hour", "weekday")
#: Most distinct values a context field may have.
MAX_CONTEXT_VALUES = 1000


def context_specs(m: InteractionMapping) -> list[ContextSpec]:
    """The context fields a mapping asks for, mapped columns first, in the stored order."""
    specs = [ContextSpec(c, f"ctx_{j}", c) for j, c in enumerate(m.context_cols)]
    specs += [ContextSpec(d, f"{DERIVED_PREFIX}{d}", m.time_col or "") for d in m.derived_context]
    return specs


def context_plan_problems(f: FilePlan) -> list[Problem]:
    """Checks of the mapping alone: roles do not overlap, derived fields need a time
    column, field names are unique."""
    m = f.mapping
    if not isinstance(m, InteractionMapping) or not m.has_context:
        return []
    out: list[Problem] = []
    roles = {m.user_col: "user id", m.item_col: "item id"}
    if m.value_col:
        roles[m.value_col] = "rating or weight"
    if m.time_col:
        roles[m.time_col] = "timestamp"
    for c in m.context_cols:
        if c in roles:
            out.append(
                Problem(
                    "error",
                    f.name,
                    f"column {c!r} is already mapped as the {roles[c]}; "
                    "a context column must be another column",
                    column=c,
                )
            )
    if len(set(m.context_cols)) != len(m.context_cols):
        out.append(Problem("error", f.name, "a context column is mapped twice"))
    for d in m.derived_context:
        if d not in DERIVED_FIELDS:
            out.append(
                Problem(
                    "error",
                    f.name,
                    f"unknown derived context {d!r} (choose from {', '.join(DERIVED_FIELDS)})",
                )
            )
        elif d in m.context_cols:
            out.append(
                Problem(
                    "error",
                    f.name,
                    f"the derived context {d!r} has the name of a mapped context column; "
                    f"unmap the column or the derived {d}",
                    column=d,
                )
            )
    if m.derived_context and not m.time_col:
        out.append(
            Problem(
                "error",
                f.name,
                f"derived context ({', '.join(m.derived_context)}) needs a timestamp column; "
                "map one",
            )
        )
    return out


def check_context(store: Store, f: FilePlan, table: str, problems: list[Problem]) -> None:
    """Row checks of the staged context: too many distinct values is an error (naming
    the column and a few values); empty cells (stored as unknown) and a single value are
    warnings."""
    m = f.mapping
    if not isinstance(m, InteractionMapping) or not m.has_context:
        return
    specs = context_specs(m)
    counts = store.stage_context_counts(table, specs)
    for spec in specs:
        n, empty, top = counts[spec.field]
        if n > MAX_CONTEXT_VALUES:
            problems.append(
                Problem(
                    "error",
                    f.name,
                    f"context column {spec.column!r} has {n:,} distinct values (e.g. "
                    f"{', '.join(map(repr, top[:3]))}); a context field holds at most "
                    f"{MAX_CONTEXT_VALUES:,} categories (device, country, channel, ...): "
                    "unmap it, or group its values into fewer categories",
                    column=spec.column,
                )
            )
        if empty:
            what = "have no time" if spec.source.startswith(DERIVED_PREFIX) else "are empty"
            problems.append(
                Problem(
                    "warning",
                    f.name,
                    f"{empty:,} rows {what} in context {spec.field!r}; "
                    "their context is stored as unknown",
                    column=spec.column or None,
                )
            )
        if n == 1:
            problems.append(
                Problem(
                    "warning",
                    f.name,
                    f"context {spec.field!r} has a single value ({top[0]!r}): "
                    "it cannot tell events apart",
                    column=spec.column or None,
                )
            )
