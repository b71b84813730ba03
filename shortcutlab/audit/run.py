"""One audit: load records, run every cheap text-only proxy, keep the per-response rewards.

`run_audit(data, train=None)` returns an `AuditResult` holding each proxy's reward per
response of the audited data (`shortcutlab.audit.proxies`); `shortcutlab.audit.results`
turns it into accuracies, features, a score table and SFD. Only the records' text is
read (prompt and responses), never an image.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from shortcutlab.audit.proxies import (
    LR_NAME,
    PairSet,
    TextLR,
    cross_validated,
    fit_text_lr,
    length_rewards,
    pair_set,
)
from shortcutlab.data.records import Record
from shortcutlab.data.subsets import record_groups as data_record_groups


@dataclass
class AuditConfig:
    """Options of an audit (recorded in audit.json and run_info.json)."""

    folds: int = 5  # k of the k-fold cross-validation when no training set is given
    seed: int = 0  # fold assignment and bootstrap
    ngram_max: int = 2  # longest word n-gram (0 = style features only)
    c: float = 1.0  # inverse L2 strength of the regression (scikit-learn's C)
    max_features: int = 50_000  # most frequent n-grams kept
    tokenizer: str | None = None  # model folder / hub name for the token-length proxies
    group_by: str | None = None  # a record field (meta) to report accuracy per value
    n_boot: int = 1000  # bootstrap replicates (records resampled)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class AuditResult:
    """Rewards of every proxy on the audited data, and the fitted regression."""

    data: PairSet
    rewards: dict[str, np.ndarray]  # proxy name -> (N,) reward per response
    model: TextLR
    mode: str  # "train" (fit on --train) or "cross-validation"
    config: AuditConfig
    rows: Any = field(default=None, repr=False)  # (N, F) CSR: data responses' features
    train: PairSet | None = None
    groups: np.ndarray | None = field(default=None, repr=False)  # (R,) group per record

    @property
    def proxies(self) -> list[str]:
        return list(self.rewards)


def record_groups(records: list[Record], column: str, where: str = "") -> np.ndarray:
    """The group of `column` per record, (R,) str: `shortcutlab.data.subsets` decides it
    (a data field, or the built-ins `source` = the data file's name and `schema`; a
    missing or empty value is "(missing)"), exactly as `score --group-by` and `sfd` do."""
    groups = data_record_groups(records, column, where)
    return np.array([groups[str(r.id)] for r in records], dtype=object)


def run_audit(
    records: list[Record],
    train: list[Record] | None = None,
    config: AuditConfig | None = None,
    *,
    data_name: str = "",
    train_name: str = "",
    fitted: TextLR | None = None,
) -> AuditResult:
    """Run the length proxies and the text regression on `records`.

    With `train`, the regression is fit on its pairs and applied to `records`; without,
    it is k-fold cross-validated on `records` (`config.folds`, seeded). `fitted`: the
    regression already fit on `train` (`fit_text_lr`), applied as is, so one training
    set audited against several test sets is fit once.
    """
    cfg = config or AuditConfig()
    ps = pair_set(records, where=data_name)
    groups = record_groups(ps.records, cfg.group_by, data_name) if cfg.group_by else None
    rewards = length_rewards(ps.texts, cfg.tokenizer)
    kw = {"ngram_max": cfg.ngram_max, "c": cfg.c, "max_features": cfg.max_features}
    train_ps = None
    if train is not None:
        train_ps = pair_set(train, where=train_name)
        model = fitted or fit_text_lr(train_ps, **kw)
        rows = model.featurizer.transform(ps.texts)
        rewards[LR_NAME] = np.asarray(rows @ model.coef, dtype=float)
        mode = "train"
    else:
        cv = cross_validated(ps, folds=cfg.folds, seed=cfg.seed, where=data_name, **kw)
        rewards[LR_NAME], model, rows = cv
        mode = "cross-validation"
    return AuditResult(
        data=ps,
        rewards=rewards,
        model=model,
        mode=mode,
        config=cfg,
        rows=rows,
        train=train_ps,
        groups=groups,
    )
