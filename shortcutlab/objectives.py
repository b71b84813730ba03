"""The training modes and the shortcut-aware objectives: the one registry of their names.

A *mode* (standard Eq. 1, text-only Eq. 3, shortcut-aware Eq. 7) says which branches a
run trains and what they see. An *objective* says how a shortcut-aware run turns its
two branches' pair losses into the training objective. Each objective is one
`Objective` entry here:

- `name` (the one spelling `TrainConfig.objective`, the CLI, the study and the docs use)
  and `aliases` (old spellings: a study spec with one keeps working; TrainConfig names
  the canonical spelling in its error);
- `options`, a small frozen dataclass whose fields are `TrainConfig` fields of the same
  name (`focal_gamma`, `dro_eta`, ...): `options_from(cfg)` reads them;
- `loss(inputs, options, state) -> ObjectiveTerm`, the primary branch's term, calling
  the pure functions of `shortcutlab.losses` (which cite the equations); every
  objective adds the proxy's mean(L_t), so the proxy trains jointly;
- `stats`, its named statistics and how each reduces over micro-steps and ranks
  (sum / min / max / last), on top of the shared ones (`BASE_STATS`, `PROXY_STATS`,
  `WEIGHT_STATS`);
- `init_state`, the state it carries across steps (GroupDRO's q), or None.

`pair_objective` is the one place that turns a batch's rewards into the objective and
its named statistics; the trainer's micro-step, its evaluation and the benchmarks call it.
Adding an objective: one `register(Objective(...))` call in this module (plus its tests).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from shortcutlab.errors import ConfigError

if TYPE_CHECKING:  # torch (and losses, which needs it) load when a loss runs: the CLI's
    import torch  # --help and config validation stay light

# sums a float64 vector over the ranks of a step (None: this process only)
Reduce = Callable[["torch.Tensor"], "torch.Tensor"]
Reduction = Literal["sum", "min", "max", "last"]


# ---------------------------------------------------------------------------- modes
@dataclass(frozen=True)
class Mode:
    """A training mode: which branches train and whether the primary one sees images."""

    name: str
    help: str
    proxy: bool  # trains a proxy branch (and so uses an objective of this registry)
    images: bool  # the primary branch reads images (text-only does not)


STANDARD, TEXT_ONLY, SHORTCUT_AWARE = "standard", "text-only", "shortcut-aware"
MODES: dict[str, Mode] = {
    m.name: m
    for m in (
        Mode(STANDARD, "Bradley-Terry MM-RM (Eq. 1)", proxy=False, images=True),
        Mode(TEXT_ONLY, "the RM fed no image (Eq. 3)", proxy=False, images=False),
        Mode(
            SHORTCUT_AWARE,
            "SFC-weighted loss with a jointly trained proxy (Eq. 5, 7)",
            proxy=True,
            images=True,
        ),
    )
}


def mode_names() -> tuple[str, ...]:
    """The training modes, in their documented order."""
    return tuple(MODES)


def get_mode(name: str) -> Mode:
    """The mode `name`; ConfigError listing the modes otherwise."""
    if name not in MODES:
        raise ConfigError(f"mode must be one of {', '.join(MODES)}, got '{name}'.")
    return MODES[name]


# ---------------------------------------------------------------------------- statistics
@dataclass(frozen=True)
class Stat:
    """A named per-step statistic and how micro-steps, ranks and log windows reduce it.

    `column`: written as-is to metrics rows (an objective's own min / max / last values,
    e.g. GroupDRO's q); the shared statistics are turned into per-pair means by
    `training.stats`.
    """

    name: str
    reduce: Reduction = "sum"
    column: bool = False


# every run: objective (objective x P), sum L, Eq. 2 counts (ties wrong), P, truncated rows
BASE_STATS = tuple(Stat(n) for n in ("objective", "loss", "correct", "ties", "pairs", "truncated"))
# with a proxy branch: sum L_t, proxy correct (Eq. 4), SFC (Eq. 5) sum and extremes
PROXY_STATS = (
    Stat("proxy_loss"),
    Stat("proxy_correct"),
    Stat("sfc_sum"),
    Stat("sfc_min", "min"),
    Stat("sfc_max", "max"),
)
# with per-pair weights (reweight, groupdro, static upweighting)
WEIGHT_STATS = (
    Stat("weight_sum"),
    Stat("weight_pairs"),
    Stat("weight_min", "min"),
    Stat("weight_max", "max"),
)


# ---------------------------------------------------------------------------- objectives
@dataclass
class ObjectiveInputs:
    """What an objective's loss sees of one batch of P pairs (all (P,), float32)."""

    loss: torch.Tensor  # L of the primary branch (Eq. 1)
    proxy_loss: torch.Tensor  # L_t of the proxy branch (Eq. 3 / App. F)
    margin: torch.Tensor  # d = r(better) - r(worse) of the primary branch
    proxy_margin: torch.Tensor  # b, the proxy's margin
    sfc: torch.Tensor  # SFC (Eq. 5), detached
    reduce: Reduce | None  # sums float64 totals over the step's ranks (None: this one)


@dataclass
class ObjectiveTerm:
    """An objective's primary-branch term; the total objective is primary + mean(L_t)."""

    primary: torch.Tensor  # () with gradient
    weights: torch.Tensor | None = None  # (P,) per-pair weights to log (WEIGHT_STATS)
    state: torch.Tensor | None = None  # the objective's state after this batch
    stats: dict[str, float] = field(default_factory=dict)  # its own statistics


LossFn = Callable[[ObjectiveInputs, Any, "torch.Tensor | None"], ObjectiveTerm]


@dataclass(frozen=True)
class NoOptions:
    """An objective without settings."""


@dataclass(frozen=True)
class Objective:
    """One shortcut-aware objective (see the module docstring)."""

    name: str
    summary: str  # a few words for --help and the docs: "product of experts"
    loss: LossFn
    options: type = NoOptions  # frozen dataclass; fields = TrainConfig fields
    stats: tuple[Stat, ...] = ()
    init_state: Callable[[], torch.Tensor] | None = None
    aliases: tuple[str, ...] = ()

    def options_from(self, source: Any) -> Any:
        """The options read from `source` (a TrainConfig or a mapping of its fields)."""
        get = source.get if isinstance(source, Mapping) else lambda k, d: getattr(source, k, d)
        values = {f.name: get(f.name, f.default) for f in dataclasses.fields(self.options)}
        return self.options(**values)

    def weighted(self) -> bool:
        """Whether it logs per-pair weights (WEIGHT_STATS)."""
        return any(s.name == "weight_sum" for s in self.stats)


REGISTRY: dict[str, Objective] = {}


def register(objective: Objective) -> Objective:
    """Add an objective (a name or alias taken already is an error); returns it."""
    taken = {n for o in REGISTRY.values() for n in (o.name, *o.aliases)}
    clash = {objective.name, *objective.aliases} & taken
    if clash:
        raise ValueError(f"objective name(s) {sorted(clash)} are taken")
    REGISTRY[objective.name] = objective
    return objective


def unregister(name: str) -> None:
    """Remove an objective (tests that register a toy one)."""
    REGISTRY.pop(name, None)


def names() -> tuple[str, ...]:
    """The objectives' canonical names, in registration order (sfc first: the default)."""
    return tuple(REGISTRY)


def canonical(name: str) -> str | None:
    """The canonical name of `name` (itself or an alias), or None when unknown."""
    for o in REGISTRY.values():
        if name == o.name or name in o.aliases:
            return o.name
    return None


def get(name: str) -> Objective:
    """The objective `name`; ConfigError naming the canonical spelling for an alias."""
    if name in REGISTRY:
        return REGISTRY[name]
    new = canonical(name)
    if new is not None:
        raise ConfigError(f"objective '{name}' is now spelled '{new}'.")
    raise ConfigError(f"objective must be one of {', '.join(REGISTRY)}, got '{name}'.")


def option_owners() -> dict[str, str]:
    """TrainConfig field -> the objective whose option it is."""
    return {f.name: o.name for o in REGISTRY.values() for f in dataclasses.fields(o.options)}


# --- the objectives -------------------------------------------------------------------------
@dataclass(frozen=True)
class SFCOptions:
    sfc_normalize: bool = False  # weights SFC / mean(SFC) (App. E)


def _sfc_loss(x: ObjectiveInputs, opts: SFCOptions, state: torch.Tensor | None) -> ObjectiveTerm:
    """mean(SFC * L) (Eq. 7), SFC detached (Eq. 5), optionally normalised (App. E)."""
    from shortcutlab import losses  # torch: imported when a loss runs

    return ObjectiveTerm(losses.sfc_weighted_loss(x.loss, x.sfc, normalize=opts.sfc_normalize))


def _poe_loss(x: ObjectiveInputs, opts: NoOptions, state: torch.Tensor | None) -> ObjectiveTerm:
    """mean l(d + sg[b]): the primary learns what the proxy does not explain."""
    from shortcutlab import losses  # torch: imported when a loss runs

    return ObjectiveTerm(losses.product_of_experts_loss(x.margin, x.proxy_margin).mean())


@dataclass(frozen=True)
class ReweightOptions:
    focal_gamma: float = 1.0  # pair weight sg[1 - sigmoid(b)]^gamma


def _reweight_loss(
    x: ObjectiveInputs, opts: ReweightOptions, state: torch.Tensor | None
) -> ObjectiveTerm:
    """mean(w L) / mean(w) over the step's pairs, w = sg[1 - sigmoid(b)]^gamma."""
    from shortcutlab import losses  # torch: imported when a loss runs

    w = losses.confidence_weights(x.proxy_margin, opts.focal_gamma)  # (P,), detached
    primary = (losses.normalised_weights(w, x.reduce).to(x.loss.device) * x.loss).mean()
    return ObjectiveTerm(primary, weights=w)


@dataclass(frozen=True)
class GroupDROOptions:
    dro_eta: float = 0.01  # step size of q_g <- q_g exp(eta L_g)


def _uniform_q() -> torch.Tensor:
    """GroupDRO's initial q: uniform over the groups."""
    import torch

    from shortcutlab.losses import N_GROUPS

    return torch.full((N_GROUPS,), 1.0 / N_GROUPS, dtype=torch.float64)


def _groupdro_loss(
    x: ObjectiveInputs, opts: GroupDROOptions, state: torch.Tensor | None
) -> ObjectiveTerm:
    """sum_g q_g L_g over the groups proxy wrong / right, q updated from this batch."""
    from shortcutlab import losses  # torch: imported when a loss runs

    groups = losses.proxy_groups(x.proxy_margin)  # (P,) long
    sums = losses.group_loss_sums(x.loss, groups)  # (2 * N_GROUPS,) float64
    sums = x.reduce(sums) if x.reduce is not None else sums
    q_before = state if state is not None else _uniform_q()
    q = losses.group_dro_update(q_before, sums, opts.dro_eta)
    w = losses.group_dro_weights(groups, q, sums)  # (P,)
    stats = {"q0": q[0].item(), "q1": q[1].item()}
    return ObjectiveTerm((w * x.loss).mean(), weights=w, state=q, stats=stats)


register(
    Objective(
        "sfc",
        "the paper, Eq. 7",
        _sfc_loss,
        SFCOptions,
        aliases=(SHORTCUT_AWARE,),
    )
)
register(
    Objective(
        "poe",
        "product of experts",
        _poe_loss,
        aliases=("shortcut-aware-poe", "product-of-experts"),
    )
)
register(
    Objective(
        "reweight",
        "confidence reweighting",
        _reweight_loss,
        ReweightOptions,
        stats=WEIGHT_STATS,
        aliases=("shortcut-aware-reweight",),
    )
)
register(
    Objective(
        "groupdro",
        "GroupDRO over the groups proxy right / wrong",
        _groupdro_loss,
        GroupDROOptions,
        stats=(*WEIGHT_STATS, Stat("q0", "last", column=True), Stat("q1", "last", column=True)),
        init_state=_uniform_q,
        aliases=("shortcut-aware-groupdro", "group-dro"),
    )
)

# JTT-style static upweighting (TrainConfig.static_weights, mode standard): a study
# method beside the objectives (no proxy branch, so not an Objective of this registry)
STATIC = "static"


def study_methods() -> tuple[str, ...]:
    """What a study's `objectives` list may name: the objectives, then `static`."""
    return (*names(), STATIC)


def cell_label(method: str) -> str:
    """The study cell label of a method (sfc keeps the paper's name `shortcut-aware`)."""
    return SHORTCUT_AWARE if method == "sfc" else f"{SHORTCUT_AWARE}-{method}"


def label_mode(label: str) -> tuple[str, str | None]:
    """(training mode, method or None) of a study cell label; `static` trains mode standard
    (with a fixed proxy's pair weights), the objectives mode shortcut-aware."""
    if label == cell_label(STATIC):
        return STANDARD, STATIC
    for name in names():
        if label == cell_label(name):
            return SHORTCUT_AWARE, name
    return label, None


# ---------------------------------------------------------------------------- one batch
@dataclass
class PairObjective:
    """The objective of one batch of pairs and its named statistics.

    `stats` holds plain numbers summed over the batch's P pairs (so batches, micro-steps
    and ranks add up, see `Stat`): BASE_STATS (without truncated: the trainer counts it),
    with a proxy PROXY_STATS (SFC logged for every objective), with per-pair weights
    WEIGHT_STATS, and the objective's own statistics.
    """

    objective: torch.Tensor  # () with gradient: mean(L) (Eq. 1 / 3) or term + mean(L_t)
    loss: torch.Tensor  # (P,) L of the primary branch (its margin d alone)
    proxy_loss: torch.Tensor | None  # (P,) L_t of the proxy branch, or None
    sfc: torch.Tensor | None  # (P,) SFC (Eq. 5), detached, before normalisation
    stats: dict[str, float]
    weights: torch.Tensor | None = None  # (P,) the logged per-pair weights, detached
    state: torch.Tensor | None = None  # the objective's state after this batch (GroupDRO q)


def pair_objective(
    rewards: torch.Tensor,
    proxy_rewards: torch.Tensor | None,
    pairs: torch.Tensor,
    *,
    objective: str | Objective = "sfc",
    options: Any = None,
    official_eps: bool = True,
    pair_weights: torch.Tensor | None = None,
    state: torch.Tensor | None = None,
    reduce: Reduce | None = None,
) -> PairObjective:
    """Losses, objective and statistics of one batch of pairs (every mode and objective).

    rewards: (N,) primary rewards; proxy_rewards: (M,) rewards of the proxy branch
    (text-only Eq. 3, or image-only App. F) on the same rows, or None; pairs: (P, 2)
    (better_row, worse_row).
    - no proxy (standard Eq. 1, text-only Eq. 3): objective = mean(L); with `pair_weights`
      (static upweighting, JTT-style) mean(w L) / mean(w).
    - proxy (shortcut-aware): `objective`'s term + mean(L_t), with `options` (its
      dataclass; defaults when None), `state` its state before this batch (None: its
      initial state) and SFC in the official eps form unless `official_eps` is False.
    `reduce` sums a float64 vector over the ranks of the step, so weight normalisation and
    group means use the whole batch: N processes give one process's objective. Accuracy
    counts use the rewards' own dtype (Eq. 2: Delta > 0 strictly, ties wrong).
    """
    from shortcutlab import losses  # torch: imported when a loss runs

    if proxy_rewards is not None and pair_weights is not None:
        raise ValueError("static pair_weights are for standard training (no proxy branch)")
    loss = losses.bradley_terry_loss(rewards, pairs)  # (P,) Eq. 1 (Eq. 3 text-only inputs)
    out = PairObjective(loss.mean(), loss, None, None, {})
    if proxy_rewards is not None:
        obj = objective if isinstance(objective, Objective) else get(objective)
        opts = options if options is not None else obj.options()
        _with_proxy(out, rewards, proxy_rewards, pairs, obj, opts, official_eps, state, reduce)
    elif pair_weights is not None:
        w = pair_weights.detach().float().to(loss.device)  # (P,) static, e.g. lambda or 1
        out.objective = (losses.normalised_weights(w, reduce).to(loss.device) * loss).mean()
        out.weights = w
    correct, ties, n_pairs = losses.pair_accuracy(rewards, pairs)
    if out.weights is not None:
        w = out.weights
        out.stats.update(
            weight_sum=w.sum().item(),
            weight_pairs=w.numel(),
            weight_min=w.min().item(),
            weight_max=w.max().item(),
        )
    out.stats.update(
        objective=out.objective.detach().double().item() * n_pairs,
        loss=loss.detach().sum().item(),
        correct=correct,
        ties=ties,
        pairs=n_pairs,
    )
    return out


def _with_proxy(
    out: PairObjective,
    rewards: torch.Tensor,
    proxy_rewards: torch.Tensor,
    pairs: torch.Tensor,
    obj: Objective,
    opts: Any,
    official_eps: bool,
    state: torch.Tensor | None,
    reduce: Reduce | None,
) -> None:
    """Fill `out` with objective `obj`'s term + mean(L_t) and the proxy's statistics."""
    from shortcutlab import losses  # torch: imported when a loss runs

    loss = out.loss
    proxy_loss = losses.bradley_terry_loss(proxy_rewards, pairs)  # (P,) Eq. 3 / App. F
    weights = losses.sfc(loss, proxy_loss, official_eps=official_eps)  # (P,) detached
    inputs = ObjectiveInputs(
        loss=loss,
        proxy_loss=proxy_loss,
        margin=losses.pair_margins(rewards.float(), pairs),  # (P,) d
        proxy_margin=losses.pair_margins(proxy_rewards.float(), pairs),  # (P,) b
        sfc=weights,
        reduce=reduce,
    )
    term = obj.loss(inputs, opts, state)
    out.objective = term.primary + proxy_loss.mean()
    out.proxy_loss, out.sfc, out.weights, out.state = proxy_loss, weights, term.weights, term.state
    out.stats.update(term.stats)
    out.stats.update(
        proxy_loss=proxy_loss.detach().sum().item(),
        proxy_correct=losses.pair_accuracy(proxy_rewards, pairs)[0],
        sfc_sum=weights.sum().item(),
        sfc_min=weights.min().item(),
        sfc_max=weights.max().item(),
    )


def run_stats(mode: str, objective: str, *, static_weights: bool = False) -> tuple[Stat, ...]:
    """The statistics a run logs: shared ones by mode, then its objective's own."""
    if not get_mode(mode).proxy:
        return BASE_STATS + (WEIGHT_STATS if static_weights else ())
    obj = get(objective)
    return BASE_STATS + PROXY_STATS + obj.stats
