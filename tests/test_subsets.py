"""`shortcutlab.data.subsets`: the one group-by vocabulary (and the id lists of
`--exclude-ids`). `audit` and `score` / `sfd` used to group differently: audit's `source`
was the file's full path and kept `""` as a blank group; the diagnostics named the
score table's file name and made `""` the group `(missing)`. Now all of them call
`group_of`. Run: python -m pytest -x -q tests/test_subsets.py
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from shortcutlab.audit.run import record_groups as audit_groups
from shortcutlab.data.records import Record, SourceLoc
from shortcutlab.data.subsets import NO_GROUP, group_of, read_id_list, record_groups
from shortcutlab.diagnostics.groups import group_values
from shortcutlab.errors import ConfigError, DataError
from shortcutlab.score_table import record_rows

pytestmark = pytest.mark.unit


def _records() -> list[Record]:
    cats = ["hallucination", "", None, math.nan, 3]
    return [
        Record(
            id=f"r{i}",
            prompt="p",
            responses=["a", "b"],
            pairs=[(0, 1)],
            schema="pairwise",
            loc=SourceLoc(f"/data/sets/vlrb_{i % 2}.jsonl", i + 1),
            meta={} if cat is None else {"category": cat},
        )
        for i, cat in enumerate(cats)
    ]


def test_groups_of_fields_and_built_ins():
    recs = _records()
    assert [group_of(r, "category") for r in recs] == [
        "hallucination",
        NO_GROUP,  # "" is no group name
        NO_GROUP,  # field absent
        NO_GROUP,  # NaN (a pandas-read field)
        "3",
    ]
    assert group_of(recs[0], "source") == "vlrb_0.jsonl"  # the file's name, not its path
    assert group_of(recs[0], "schema") == "pairwise"
    no_loc = Record(id="x", prompt="p", responses=["a"], meta={"source": "mine"})
    assert group_of(no_loc, "source") == NO_GROUP  # built-in: the data file, here unknown


def test_every_command_groups_the_same_way():
    """audit (`audit.run.record_groups`), score / sfd on a score table (`group_values`
    with the table's `source` column) and on the data (`record_groups`) agree."""
    recs = _records()
    table = pd.DataFrame([row for r in recs for row in record_rows(r, [0.0, 1.0])])
    for column in ("category", "source", "schema"):
        expected = {str(r.id): group_of(r, column) for r in recs}
        assert record_groups(recs, column) == expected
        assert dict(zip(expected, audit_groups(recs, column), strict=True)) == expected
        assert group_values(column, table=table, records=recs) == expected


def test_an_unknown_column_names_the_fields_there_are():
    with pytest.raises(ConfigError, match=r"no such column in the data .*category, schema, source"):
        record_groups(_records(), "nope")
    with pytest.raises(ConfigError, match="Score-table columns: id, reward"):
        group_values("nope", table=pd.DataFrame({"id": ["a"], "reward": [1.0]}))


def test_id_lists_skip_blanks_and_comments(tmp_path):
    path = tmp_path / "ids.txt"
    path.write_text("# overlap\na\n\n b \n")
    assert read_id_list(path) == {"a", "b"}
    with pytest.raises(DataError, match="one a line"):
        read_id_list(tmp_path / "none.txt")
