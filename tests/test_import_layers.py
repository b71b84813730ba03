"""The package's layers import downwards only (docs/architecture.md): leaves -> data ->
modeling -> losses / config / training -> scoring -> diagnostics -> audit / synth -> study -> cli.

`tests/test_imports.py` proves there is no import cycle; this test proves the order. The
one known upward edge is listed in ALLOWED with its reason, so a new one fails here.
Run: python -m pytest -x -q tests/test_import_layers.py
"""

from __future__ import annotations

import pytest
from test_imports import import_graph

pytestmark = pytest.mark.unit

# top-level name under shortcutlab -> layer (a module imports only its layer or below)
LAYERS = {
    "": 0,  # shortcutlab/__init__.py (lazy names only)
    "errors": 0,
    "files": 0,
    "run_folder": 0,
    "text_only": 0,  # the text-only modes (a leaf: config, modeling and scoring import it)
    "provenance": 0,
    "progress": 0,
    "distributed": 0,
    "data": 1,
    "score_table": 1,
    "modeling": 2,
    "preflight": 2,
    "losses": 3,
    "objectives": 3,  # the objective registry (names, options, losses)
    "config": 3,  # TrainConfig validates objectives and text-only modes
    "training": 3,
    "modelcard": 3,  # the model card training's export writes (reads model and run folders)
    "scoring": 4,
    "diagnostics": 5,
    "plots": 5,
    "audit": 6,
    "html": 6,  # the HTML report: reads output folders, score tables and data files
    "synth": 6,
    "rl": 6,
    "probe": 6,
    "study": 7,
    "cli": 8,
    "__main__": 9,
}
# The score summary of `score` reports Eq. 2 accuracy (per --group-by group too), which
# the diagnostics compute; record selection itself uses data.subsets.
ALLOWED = {
    ("shortcutlab.scoring.selection", "shortcutlab.diagnostics.accuracy"),
    ("shortcutlab.scoring.selection", "shortcutlab.diagnostics.groups"),
    ("shortcutlab.scoring.selection", "shortcutlab.diagnostics.tables"),
    # ScoreResult's field types, imported under TYPE_CHECKING only (nothing runs upward)
    ("shortcutlab.scoring.result", "shortcutlab.diagnostics.accuracy"),
    ("shortcutlab.scoring.result", "shortcutlab.diagnostics.groups"),
    # train --probe-data: the trainer scores the probe's own battery through its forward and
    # the probe computes the numbers (one implementation); imported only when probing
    ("shortcutlab.training.trainer", "shortcutlab.probe.in_training"),
}


def _layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.get(parts[1] if len(parts) > 1 else "")


def test_every_module_has_a_layer():
    unplaced = sorted(m for m in import_graph() if _layer(m) is None)
    assert not unplaced, f"add these top-level names to LAYERS: {unplaced}"


def test_imports_go_down_only():
    upward = {
        (a, b)
        for a, targets in import_graph().items()
        for b in targets
        if (_layer(a) or 0) < (_layer(b) or 0)
    }
    assert upward - ALLOWED == set(), f"upward imports: {sorted(upward - ALLOWED)}"
    assert ALLOWED <= upward, f"gone, remove from ALLOWED: {sorted(ALLOWED - upward)}"
