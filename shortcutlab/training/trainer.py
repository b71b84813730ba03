"""`Trainer`: one training run, read top to bottom: set up, train, save, clean up.

    trainer = Trainer(cfg)          # setup: accelerator, data, branches, optimizer, ...
    result = trainer.train()        # resume, the step loop, logs, checkpoints, then save()

A batch is a list of records; every forward runs all K responses of each record in one
pass (by default one packed row per record: its prefix once, its K answers after, see
`modeling.packing`) and reads all pairs' losses from the K rewards
(`losses.build_pair_index`); the objective and its named statistics come from
`objectives.pair_objective` (standard Eq. 1; text-only Eq. 3; shortcut-aware: the run's
objective over both branches, e.g. Eq. 5, 7).

Records come from the run's `DataOrder` (seeded, split into micro-steps and ranks). Each
micro-step's loss is scaled so the accumulated, rank-averaged gradient is the gradient of
the mean over all pairs of the step: N processes give the same updates as one process
with the same global batch, and resuming only needs the step number.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import torch

from shortcutlab import objectives
from shortcutlab.config import TrainConfig
from shortcutlab.data.records import Record
from shortcutlab.files import atomic_write_json
from shortcutlab.losses import build_pair_index
from shortcutlab.modeling.batching import RewardCollator
from shortcutlab.modeling.forward import with_shared_images
from shortcutlab.modeling.signals import PrefixSharingUnsupported
from shortcutlab.objectives import PairObjective, Reduce, pair_objective
from shortcutlab.progress import Reporter
from shortcutlab.run_folder import RunFolder
from shortcutlab.training import run as run_files
from shortcutlab.training.branches import build_branches, full_branches
from shortcutlab.training.export import export_branches
from shortcutlab.training.result import TrainResult
from shortcutlab.training.setup import (
    load_run_data,
    make_accelerator,
    make_collators,
    make_optimizer,
    make_scheduler,
)
from shortcutlab.training.state import (
    MetricsWriter,
    TensorState,
    clear_stale_checkpoints,
    load_checkpoint,
    resolve_resume,
    save_checkpoint,
)
from shortcutlab.training.stats import StepStats

log = logging.getLogger(__name__)
_EVAL_SUMS = ("loss", "correct", "ties", "pairs", "proxy_loss", "proxy_correct")


class Trainer:
    """One run: `__init__` sets it up, `train()` runs it and returns a `TrainResult`.

    State kept across steps: whether the model shares image encodings and packs each
    record into one row (`prefix_sharing`; off for good on `PrefixSharingUnsupported`,
    logged once), the rows truncated since the last step, the per-pair SFC rows of the
    last epoch (`save_sfc`) and the objective's state (GroupDRO's q; checkpointed with
    the model).
    """

    def __init__(self, cfg: TrainConfig) -> None:
        """Build everything in a fixed order (seed, data, model, optimizer, prepare)."""
        self.cfg = cfg.validate()
        self.out = Path(cfg.output_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        acc = self.accelerator = make_accelerator(cfg)
        torch.manual_seed(cfg.seed)
        self.data = load_run_data(cfg, acc.num_processes, acc.process_index)
        self.order = self.data.order
        self.probe: Any = None  # probe_data: the in-training battery, checked before the model
        if cfg.probe_data:
            from shortcutlab.probe.in_training import TrainingProbe  # the one upward import

            self.probe = TrainingProbe(cfg, self.out, rank=acc.process_index, world=self.world)
        self.mode = objectives.get_mode(cfg.mode)
        self.objective = objectives.get(cfg.objective) if self.mode.proxy else None
        self.options = self.objective.options_from(cfg) if self.objective else None
        self.stats = StepStats(
            objectives.run_stats(cfg.mode, cfg.objective, static_weights=bool(cfg.static_weights))
        )

        branches, processor = build_branches(cfg)
        self.collator, self.proxy_collator = make_collators(cfg, processor)
        named = [(n, p) for n, p in branches.named_parameters() if p.requires_grad]
        optimizer = make_optimizer(named, cfg)
        steps = self.data.total_steps
        warmup = int(round(cfg.warmup_ratio * steps))
        self.scheduler = make_scheduler(
            cfg.lr_scheduler_type, optimizer, warmup=warmup, total=steps
        )
        self.n_trainable = sum(p.numel() for _, p in named)
        self.n_params = sum(p.numel() for p in branches.parameters())
        self.model, self.optimizer = acc.prepare(branches, optimizer)
        acc.register_for_checkpointing(self.scheduler)
        self.trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.writer = MetricsWriter(
            self.out, enabled=acc.is_main_process, tensorboard=cfg.tensorboard
        )

        self.share_images = True  # off for good once the model raises SharedImageUnsupported
        self.pack = cfg.prefix_sharing  # off for good on PrefixSharingUnsupported
        self.sfc_rows: list[dict[str, Any]] = []
        self._truncated = 0
        self.state: TensorState | None = None  # the objective's state (GroupDRO q)
        if self.objective is not None and self.objective.init_state is not None:
            self.state = TensorState("q", self.objective.init_state())
            acc.register_for_checkpointing(self.state)  # restored on resume

    @property
    def world(self) -> int:
        return self.order.world

    @property
    def proxy(self) -> bool:
        """Whether the run trains a proxy branch (shortcut-aware)."""
        return self.proxy_collator is not None

    # ------------------------------------------------------------------ the run
    def train(self, command: list[str] | None = None) -> TrainResult:
        """Train from the first or resumed step, save, clean up; the run's result.

        `command` is recorded in command.txt / run_info.json (the CLI passes its argv).
        """
        cfg, acc = self.cfg, self.accelerator
        if acc.is_main_process:
            run_files.write_run_files(cfg, self.out, command, self._run_info())
        start_step = self.resume()
        if acc.is_main_process:
            if start_step == 0 and not cfg.resume:
                clear_stale_checkpoints(self.out)
            run_files.trim_metrics(RunFolder(self.out).metrics, start_step)
        t0 = time.time()
        history: list[dict[str, Any]] = []
        evals: list[dict[str, Any]] = []
        window = self.stats.empty()
        spe, total = self.order.steps_per_epoch, self.data.total_steps
        if self.probe is not None and start_step == 0:
            self.probe_step(0, total)  # where the shortcut stands before training
        with self._progress(start_step) as bar:
            for step in range(start_step, total):
                stats = self.train_step(step)
                done = step + 1
                history.append(self.stats.row(stats, done, done / spe, 0.0))
                window = self.stats.accumulate(window, stats)
                if done % max(cfg.logging_steps, 1) == 0 or done == total:
                    lr = float(self.scheduler.get_last_lr()[0])
                    self.writer.write(self.stats.row(window, done, done / spe, lr))
                    window = self.stats.empty()
                bar.update(done, note=f"loss {history[-1]['loss']:.4f}")
                if self.data.eval_records and cfg.eval_steps > 0 and done % cfg.eval_steps == 0:
                    evals.append(self._log_eval(done))
                if self.probe is not None and self.probe.due(done, total):
                    self.probe_step(done, total)
                if cfg.save_steps > 0 and done % cfg.save_steps == 0:
                    state = run_files.trainer_state(self.data, cfg.seed, done)
                    save_checkpoint(acc, self.out, state, cfg.save_total_limit)
        seconds = round(time.time() - t0, 3)
        final_eval = None
        if self.data.eval_records:  # reuse the in-loop evaluation when it ran at the last step
            last = evals and evals[-1]["step"] == total
            final_eval = evals[-1] if last else self._log_eval(total)
            evals += [] if last else [final_eval]
        saved = self.save()
        result = self._result(history, evals, final_eval, saved, start_step, seconds)
        self.cleanup(result)
        return result

    def resume(self) -> int:
        """Restore a checkpoint when asked; the global step to continue from."""
        path = resolve_resume(self.cfg.resume, self.out)
        if path is None:
            return 0
        state = load_checkpoint(self.accelerator, path)
        return run_files.check_resumable(state, self.data, self.cfg.seed, path)

    def save(self) -> dict[str, str]:
        """Export model/ (and proxy/) and sfc.jsonl; {"model": path, "proxy": path}."""
        acc = self.accelerator
        acc.wait_for_everyone()
        module = full_branches(acc, self.model, self.cfg)
        saved: dict[str, str] = {}
        if acc.is_main_process:
            saved = export_branches(module, self.cfg, self.out)
        if self.cfg.save_sfc and self.proxy:
            from accelerate.utils import gather_object  # accelerate: heavy, imported when used

            rows = gather_object(self.sfc_rows) if self.world > 1 else self.sfc_rows
            if acc.is_main_process:
                run_files.write_sfc(self.out, rows)
        return saved

    def cleanup(self, result: TrainResult) -> None:
        """Close the metrics writer, write summary.json (rank 0), wait for every rank."""
        self.writer.close()
        if self.accelerator.is_main_process:  # the file `train --json` prints
            atomic_write_json(RunFolder(self.out).summary, result.to_dict())
        self.accelerator.wait_for_everyone()

    def _run_info(self) -> dict[str, Any]:
        return {
            "processes": self.world,
            "global_batch_records": self.order.global_batch,
            "skipped": self.data.skipped,  # --skip-invalid rows dropped from data, by reason
            "eval_skipped": self.data.eval_skipped,
        }

    def _progress(self, start_step: int) -> Reporter:
        """Step progress on rank 0 when asked (a bar in a terminal, plain lines in a log)."""
        enabled = self.cfg.progress and self.accelerator.is_main_process
        what = f"train {self.cfg.mode}"
        total = self.data.total_steps
        return Reporter(what, total, "steps", initial=start_step, enabled=enabled)

    def _log_eval(self, step: int) -> dict[str, Any]:
        row = self.evaluate(step)
        self.writer.write(row)
        return row

    def _result(
        self,
        history: list[dict[str, Any]],
        evals: list[dict[str, Any]],
        final_eval: dict[str, Any] | None,
        saved: dict[str, str],
        start_step: int,
        seconds: float,
    ) -> TrainResult:
        d = self.data
        return TrainResult(
            output_dir=str(self.out),
            mode=self.cfg.mode,
            model_dir=saved.get("model", str(RunFolder(self.out).model)),
            proxy_dir=saved.get("proxy"),
            steps=d.total_steps,
            start_step=start_step,
            steps_per_epoch=self.order.steps_per_epoch,
            global_batch_records=self.order.global_batch,
            processes=self.world,
            records=len(d.records),
            records_without_pairs=d.records_without_pairs,
            skipped=dict(d.skipped),
            eval_skipped=dict(d.eval_skipped),
            trainable_parameters=self.n_trainable,
            parameters=self.n_params,
            train_losses=[r["loss"] for r in history],
            final_train=history[-1] if history else None,
            eval=final_eval,
            eval_history=evals,
            seconds=seconds,
        )

    # ------------------------------------------------------------------ forward
    def encode(self, collator: RewardCollator, records: list[Record], share: bool) -> dict:
        """Model inputs of `records` on this rank's device (counts truncated rows).

        With packing on (and shared images, which it needs) each row carries its record's
        position (`pack_groups`), so `RewardModel.forward` runs one packed row per record.
        """
        batch = collator.encode(records, share_images=share)
        self._truncated += batch.truncated
        if share and self.pack:
            batch.inputs["pack_groups"] = torch.tensor([i for i, _ in batch.index])
        return batch.to(self.accelerator.device).inputs

    def forward(
        self, records: list[Record], share: bool, with_proxy: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(rewards (N,), proxy rewards (N,) or None) of the trained branch(es)."""
        inputs = self.encode(self.collator, records, share)
        proxy = self.proxy_collator if with_proxy else None
        proxy_inputs = self.encode(proxy, records, share) if proxy is not None else None
        with self.accelerator.autocast():
            return self.model(inputs, proxy_inputs)

    def pair_objective(
        self, records: list[Record], reduce: Reduce | None = None, *, training: bool = True
    ) -> PairObjective:
        """Losses, objective and named statistics of one list of records; `reduce` sums
        weight and group totals over the step's ranks. Evaluation (`training=False`) needs
        no static weights: eval records have none."""
        pidx = build_pair_index([r.pairs for r in records], [len(r.responses) for r in records])
        rewards, proxy_rewards = self._rewards(records)
        static = self.data.static_weights if training else None
        return pair_objective(
            rewards,
            proxy_rewards,
            pidx.pairs.to(rewards.device),
            objective=self.objective or "sfc",
            options=self.options,
            official_eps=self.cfg.sfc_official_eps,
            pair_weights=static.for_records(records) if static else None,
            state=self.state.value if self.state else None,
            reduce=reduce,
        )

    def _rewards(
        self, records: list[Record], with_proxy: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Both branches' rewards; a model that cannot pack or share images stops asking."""
        try:
            (rewards, proxy), self.share_images = with_shared_images(
                lambda share: self.forward(records, share, with_proxy), self.share_images
            )  # e.g. multi-tile images: encode per row from now on
        except PrefixSharingUnsupported as exc:  # raised before the backbone runs
            log.warning("prefix sharing off (%s); training one row per response", exc)
            self.pack = False
            return self._rewards(records, with_proxy)
        return rewards, proxy

    # ------------------------------------------------------------------ one optimizer step
    def micro_step(self, records: list[Record], n_pairs_step: int, step: int) -> torch.Tensor:
        """Forward + backward of one micro-batch; returns its statistics vector."""
        out = self.pair_objective(records, self._reduce if self.world > 1 else None)
        if self.state is not None and out.state is not None:  # the same on all ranks
            self.state.value = out.state
        if out.sfc is not None:
            self._record_sfc(records, out, step)
        p_local = out.loss.numel()
        # scale: sum over this rank's pairs / all pairs of the step, x world (DDP averages
        # over ranks) x accumulation steps (accelerate divides each micro-loss by them)
        accum = self.cfg.gradient_accumulation_steps
        scale = p_local * self.world * accum / n_pairs_step
        self.accelerator.backward(out.objective * scale)
        return self.stats.vector(out.stats)

    def _record_sfc(self, records: list[Record], out: PairObjective, step: int) -> None:
        """Keep per-pair SFC of the last epoch (pairs in build_pair_index order)."""
        last_epoch = step // self.order.steps_per_epoch == self.data.last_epoch
        if not (self.cfg.save_sfc and last_epoch):
            return
        w, lm, lt = out.sfc.tolist(), out.loss.tolist(), out.proxy_loss.tolist()
        p = 0
        for rec in records:
            for better, worse in rec.pairs:
                row = {"id": rec.id, "better": better, "worse": worse, "sfc": w[p]}
                self.sfc_rows.append({**row, "loss": lm[p], "proxy_loss": lt[p], "step": step + 1})
                p += 1

    def train_step(self, step: int) -> torch.Tensor:
        """One optimizer step over the step's micro-batches (accelerate's accumulation, so
        DDP syncs and DeepSpeed steps only at the last micro-batch); its statistics."""
        micro, n_pairs = self.order.step_records(step)
        self.model.train()
        stats = []
        acc = self.accelerator
        for records in micro:
            with acc.accumulate(self.model):
                stats.append(self.micro_step(records, n_pairs, step))
                if acc.sync_gradients:
                    if self.cfg.max_grad_norm > 0:
                        acc.clip_grad_norm_(self.trainable, self.cfg.max_grad_norm)
                    self.optimizer.step()
                    self.scheduler.step()
                    self.optimizer.zero_grad(set_to_none=True)
        truncated, self._truncated = self._truncated, 0
        gather = None if self.world == 1 else self._gather
        return self.stats.reduce(torch.stack(stats), truncated, gather)

    def _reduce(self, local: torch.Tensor) -> torch.Tensor:
        """A float64 vector summed over all ranks, on the CPU (weight and group totals)."""
        acc = self.accelerator
        return acc.reduce(local.to(acc.device), "sum").cpu()

    def _gather(self, local: torch.Tensor) -> torch.Tensor:
        """All ranks' (world, n) statistics on the CPU."""
        acc = self.accelerator
        return acc.gather(local.to(acc.device)).cpu()

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def probe_step(self, step: int, total: int) -> dict[str, Any]:
        """Score the probe battery with the model as it is now; log (and at the end report)."""
        assert self.probe is not None
        self.model.eval()
        truncated = self._truncated  # the probe's rows are not training's truncations

        def rewards(records: list[Record]) -> list[float]:
            return self._rewards(records, with_proxy=False)[0].float().cpu().tolist()

        model_dir = str(RunFolder(self.out).model)
        row = self.probe.run(rewards, step, final=step == total, model_dir=model_dir)
        self._truncated = truncated
        self.model.train()
        self.writer.write(row)
        return row

    @torch.no_grad()
    def evaluate(self, step: int) -> dict[str, Any]:
        """Accuracy (Eq. 2, ties wrong) and loss of the trained branch(es) on eval_data."""
        self.model.eval()
        mine = self.data.eval_records[self.order.rank :: self.world]
        bs = self.cfg.per_device_eval_batch_size
        names = _EVAL_SUMS if self.proxy else _EVAL_SUMS[:4]
        sums = torch.zeros(len(names), dtype=torch.float64)  # summed `names`
        for i in range(0, len(mine), bs):
            stats = self.pair_objective(mine[i : i + bs], training=False).stats
            sums += torch.tensor([stats[k] for k in names], dtype=torch.float64)
        if self.world > 1:
            sums = self.accelerator.reduce(sums.to(self.accelerator.device), "sum").cpu()
        s = dict(zip(names, sums.tolist(), strict=True))
        n = max(s["pairs"], 1.0)
        row = {
            "split": "eval",
            "step": step,
            "eval_loss": s["loss"] / n,
            "eval_acc": s["correct"] / n,
            "eval_ties": int(s["ties"]),
            "eval_pairs": int(n),
        }
        if self.proxy:
            row["eval_proxy_loss"] = s["proxy_loss"] / n
            row["eval_proxy_acc"] = s["proxy_correct"] / n
        self.model.train()
        return row
