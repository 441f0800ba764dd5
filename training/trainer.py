"""The training loop (RITM iterative training with mask guidance) on Lightning Fabric.

One optimiser step: sample a batch (augmented crop, target object, random clicks), run 0..3
no-gradient passes in eval mode adding one click each in the error region (the last prediction
becomes the previous-mask input), then one gradient pass; loss = NFL + 0.4 · aux BCE; Adam with
the parameters' RITM ``lr_mult`` (HRNet backbone 0.1, OCR heads and ``maps_transform`` 1);
MultiStepLR per epoch. Fabric handles the device, mixed precision and DDP (``torchrun`` sets
WORLD_SIZE and the strategy becomes "ddp"). Rank 0 writes ``RUN_DIR/epoch_<k>.pth`` and
``RUN_DIR/last.pth`` (isegsat/RITM checkpoint format), ``RUN_DIR/train_state.pt`` (optimizer,
scheduler, epoch, step; for ``--resume``), ``RUN_DIR/config.yaml`` and TensorBoard logs in
``RUN_DIR/tb``.

Randomness is a function of (seed, rank, epoch, worker): every epoch reseeds the main process and
the DataLoader workers, so a resumed run continues like an uninterrupted one (up to the order of
the distributed sampler).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, get_worker_info
from tqdm import tqdm

from isegsat.inference import HRNetModel, build_model, load_checkpoint, save_checkpoint
from isegsat.inference.atomic_file import write_atomically
from isegsat.inference.threshold import PRED_THRESHOLD
from isegsat.training.config import TrainConfig, save_config
from isegsat.training.dataset import ClickSegmentationDataset
from isegsat.training.iterative import simulate_clicks
from isegsat.training.losses import ritm_loss
from isegsat.training.manifest import CropRecord, DataError, read_manifest
from isegsat.training.points_sampler import MultiPointSampler

try:
    from lightning_fabric import Fabric
except ImportError:  # the `lightning` umbrella package ships it as lightning.fabric
    from lightning.fabric import Fabric

TRAIN_STATE = "train_state.pt"
LOG_EVERY = 20
VAL_SPLITS = ("val", "test")
"""Held-out splits validated during training: a set folder's ``val``, Inria's ``test``."""


@dataclass
class TrainResult:
    """What a finished (or stopped) run produced; ``losses`` are rank 0's per-step losses."""

    run_dir: Path
    epochs_done: int
    global_step: int
    losses: list[float] = field(default_factory=list)
    val_metrics: dict[str, float] = field(default_factory=dict)


def training_records(config: TrainConfig) -> tuple[list[CropRecord], list[float] | None]:
    """The ``train`` crops of every ``config.data`` folder and, with ``data_weights``, each
    crop's sampling weight (its folder's weight shared by the folder's crops that hold a
    building, so a folder's share of samples is its weight)."""
    if not config.data:
        raise DataError("no training data: pass --data DIR (a folder written by isegsat-prepare)")
    records: list[CropRecord] = []
    weights: list[float] = []
    for index, folder in enumerate(config.data):
        folder_records = read_manifest(folder, split="train")
        usable = sum(r.building_fraction > 0 for r in folder_records)
        if config.data_weights:
            share = config.data_weights[index] / max(usable, 1)
            weights += [share if r.building_fraction > 0 else 0.0 for r in folder_records]
        records += folder_records
    return records, (weights if config.data_weights else None)


def resolve_precision(config: TrainConfig, use_cuda: bool) -> str:
    """``config.precision``, with "auto" = bf16-mixed (or 16-mixed) on CUDA, 32-true on CPU."""
    if config.precision != "auto":
        return config.precision
    if not use_cuda:
        return "32-true"
    return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"


def build_fabric(config: TrainConfig) -> Fabric:
    """Fabric for ``config.device`` and ``precision``; DDP under torchrun (WORLD_SIZE > 1)."""
    use_cuda = config.device.startswith("cuda") or (
        config.device == "auto" and torch.cuda.is_available()
    )
    if config.device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {config.device!r} requested but CUDA is not available")
    precision = resolve_precision(config, use_cuda)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size > 1:
        local = int(os.environ.get("LOCAL_WORLD_SIZE", world_size))
        return Fabric(
            accelerator="cuda" if use_cuda else "cpu",
            devices=local,
            num_nodes=world_size // local,
            strategy="ddp",
            precision=precision,
        )
    devices: int | list[int] = 1
    if config.device.startswith("cuda:"):
        devices = [int(config.device.split(":", 1)[1])]
    return Fabric(accelerator="cuda" if use_cuda else "cpu", devices=devices, precision=precision)


def initial_model(config: TrainConfig) -> tuple[HRNetModel, str]:
    """The model a run starts from and a one-line description of where its weights came from."""
    if config.preset == "finetune" and not config.weights:
        raise ValueError("the finetune preset needs --weights CKPT (a RITM or isegsat checkpoint)")
    if config.weights:
        model, metadata = load_checkpoint(config.weights)
        return model, f"weights {config.weights} ({metadata.get('architecture') or 'custom'})"
    model = build_model(config.arch, backbone_lr_mult=backbone_lr_mult(config))
    if config.backbone_weights:
        matched, total = load_backbone_weights(model, config.backbone_weights)
        return model, f"{config.arch}, ImageNet backbone: {matched}/{total} tensors matched"
    return model, f"{config.arch}, random initialisation"


def backbone_lr_mult(config: TrainConfig) -> float:
    """RITM's 0.1 for a pretrained backbone; 1.0 when it starts from random weights (a random
    backbone at a tenth of the rate barely moves in a short run)."""
    if config.backbone_lr_mult is not None:
        return config.backbone_lr_mult
    return 0.1 if config.backbone_weights else 1.0


def load_backbone_weights(model: HRNetModel, path: str | Path) -> tuple[int, int]:
    """Copy an ImageNet HRNet state dict (HRNet-official or timm keys) into
    ``model.feature_extractor``; tensors match by name and shape. Returns (matched, backbone
    tensors). Raises ``ValueError`` when the file is not a readable state dict or nothing
    matches."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for foreign or damaged files
        first_line = str(error).splitlines()[0] if str(error) else ""
        raise ValueError(
            f"{path}: not a readable torch state dict ({type(error).__name__}: {first_line})"
        ) from error
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{path} does not hold a state dict")
    own = model.feature_extractor.state_dict()
    matched = {}
    for key, tensor in state.items():
        name = key.removeprefix("module.").removeprefix("feature_extractor.")
        if name in own and own[name].shape == tensor.shape:
            matched[name] = tensor
    if not matched:
        raise ValueError(f"no tensor of {path} matches the HRNet backbone (names or shapes differ)")
    model.feature_extractor.load_state_dict(matched, strict=False)
    return len(matched), len(own)


def param_groups(model: nn.Module, lr: float) -> list[dict]:
    """Adam parameter groups by RITM's per-parameter ``lr_mult`` tag (1 when untagged)."""
    groups: dict[float, list[nn.Parameter]] = {}
    for param in model.parameters():
        if param.requires_grad:
            groups.setdefault(float(getattr(param, "lr_mult", 1.0)), []).append(param)
    return [{"params": params, "lr": lr * mult} for mult, params in sorted(groups.items())]


def seed_worker(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: seed from the dataset's (seed, rank, epoch) and the worker."""
    info = get_worker_info()
    _seed_all([*info.dataset.seed_key, worker_id])


def _seed_all(key: list[int]) -> None:
    """Seed torch's RNG (the only global RNG the data pipeline draws from) from ``key``."""
    torch.manual_seed(int(np.random.SeedSequence([int(k) for k in key]).generate_state(1)[0]))


class Trainer:
    """Runs ``config`` into ``run_dir``; ``resume=True`` continues from ``run_dir``'s files."""

    def __init__(self, config: TrainConfig, run_dir: str | Path, resume: bool = False) -> None:
        self.config = config
        self.run_dir = Path(run_dir)
        # OpenCV's thread pool does not survive fork(): keep it single-threaded so DataLoader
        # workers forked after the click simulation (which uses OpenCV) cannot deadlock.
        cv2.setNumThreads(1)
        self.fabric = build_fabric(config)
        self.fabric.launch()
        self.rank = self.fabric.global_rank
        train_records, weights = training_records(config)
        self.sampler = MultiPointSampler(
            config.max_num_points,
            config.prob_gamma,
            config.merge_objects_prob,
            config.max_num_merged_objects,
        )
        self.train_set = ClickSegmentationDataset(
            train_records,
            self.sampler,
            tuple(config.crop_size),
            tuple(config.scale_range),
            config.min_object_area,
            config.epoch_len,
            train=True,
            interactive=config.interactive,
            target=config.target,
            building_prob=config.building_prob,
            record_weights=weights,
            augmentation=config.augmentation,
            relabel_prob=config.relabel_prob,
            object_view_prob=config.object_view_prob,
            object_view_scale=tuple(config.object_view_scale),
        )
        self.val_set = self._val_set()
        self.on_step: Callable[[int, torch.Tensor], None] | None = None
        """Called on rank 0 after every optimiser step with (global step, detached loss)."""
        self.start_epoch, self.global_step = 0, 0
        if resume:
            self.net, _ = load_checkpoint(self.run_dir / "last.pth")
            origin = f"resumed from {self.run_dir / 'last.pth'}"
        else:
            torch.manual_seed(config.seed)  # identical initial weights on every rank
            self.net, origin = initial_model(config)
        self.use_cuda = self.fabric.device.type == "cuda"
        self.precision = resolve_precision(config, self.use_cuda)
        if self.use_cuda:
            torch.backends.cudnn.benchmark = True
            self.net = self.net.to(memory_format=torch.channels_last)
        optimizer = torch.optim.Adam(
            param_groups(self.net, config.lr), lr=config.lr, betas=(0.9, 0.999), eps=1e-8
        )
        self.scheduler = torch.optim.lr_scheduler.MultiStepLR(
            optimizer, milestones=config.milestones, gamma=config.lr_gamma
        )
        self.model, self.optimizer = self.fabric.setup(self.net, optimizer)
        if resume:
            self._load_state()
        self.loader = self.fabric.setup_dataloaders(self._loader(self.train_set, shuffle=True))
        self.writer = None
        if self.rank == 0:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            save_config(config, self.run_dir / "config.yaml")
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.run_dir / "tb"))
            self._print(
                f"isegsat-train: {config.preset}, {origin}; {len(self.train_set)} samples/epoch, "
                f"{self.fabric.world_size} process(es) on {self.fabric.device}, "
                f"precision {self.precision}"
            )

    def fit(self) -> TrainResult:
        """Train until ``config.epochs`` (or ``max_iters`` steps); checkpoint every epoch."""
        config = self.config
        result = TrainResult(self.run_dir, self.start_epoch, self.global_step)
        for epoch in range(self.start_epoch, config.epochs):
            started = time.perf_counter()
            epoch_losses = self._train_epoch(epoch)
            seconds = time.perf_counter() - started
            self.scheduler.step()
            result.losses.extend(epoch_losses)
            result.epochs_done, result.global_step = epoch + 1, self.global_step
            if config.val_every and (epoch + 1) % config.val_every == 0 and self.val_set:
                if self.rank == 0:
                    result.val_metrics = self.validate()
                    for name, value in result.val_metrics.items():
                        self.writer.add_scalar(f"val/{name}", value, epoch + 1)
                self.fabric.barrier()
            final_loss = float(np.mean(epoch_losses)) if epoch_losses else float("nan")
            self._save(epoch + 1, final_loss, result.val_metrics)
            if self.rank == 0:
                self._print(
                    f"epoch {epoch + 1}/{config.epochs}: {len(epoch_losses)} steps in "
                    f"{seconds:.0f} s, loss {final_loss:.4f}"
                    + "".join(f", val {k} {v:.4f}" for k, v in result.val_metrics.items())
                )
            if config.max_iters and self.global_step >= config.max_iters:
                break
        if self.writer is not None:
            self.writer.close()
        return result

    def _train_epoch(self, epoch: int) -> list[float]:
        config = self.config
        key = [config.seed, self.rank, epoch]
        _seed_all([*key, 2**16])
        self.train_set.seed_key = tuple(key)
        # Same number of click passes on every rank keeps the batches' cost balanced.
        shared_rng = np.random.default_rng([config.seed, epoch])
        click_rng = np.random.default_rng([*key, 2**17])
        self.model.train()
        losses: list[torch.Tensor] = []
        progress = tqdm(
            self.loader,
            desc=f"epoch {epoch + 1}/{config.epochs}",
            disable=self.rank != 0,
            mininterval=1.0 if sys.stderr.isatty() else 30.0,
            dynamic_ncols=True,
        )
        for batch in progress:
            num_clicks = int(shared_rng.integers(0, config.max_num_next_clicks + 1))
            loss, parts = self._step(batch, num_clicks if config.interactive else 0, click_rng)
            losses.append(loss)
            self.global_step += 1
            if self.rank == 0 and self.on_step is not None:
                self.on_step(self.global_step, loss)
            if self.rank == 0 and self.global_step % LOG_EVERY == 0:
                self.writer.add_scalar("train/loss", float(loss), self.global_step)
                for name, value in parts.items():
                    self.writer.add_scalar(f"train/{name}", float(value), self.global_step)
                self.writer.add_scalar(
                    "train/lr", self.optimizer.param_groups[-1]["lr"], self.global_step
                )
                progress.set_postfix(loss=f"{float(loss):.4f}")
            if config.max_iters and self.global_step >= config.max_iters:
                break
        progress.close()
        return [float(v) for v in torch.stack(losses).cpu()] if losses else []

    def _step(
        self, batch: dict[str, torch.Tensor], num_clicks: int, rng: np.random.Generator
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        images, target, points = batch["images"], batch["instances"], batch["points"]
        if self.use_cuda:
            images = images.contiguous(memory_format=torch.channels_last)
        with self.fabric.autocast():  # the raw net: no DDP collectives in the extra passes
            prev_mask, points = simulate_clicks(
                self.net,
                images,
                target,
                points,
                num_clicks,
                rng,
                self.net.with_prev_mask,
                prev_mask=batch["prev_mask"],
            )
        if self.config.prev_mask_drop_prob > 0 and num_clicks > 0:
            keep = torch.rand(len(prev_mask), device=prev_mask.device)
            prev_mask = prev_mask * (keep >= self.config.prev_mask_drop_prob).view(-1, 1, 1, 1)
        net_input = torch.cat((images, prev_mask), 1) if self.net.with_prev_mask else images
        outputs = self.model(net_input, points)
        loss, parts = ritm_loss(
            outputs,
            target,
            self.config.focal_alpha,
            self.config.focal_gamma,
            self.config.aux_weight,
        )
        self.optimizer.zero_grad(set_to_none=True)
        self.fabric.backward(loss)
        self.optimizer.step()
        return loss.detach(), parts

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Loss and IoU (mask = prob > PRED_THRESHOLD) on the held-out splits' centre crops with
        sampled clicks (deterministic per crop), one pass without added clicks."""
        self.net.eval()
        loader = self._loader(self.val_set, shuffle=False)
        device = self.fabric.device
        losses, ious = [], []
        for batch in loader:
            images = batch["images"].to(device)
            target = batch["instances"].to(device)
            prev = torch.zeros_like(images[:, :1])
            net_input = torch.cat((images, prev), 1) if self.net.with_prev_mask else images
            with self.fabric.autocast():
                outputs = self.net(net_input, batch["points"].to(device))
            loss, _ = ritm_loss(outputs, target, self.config.focal_alpha, self.config.focal_gamma)
            predicted = torch.sigmoid(outputs["instances"].float()) > PRED_THRESHOLD
            truth = target > 0.5
            inter = (predicted & truth).sum(dim=(1, 2, 3)).float()
            union = (predicted | truth).sum(dim=(1, 2, 3)).float().clamp(min=1)
            losses.append(float(loss) * len(images))
            ious.extend((inter / union).tolist())
        self.net.train()
        return {"loss": sum(losses) / len(ious), "iou": float(np.mean(ious))}

    def _val_set(self) -> ClickSegmentationDataset | None:
        config = self.config
        records = [
            r
            for folder in config.data
            for r in read_manifest(folder)
            if r.split in VAL_SPLITS and r.building_fraction > 0
        ]
        if not records or not config.val_every:
            return None
        step = max(1, len(records) // config.val_samples)
        return ClickSegmentationDataset(
            records[::step][: config.val_samples],
            self.sampler,
            tuple(config.crop_size),
            min_object_area=config.min_object_area,
            train=False,
            interactive=config.interactive,
            target=config.target,
        )

    def _loader(self, dataset: ClickSegmentationDataset, shuffle: bool) -> DataLoader:
        workers = self.config.workers
        dataset.seed_key = (self.config.seed, self.rank, 0)
        return DataLoader(
            dataset,
            batch_size=self.config.batch_size,
            shuffle=shuffle,
            drop_last=shuffle and len(dataset) >= self.config.batch_size,
            num_workers=workers,
            pin_memory=self.fabric.device.type == "cuda",
            worker_init_fn=seed_worker if workers else None,
            prefetch_factor=4 if workers else None,
        )

    def _save(self, epochs_done: int, final_loss: float, val_metrics: dict[str, float]) -> None:
        if self.rank == 0:
            metadata = {
                "preset": self.config.preset,
                "interactive": self.config.interactive,
                "data": [str(Path(folder).resolve()) for folder in self.config.data],
                "epochs": epochs_done,
                "global_step": self.global_step,
                "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "final_loss": final_loss,
                "val": dict(val_metrics),
                "config": self.config.to_dict(),
            }
            save_checkpoint(self.net, self.run_dir / f"epoch_{epochs_done}.pth", metadata)
            save_checkpoint(self.net, self.run_dir / "last.pth", metadata)
            state = {
                "epoch": epochs_done,
                "global_step": self.global_step,
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
            }
            write_atomically(self.run_dir / TRAIN_STATE, lambda handle: torch.save(state, handle))
        self.fabric.barrier()

    def _load_state(self) -> None:
        path = self.run_dir / TRAIN_STATE
        if not path.is_file():
            raise ValueError(f"cannot resume: {path} is missing")
        state = torch.load(path, map_location="cpu", weights_only=True)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.start_epoch, self.global_step = int(state["epoch"]), int(state["global_step"])

    def _print(self, text: str) -> None:
        tqdm.write(text, file=sys.stderr)
