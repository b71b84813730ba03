"""`--exclude-ids` matches every record whose original id is listed (issue 21 item 9).

A benchmark id that repeats with different content loads as `<id>` and `<id>#<hash>`; an
exclusion list (overlap_ids.txt, or one a user writes from the benchmark's ids) names the
original id, so both copies go, and the counts say how many records went for how many ids.
"""

from __future__ import annotations

import pandas as pd
import pytest

from shortcutlab.data.records import Record
from shortcutlab.data.subsets import drop_listed, original_id
from shortcutlab.diagnostics.groups import exclude_ids

pytestmark = pytest.mark.unit


def _rec(rid: str) -> Record:
    return Record(id=rid, prompt="q", responses=["a", "b"], pairs=[(0, 1)])


def test_every_copy_of_a_listed_id_goes() -> None:
    assert original_id("povid_2#1a2b3c4d") == "povid_2" and original_id("a#b") == "a#b"
    recs = [_rec("povid_2"), _rec("povid_3"), _rec("povid_2#1a2b3c4d"), _rec("x")]
    kept, excl = drop_listed(recs, {"povid_2", "nope"}, "ids.txt")
    assert [r.id for r in kept] == ["povid_3", "x"]
    assert excl.to_dict() == {
        "file": "ids.txt",
        "ids_listed": 2,
        "excluded_records": 2,
        "ids_matched": 1,
        "ids_not_in_input": 1,
    }
    # a unique key given as such still names only that copy
    kept, _ = drop_listed(recs, {"povid_2#1a2b3c4d"})
    assert [r.id for r in kept] == ["povid_2", "povid_3", "x"]


def test_score_tables_too() -> None:
    table = pd.DataFrame(
        {
            "id": ["povid_2", "povid_2", "povid_2#1a2b3c4d", "povid_2#1a2b3c4d", "y", "y"],
            "response_index": [0, 1] * 3,
            "reward": [1.0, 0.0] * 3,
        }  # fmt: skip
    )
    kept, excl = exclude_ids(table, {"povid_2"}, "ids.txt")
    assert kept["id"].tolist() == ["y", "y"]
    assert (excl.excluded_records, excl.excluded_rows, excl.ids_matched) == (2, 4, 1)
