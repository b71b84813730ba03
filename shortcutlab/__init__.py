"""shortcutlab: train and diagnose multimodal reward models for text-only shortcuts.

The public API a notebook user imports. Heavy modules (torch, transformers) are imported
lazily so `import shortcutlab` and `shortcutlab --help` stay fast.
"""

from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "Record": "shortcutlab.data.records",
    "ImageRef": "shortcutlab.data.records",
    "load_records": "shortcutlab.data.schemas",
    "RewardModel": "shortcutlab.modeling.reward_model",
    "RewardCollator": "shortcutlab.modeling.batching",
    "build_tiny_model": "shortcutlab.modeling.tiny",
    "train": "shortcutlab.training",
    "TrainConfig": "shortcutlab.config",
    "TrainResult": "shortcutlab.training.result",
    "score": "shortcutlab.scoring",
    "ScoreConfig": "shortcutlab.scoring",
    "ScoreResult": "shortcutlab.scoring",
    # diagnostics: each reads score tables (`ScoreResult.table`), never a model
    "score_table_accuracy": "shortcutlab.diagnostics.accuracy",
    "sfd": "shortcutlab.diagnostics.sfd",
    "matrix_from_score_files": "shortcutlab.diagnostics.matrix",
    "length_balance": "shortcutlab.diagnostics.length",
    "run_audit": "shortcutlab.audit.run",
    "AuditConfig": "shortcutlab.audit.run",
    "build_benchmark": "shortcutlab.synth.benchmark",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'shortcutlab' has no attribute {name!r}")


__all__ = sorted(_LAZY) + ["__version__"]
