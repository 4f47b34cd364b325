#!/usr/bin/env python3
"""Trains an MRI Studio experiment with PyTorch on one or many GPUs (or CPUs), as the studio trained it in the browser.

Everything about the experiment is in config.json (model, head, strategy, normalisation, augmentation, optimiser,
schedule, ...) and split.csv (which image is in which split); this script reads both at run time. See README.md for the
commands (one GPU, N GPUs, several nodes, Slurm).

    torchrun --standalone --nproc_per_node=N train.py --data-root DATASET --out OUT

It writes into OUT, as it trains: metrics.csv (one row per epoch) and checkpoints/last.pth, checkpoints/best.pth; at the
end: model.pth (the kept epoch's weights as a plain state_dict), metrics.json and predictions.json (the test split),
which the studio imports back ("Bring back a cluster run", or `studio import-cluster --run ID --dir OUT`).
"""
import argparse
import contextlib
import csv
import datetime
import hashlib
import json
import math
import os
import sys
import time
import unicodedata
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from PIL import Image, ImageOps
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler

HERE = Path(__file__).resolve().parent
# What the studio imports from a folder (src/core/dataset/layout.ts).
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif"}
SYSTEM_FILES = {"thumbs.db", "desktop.ini", "__macosx"}


class RecipeError(Exception):
    """Something the user must fix (a folder that does not match split.csv, a bad option): printed, exit code 2."""


# ---------------------------------------------------------------------------------------------------------------------
# The studio's seeded random numbers (src/core/random.ts). On one process the epochs see the browser's batch order and
# augmentation draws exactly; on several, each process takes every N-th image of that order.
# ---------------------------------------------------------------------------------------------------------------------
MASK = 0xFFFFFFFF


def _imul(a, b):
    return (a * b) & MASK


def mulberry32(seed):
    state = [seed & MASK]

    def rand():
        state[0] = (state[0] + 0x6D2B79F5) & MASK
        t = state[0]
        t = _imul(t ^ (t >> 15), t | 1)
        t ^= (t + _imul(t ^ (t >> 7), t | 61)) & MASK
        return ((t ^ (t >> 14)) & MASK) / 4294967296

    return rand


def hash_string(s, seed=0x811C9DC5):
    h = seed & MASK
    data = s.encode("utf-16-le")  # JavaScript strings hash by UTF-16 code unit
    for i in range(0, len(data), 2):
        h ^= data[i] | data[i + 1] << 8
        h = _imul(h, 0x01000193)
    return h


def derive_seed(seed, *names):
    return hash_string("\u0000".join(str(n) for n in names), hash_string(str(seed)))


def shuffled(items, rand):
    """Fisher–Yates, as the studio's shuffle."""
    items = list(items)
    for i in range(len(items) - 1, 0, -1):
        j = math.floor(rand() * (i + 1))
        items[i], items[j] = items[j], items[i]
    return items


# ---------------------------------------------------------------------------------------------------------------------
# The data: split.csv against the folder, then decoding as the studio does (decode → resize → channels).
# ---------------------------------------------------------------------------------------------------------------------
def read_split(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows or set(rows[0]) != {"key", "class", "split", "group"}:
        raise RecipeError(f"{path} must have the columns key,class,split,group")
    return rows


def image_files(root):
    """
    Every image file under root: {key: path}, the key relative to root with / separators in Unicode NFC (as the studio
    keys files, whichever system listed them), the path as this system names it. Hidden and system files left out.
    """
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d.lower() not in SYSTEM_FILES)
        for name in sorted(filenames):
            if name.startswith(".") or name.lower() in SYSTEM_FILES or Path(name).suffix.lower() not in IMAGE_EXTENSIONS:
                continue
            rel = Path(dirpath, name).relative_to(root).as_posix()
            found[unicodedata.normalize("NFC", rel)] = rel
    return found


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def listed(items, limit=20):
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def match_folder(root, rows, allow_extra, left_out):
    """
    The file of each row of split.csv, or a RecipeError naming every missing, added or changed file. Files the studio
    left out on purpose (`left_out`: duplicates it dropped, by path; or any copy of a listed image's content) are not
    "added".
    """
    root = Path(root)
    if not root.is_dir():
        raise RecipeError(f"--data-root {root} is not a folder")
    files = image_files(root)
    by_hash = all(r["key"].startswith("sha256:") for r in rows)
    ignored = []
    if by_hash:
        # The manifest names files by content: hash every image and pair each row with a file of its hash.
        pool = {}
        for k, (key, rel) in enumerate(files.items()):
            pool.setdefault("sha256:" + sha256_of(root / rel), []).append(key)
            if (k + 1) % 5000 == 0:
                print(f"hashed {k + 1} of {len(files)} images", flush=True)
        paths, missing = [], []
        for r in rows:
            candidates = pool.get(r["key"])
            if candidates:
                paths.append(files[candidates.pop(0)])
            else:
                paths.append(None)
                missing.append(f"{r['key']} ({r['class']}, {r['split']})")
        listed_hashes = {r["key"] for r in rows}
        # A further copy of a listed image's bytes adds nothing: the studio drops such copies (dedupe, label conflicts).
        ignored = sorted(k for h, left in pool.items() if h in listed_hashes for k in left)
        extra = sorted(k for h, left in pool.items() if h not in listed_hashes for k in left)
        what_missing = "images of split.csv have no file with the same content in the folder (removed or changed)"
        what_extra = "image files in the folder are not in split.csv (added, or changed since the export)"
    else:
        paths = [files.get(r["key"]) for r in rows]
        missing = [f"{r['key']} ({r['class']}, {r['split']})" for r in rows if r["key"] not in files]
        keys = {r["key"] for r in rows}
        ignored = [k for k in files if k not in keys and k in left_out]
        extra = [k for k in files if k not in keys and k not in left_out]
        what_missing = "images of split.csv are not in the folder (removed or renamed)"
        what_extra = "image files in the folder are not in split.csv (added)"
    if ignored:
        print(f"{len(ignored)} image files left out, as the studio left them out (duplicates): {listed(ignored, 5)}", flush=True)
    problems = []
    if missing:
        problems.append(f"{len(missing)} {what_missing}: {listed(missing)}")
    if extra and not allow_extra:
        problems.append(f"{len(extra)} {what_extra}: {listed(extra)} (pass --allow-extra to train without them)")
    if problems:
        raise RecipeError(f"the folder {root} does not match split.csv:\n  " + "\n  ".join(problems))
    return [root / p for p in paths]


def load_image(path, size, channels):
    """uint8 [size, size, channels]: EXIF orientation applied, resized (only when not already at size), RGB or luma."""
    with Image.open(path) as img:
        img = ImageOps.exif_transpose(img).convert("RGB")
        if img.size != (size, size):
            img = img.resize((size, size), Image.BICUBIC)
        rgb = np.array(img, dtype=np.uint8)
    if channels == 3:
        return rgb
    # The studio's luma: round(0.299 R + 0.587 G + 0.114 B), halves rounded up.
    luma = np.floor(0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2] + 0.5)
    return luma.astype(np.uint8)[..., None]


class Images(Dataset):
    """(image, label) pairs; with `mirrored`, index n + k is image k flipped left to right (the studio's mirrored training)."""

    def __init__(self, paths, labels, size, channels, mirrored=False):
        self.paths, self.labels, self.size, self.channels = paths, labels, size, channels
        self.n = len(paths)
        self.mirrored = mirrored

    def __len__(self):
        return 2 * self.n if self.mirrored else self.n

    def __getitem__(self, i):
        image = load_image(self.paths[i % self.n], self.size, self.channels)
        if i >= self.n:
            image = image[:, ::-1]
        return torch.from_numpy(np.ascontiguousarray(image)), self.labels[i % self.n]


class StudioOrderSampler(DistributedSampler):
    """DistributedSampler with the studio's epoch order (set_epoch takes the 1-based epoch): process r of N takes items r, r + N, …"""

    def __init__(self, dataset, seed, num_replicas, rank):
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed, drop_last=False)

    def __iter__(self):
        order = shuffled(range(len(self.dataset)), mulberry32(derive_seed(self.seed, "epoch", self.epoch)))
        order += order[: self.total_size - len(order)]
        return iter(order[self.rank : self.total_size : self.num_replicas])


def shard(n, rank, world):
    return list(range(rank, n, world))


# ---------------------------------------------------------------------------------------------------------------------
# Augmentation (src/core/image/augment.ts): the same draws per image, flip, rotation and crop as one affine resampling
# (bilinear, black outside), then contrast about the image's mean, then brightness, clipped to [0, 255].
# ---------------------------------------------------------------------------------------------------------------------
def draw_augmentations(n, aug, seed):
    rand = mulberry32(seed)
    crop = aug.get("randomResizedCrop", False)
    scale = None if crop is False else ([0.8, 1.0] if crop is True else crop["scale"])
    out = []
    for _ in range(n):
        u = [rand() for _ in range(7)]
        side = math.sqrt(scale[0] + (scale[1] - scale[0]) * u[4]) if scale else None
        out.append(
            {
                "flip": aug["flip"] and u[0] < 0.5,
                "angle": (2 * u[1] - 1) * aug["rotationDeg"],
                "brightness": 1 + (2 * u[2] - 1) * aug["brightness"],
                "contrast": 1 + (2 * u[3] - 1) * aug["contrast"],
                "crop": (side, u[5] * (1 - side), u[6] * (1 - side)) if side else None,
            }
        )
    return out


def compose(m, n):
    return [
        m[0] * n[0] + m[1] * n[3],
        m[0] * n[1] + m[1] * n[4],
        m[0] * n[2] + m[1] * n[5] + m[2],
        m[3] * n[0] + m[4] * n[3],
        m[3] * n[1] + m[4] * n[4],
        m[3] * n[2] + m[4] * n[5] + m[5],
    ]


def output_to_input(a, size):
    """The studio's output→input pixel map (pixel centres at integer coordinates) for one image."""
    c = (size - 1) / 2
    m = [-1, 0, size - 1, 0, 1, 0] if a["flip"] else [1, 0, 0, 0, 1, 0]
    if a["angle"] != 0:
        t = math.radians(a["angle"])
        cos, sin = math.cos(t), math.sin(t)
        m = compose([cos, -sin, c - cos * c + sin * c, sin, cos, c - sin * c - cos * c], m)
    if a["crop"]:
        side, left, top = a["crop"]
        m = compose([side, 0, left * (size - 1), 0, side, top * (size - 1)], m)
    return m


def augment(x, aug, seed):
    """x: float [b, c, h, w] in [0, 255]; a new tensor."""
    b, _, size, _ = x.shape
    params = draw_augmentations(b, aug, seed)
    if any(a["flip"] or a["angle"] != 0 or a["crop"] for a in params):
        # Pixel coordinates → grid_sample's [-1, 1] with align_corners=True (x = s·(u + 1), s = (size − 1) / 2).
        s = (size - 1) / 2
        theta = []
        for a in params:
            m = output_to_input(a, size)
            theta.append([[m[0], m[1], m[0] + m[1] + m[2] / s - 1], [m[3], m[4], m[3] + m[4] + m[5] / s - 1]])
        grid = F.affine_grid(torch.tensor(theta, dtype=x.dtype, device=x.device), list(x.shape), align_corners=True)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    if any(a["contrast"] != 1 for a in params):
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * torch.tensor([a["contrast"] for a in params], dtype=x.dtype, device=x.device).view(b, 1, 1, 1) + mean
    if any(a["brightness"] != 1 for a in params):
        x = x * torch.tensor([a["brightness"] for a in params], dtype=x.dtype, device=x.device).view(b, 1, 1, 1)
    return x.clamp(0, 255)


# ---------------------------------------------------------------------------------------------------------------------
# The networks: the studio's simple CNN (src/core/models/simple_cnn.ts), or a torchvision backbone with the studio's head
# (src/core/models/heads.ts). Both save the state_dict names the studio reads back (see contract_state_dict).
# ---------------------------------------------------------------------------------------------------------------------
class SimpleCnn(nn.Module):
    """Three blocks of 3×3 conv + ReLU, batch norm, 2×2 max-pool (8 → 16 → 32 filters), flatten, a linear classifier."""

    def __init__(self, size, channels, classes):
        super().__init__()
        widths = [channels, 8, 16, 32]
        for i in range(1, 4):
            conv = nn.Conv2d(widths[i - 1], widths[i], 3, padding=1)
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
            nn.init.zeros_(conv.bias)
            setattr(self, f"conv{i}", conv)
            # Keras' momentum 0.8 is PyTorch's 0.2; TF.js's default epsilon is 1e-3.
            setattr(self, f"bn{i}", nn.BatchNorm2d(widths[i], eps=1e-3, momentum=0.2))
        side = size // 8
        self.logits = nn.Linear(32 * side * side, classes)
        nn.init.zeros_(self.logits.weight)
        nn.init.zeros_(self.logits.bias)

    def forward(self, x):
        for i in range(1, 4):
            x = F.max_pool2d(getattr(self, f"bn{i}")(F.relu(getattr(self, f"conv{i}")(x))), 2)
        # TF.js flattens channels-last: the classifier's inputs are in NHWC order, as the studio's weights expect.
        return self.logits(x.permute(0, 2, 3, 1).flatten(1))


class Head(nn.Module):
    """linear: Dense(n); medical: Dropout 0.3 → Dense 128 ReLU → Dropout 0.25 → Dense n; mlp: Dense 100 ReLU → Dense n."""

    def __init__(self, kind, features, classes):
        super().__init__()
        self.kind = kind
        hidden = {"medical": 128, "mlp": 100}.get(kind)
        if hidden:
            self.head_dense = nn.Linear(features, hidden)
            nn.init.kaiming_normal_(self.head_dense.weight, nonlinearity="relu")
            nn.init.zeros_(self.head_dense.bias)
        self.logits = nn.Linear(hidden or features, classes)
        nn.init.xavier_uniform_(self.logits.weight)
        nn.init.zeros_(self.logits.bias)

    def forward(self, x):
        if self.kind == "medical":
            x = F.dropout(x, 0.3, self.training)
            x = F.dropout(F.relu(self.head_dense(x)), 0.25, self.training)
        elif self.kind == "mlp":
            x = F.relu(self.head_dense(x))
        return self.logits(x)


# torchvision's own classifier, replaced by the studio's head; the backbone's blocks (what `trainableBlocks` counts, input
# side first) as module or parameter names, as src/core/models/strategies.ts groups the studio's layers.
CLASSIFIER = {"resnet": "fc", "efficientnet": "classifier", "vit": "heads", "swin": "head"}


def family(architecture):
    return next(f for f in CLASSIFIER if architecture.startswith(f))


def backbone_blocks(architecture, net):
    f = family(architecture)
    if f == "resnet":
        return [["conv1", "bn1", "relu", "maxpool"], ["layer1"], ["layer2"], ["layer3"], ["layer4"]]
    if f == "efficientnet":
        return [[f"features.{i}"] for i in range(len(net.features))]
    if f == "vit":
        layers = [[f"encoder.layers.{name}"] for name, _ in net.encoder.layers.named_children()]
        layers[-1].append("encoder.ln")  # the final LayerNorm trains with the last encoder layer
        return [["conv_proj", "class_token", "encoder.pos_embedding"]] + layers
    # Swin: the patch embedding, then each stage with the patch merging before it; the final norm with the last stage.
    stages = [["features.0"], ["features.1"]] + [[f"features.{i}", f"features.{i + 1}"] for i in range(2, len(net.features), 2)]
    stages[-1].append("norm")
    return stages


class Classifier(nn.Module):
    def __init__(self, backbone, head):
        super().__init__()
        self.backbone = backbone
        self.studio_head = head

    def forward(self, x):
        return self.studio_head(self.backbone(x))


def build_model(cfg, args):
    classes = len(cfg["classes"])
    if cfg["architecture"] == "simple_cnn":
        return SimpleCnn(cfg["imageSize"], cfg["channels"], classes), []
    builder = getattr(torchvision.models, cfg["architecture"])
    pretrained = cfg["pretrained"] and not args.no_pretrained and not args.weights
    kwargs = {"image_size": cfg["imageSize"]} if family(cfg["architecture"]) == "vit" and not pretrained else {}
    net = builder(weights="IMAGENET1K_V1" if pretrained else None, **kwargs)
    if cfg["pretrained"] and args.weights:
        net.load_state_dict(torch.load(args.weights, map_location="cpu"))
    setattr(net, CLASSIFIER[family(cfg["architecture"])], nn.Identity())
    # The studio's networks have no stochastic depth (it is parameter-free; src/core/models/architectures/builders.ts).
    for m in net.modules():
        if isinstance(m, torchvision.ops.StochasticDepth):
            m.p = 0.0
    net.eval()
    with torch.no_grad():
        features = net(torch.zeros(1, cfg["channels"], cfg["imageSize"], cfg["imageSize"])).shape[-1]
    return Classifier(net, Head(cfg["head"], features, classes)), backbone_blocks(cfg["architecture"], net)


def contract_state_dict(model):
    """torchvision's own names for the backbone (no `backbone.` prefix), `studio_head.*` for the head; plain tensors."""
    out = {}
    for k, v in model.state_dict().items():
        out[k[len("backbone.") :] if k.startswith("backbone.") else k] = v.detach().cpu().clone()
    return out


def in_block(name, prefixes):
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def set_trainable(model, blocks, trainable_blocks):
    """The head and the backbone's last `trainable_blocks` blocks train; the rest is frozen (and runs in eval mode)."""
    if not blocks:  # the simple CNN: every weight trains
        return []
    n = len(blocks) if trainable_blocks == "all" else trainable_blocks
    frozen = [p for b in blocks[: len(blocks) - n] for p in b]
    for name, p in model.backbone.named_parameters():
        if not any(in_block(name, b) for b in blocks):
            raise RecipeError(f"backbone weight {name} belongs to no block; this torchvision version differs from the one the recipe knows")
        p.requires_grad_(not in_block(name, frozen))
    return frozen


def train_mode(model, frozen):
    """Training mode, except the frozen blocks: their BatchNorm keeps its ImageNet statistics, as in the studio."""
    model.train()
    if isinstance(model, Classifier):
        for name, m in model.backbone.named_modules():
            if name and in_block(name, frozen):
                m.eval()


# ---------------------------------------------------------------------------------------------------------------------
# Optimisation (src/core/train): optimiser, phases, schedules, loss, early stopping, the kept epoch.
# ---------------------------------------------------------------------------------------------------------------------
def make_optimizer(name, params, lr):
    # TF.js's epsilon is 1e-7; AdamW's decay 0.01 is applied to every trained weight, as PyTorch's default does.
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.999), eps=1e-7, weight_decay=0.01)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=1e-7)
    if name == "adamax":
        return torch.optim.Adamax(params, lr=lr, betas=(0.9, 0.999), eps=1e-7)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    raise RecipeError(f"unknown optimiser {name}")


def plan_phases(cfg, epochs):
    """Linear probe, then fine-tune (a tenth of the rate) for finetune runs with probe epochs; one phase otherwise."""
    lr = cfg["learningRate"]
    if cfg["strategy"] == "finetune":
        probe = min(cfg["probeEpochs"], epochs)
        phases = []
        if probe > 0:
            phases.append({"name": "probe", "from": 1, "to": probe, "blocks": 0, "lr": lr})
        if epochs > probe:
            phases.append({"name": "finetune", "from": probe + 1, "to": epochs, "blocks": cfg["trainableBlocks"], "lr": lr * 0.1 if probe > 0 else lr})
        return phases
    blocks = "all" if cfg["strategy"] == "scratch" else 0
    return [{"name": None, "from": 1, "to": epochs, "blocks": blocks, "lr": lr}]


def improves(value, best, mode, min_delta):
    return value - min_delta > best if mode == "max" else value + min_delta < best


class Schedule:
    """The phase's rate at (epoch, step), both counted from 0 within the phase (src/core/train/schedules.ts)."""

    def __init__(self, spec, base_lr, epochs, steps_per_epoch, state=None):
        self.spec, self.base, self.epochs, self.steps = spec, base_lr, epochs, steps_per_epoch
        monitor = spec.get("monitor", "valLoss")
        self.mode = spec.get("mode") or ("min" if monitor.endswith("Loss") else "max")
        self.state = state or {"lr": base_lr, "best": math.inf if self.mode == "min" else -math.inf, "wait": 0}

    def lr_at(self, epoch, step):
        s, kind = self.spec, self.spec["kind"]
        if kind == "step":
            return self.base * s["gamma"] ** (epoch // s["everyEpochs"])
        if kind == "cosine":
            t, total = (epoch * self.steps + step, self.epochs * self.steps) if s["unit"] == "step" else (epoch, self.epochs)
            warm, floor = s["warmup"], s.get("minLr", 0)
            if t < warm:
                return self.base * (t + 1) / warm
            progress = min(1, (t - warm) / max(1, total - warm))
            return floor + (self.base - floor) * 0.5 * (1 + math.cos(math.pi * progress))
        if kind == "plateau":
            return self.state["lr"]
        return self.base

    def end_epoch(self, metrics):
        if self.spec["kind"] != "plateau":
            return
        s = self.spec
        value = metrics[s.get("monitor", "valLoss")]
        if improves(value, self.state["best"], self.mode, s.get("minDelta", 0)):
            self.state.update(best=value, wait=0)
        else:
            self.state["wait"] += 1
            if self.state["wait"] >= s.get("patience", 5):
                self.state.update(lr=max(self.state["lr"] * s.get("factor", 0.1), s.get("minLr", 0)), wait=0)


def loss_fn(logits, labels, classes, smoothing, weights):
    """Softmax cross-entropy with the studio's smoothing ((1 − ε)·onehot + ε/K) and weighted mean Σ wᵢ·CEᵢ / Σ wᵢ."""
    target = F.one_hot(labels, classes).float()
    if smoothing > 0:
        target = target * (1 - smoothing) + smoothing / classes
    per_sample = -(target * F.log_softmax(logits.float(), dim=1)).sum(1)
    if weights is None:
        return per_sample.mean()
    w = weights[labels]
    return (per_sample * w).sum() / w.sum()


def class_weights(cfg, train_labels, classes):
    """The run's recorded weights; else the studio's rule: inverse frequency when the largest class > 1.5 × the smallest."""
    if cfg["classWeights"] != "auto":
        return None
    if cfg.get("classWeightValues"):
        return cfg["classWeightValues"]
    counts = [train_labels.count(k) for k in range(classes)]
    present = [n for n in counts if n > 0]
    if not (len(present) > 1 and max(present) > 1.5 * min(present)):
        return None
    return [sum(present) / (len(present) * n) if n > 0 else 0 for n in counts]


# ---------------------------------------------------------------------------------------------------------------------
# The run.
# ---------------------------------------------------------------------------------------------------------------------
def parse_args(argv):
    p = argparse.ArgumentParser(description="Train an MRI Studio experiment with PyTorch DDP (launch with torchrun).")
    p.add_argument("--data-root", required=True, help="the dataset folder (the one imported into the studio)")
    p.add_argument("--out", default="out", help="where metrics, checkpoints and model.pth go (default: out)")
    p.add_argument("--config", default=str(HERE / "config.json"), help="default: config.json next to train.py")
    p.add_argument("--split", default=str(HERE / "split.csv"), help="default: split.csv next to train.py")
    p.add_argument("--epochs", type=int, help="override the run's epochs")
    p.add_argument("--batch-size", type=int, help="override the batch size (per process; the run's by default)")
    p.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None, help="mixed precision (default: on with CUDA)")
    p.add_argument("--no-pretrained", action="store_true", help="start the backbone from random weights (no download)")
    p.add_argument("--weights", help="a torchvision ImageNet .pth file to start from instead of downloading it")
    p.add_argument("--workers", type=int, default=4, help="data-loading processes per training process (default 4)")
    p.add_argument("--allow-extra", action="store_true", help="train even if the folder has images split.csv does not list")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints/last.pth")
    return p.parse_args(argv)


def setup_distributed():
    """torchrun sets RANK, WORLD_SIZE, LOCAL_RANK; a plain `python train.py` is one process."""
    if "RANK" not in os.environ:
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return 0, 1, device
    local = int(os.environ.get("LOCAL_RANK", 0))
    if torch.cuda.is_available():
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    else:
        device = torch.device("cpu")
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size(), device


def all_sum(values, device, world):
    t = torch.tensor(values, dtype=torch.float64, device=device)
    if world > 1:
        dist.all_reduce(t)
    return t.tolist()


def to_input(images, device, mean, std, aug=None, seed=None):
    """uint8 NHWC → float NCHW in [0, 255], augmented (training), normalised as the studio's graph expects."""
    x = images.to(device, non_blocking=True).permute(0, 3, 1, 2).float()
    if aug is not None:
        x = augment(x, aug, seed)
    return (x - mean) / std


def logits_of(model, x, tta):
    y = model(x)
    return (y + model(torch.flip(x, dims=[3]))) / 2 if tta == "flip" else y


def evaluate(model, loader, device, mean, std, tta, world):
    """Mean unweighted, unsmoothed cross-entropy and accuracy over the whole split, in eval mode."""
    model.eval()
    loss, correct, n = 0.0, 0.0, 0.0
    with torch.no_grad():
        for images, labels in loader:
            labels = labels.to(device)
            y = logits_of(model, to_input(images, device, mean, std), tta).float()
            loss += F.cross_entropy(y, labels, reduction="sum").item()
            correct += (y.argmax(1) == labels).sum().item()
            n += len(labels)
    loss, correct, n = all_sum([loss, correct, n], device, world)
    return loss / n, correct / n


def save_checkpoint(path, model, state):
    tmp = path.with_suffix(".tmp")
    torch.save({"model": contract_state_dict(model), **state}, tmp)
    os.replace(tmp, path)


def main(argv):
    args = parse_args(argv)
    rank, world, device = setup_distributed()
    try:
        return run(args, rank, world, device)
    except RecipeError as err:
        if rank == 0:
            print(f"train.py: {err}", file=sys.stderr)
        return 2
    finally:
        if world > 1 or dist.is_initialized():
            dist.destroy_process_group()


def run(args, rank, world, device):
    cfg = json.loads(Path(args.config).read_text(encoding="utf-8"))
    if cfg.get("format") != "mri-studio-recipe" or cfg.get("version") != 1:
        raise RecipeError(f"{args.config} is not an MRI Studio recipe (format mri-studio-recipe, version 1)")
    classes, size, channels = cfg["classes"], cfg["imageSize"], cfg["channels"]
    epochs = args.epochs or cfg["epochs"]
    batch = args.batch_size or cfg["batchSize"]
    amp = device.type == "cuda" if args.amp is None else args.amp
    if amp and device.type != "cuda":
        raise RecipeError("--amp needs CUDA; this process has no GPU")
    out = Path(args.out)
    started_at = datetime.datetime.now(datetime.timezone.utc).isoformat()

    rows = read_split(args.split)
    unknown = sorted({r["class"] for r in rows} - set(classes))
    if unknown:
        raise RecipeError(f"split.csv names classes config.json does not: {', '.join(unknown)}")
    # One process checks the folder (hashing every file once) and hands the result to the others.
    found = [None]
    if rank == 0:
        try:
            found[0] = [str(p) for p in match_folder(args.data_root, rows, args.allow_extra, set(cfg["dataset"].get("leftOut") or []))]
        except RecipeError as err:
            found[0] = err
    if world > 1:
        dist.broadcast_object_list(found, src=0)
    if isinstance(found[0], RecipeError):
        raise found[0]
    paths = found[0]
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    label = {c: k for k, c in enumerate(classes)}
    parts = {s: [(p, label[r["class"]], r) for p, r in zip(paths, rows) if r["split"] == s] for s in ("train", "val", "test")}
    if not parts["train"] or not parts["val"]:
        raise RecipeError("split.csv needs training and validation images")

    torch.manual_seed(cfg["seed"])
    # The first process downloads the ImageNet weights (once, into torch's cache) before the others read them.
    if world > 1 and rank != 0:
        dist.barrier()
    model, blocks = build_model(cfg, args)
    if world > 1 and rank == 0:
        dist.barrier()
    model.to(device)
    norm = cfg["normalization"]
    mean = torch.tensor(norm["mean"], device=device).view(1, -1, 1, 1) * 255
    std = torch.tensor(norm["std"], device=device).view(1, -1, 1, 1) * 255
    aug = cfg["augment"]
    tta = cfg["tta"]
    train_labels = [lab for _, lab, _ in parts["train"]]
    weights = class_weights(cfg, train_labels, len(classes))
    weights = torch.tensor(weights, dtype=torch.float32, device=device) if weights else None
    clip = cfg["clipNorm"]

    train_set = Images([p for p, _, _ in parts["train"]], train_labels, size, channels, mirrored=cfg["mirrorTraining"])
    sampler = StudioOrderSampler(train_set, cfg["seed"], world, rank)
    loader_opts = {"num_workers": args.workers, "pin_memory": device.type == "cuda", "persistent_workers": args.workers > 0}
    train_loader = DataLoader(train_set, batch_size=batch, sampler=sampler, **loader_opts)
    val = parts["val"]
    val_set = Images([val[i][0] for i in shard(len(val), rank, world)], [val[i][1] for i in shard(len(val), rank, world)], size, channels)
    val_loader = DataLoader(val_set, batch_size=batch, **loader_opts)
    steps_per_epoch = len(train_loader)

    phases = plan_phases(cfg, epochs)
    es_cfg = cfg["earlyStopping"]
    history, start = [], 1
    best = None  # {"epoch", "valAccuracy", "valLoss"}
    es_state = {"best": -math.inf, "wait": 0}
    resumed = None
    if args.resume and (out / "checkpoints" / "last.pth").exists():
        resumed = torch.load(out / "checkpoints" / "last.pth", map_location="cpu")
        load_contract(model, resumed["model"])
        history, best, es_state = resumed["history"], resumed["best"], resumed["earlyStopping"]
        start = resumed["epoch"] + 1
        if rank == 0:
            print(f"resuming after epoch {resumed['epoch']}", flush=True)
    scaler = make_scaler(amp)
    csv_path = out / "metrics.csv"
    if rank == 0 and not resumed:
        csv_path.write_text("epoch,phase,loss,accuracy,valLoss,valAccuracy,lr,seconds\n")

    stop = False
    for phase in phases:
        if phase["to"] < start or stop:
            continue
        frozen = set_trainable(model, blocks, phase["blocks"])
        params = [p for p in model.parameters() if p.requires_grad]
        # A new DDP wrapper per phase: it registers the weights that train, which change when blocks unfreeze.
        ddp = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None) if world > 1 else model
        optimizer = make_optimizer(cfg["optimizer"], params, phase["lr"])
        inside = resumed is not None and phase["from"] < start
        if inside:
            optimizer.load_state_dict(resumed["optimizer"])
        schedule = Schedule(cfg["lrSchedule"], phase["lr"], phase["to"] - phase["from"] + 1, steps_per_epoch, resumed.get("schedule") if inside else None)
        last_phase = phase is phases[-1]
        for epoch in range(max(start, phase["from"]), phase["to"] + 1):
            began = time.time()
            train_mode(model, frozen)
            sampler.set_epoch(epoch)
            loss_sum, correct, seen = 0.0, 0.0, 0.0
            lr = phase["lr"]
            for step, (images, labels) in enumerate(train_loader):
                lr = schedule.lr_at(epoch - phase["from"], step)
                for g in optimizer.param_groups:
                    g["lr"] = lr
                labels = labels.to(device, non_blocking=True)
                # The studio's augmentation seed per (epoch, batch); each process its own stream beyond the first.
                seed = derive_seed(cfg["seed"], "augment", epoch, step) if world == 1 else derive_seed(cfg["seed"], "augment", epoch, step, rank)
                x = to_input(images, device, mean, std, aug, seed)
                with torch.autocast(device_type="cuda", dtype=torch.float16) if amp else contextlib.nullcontext():
                    logits = ddp(x)
                loss = loss_fn(logits, labels, len(classes), cfg["labelSmoothing"], weights)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                if clip > 0:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(params, clip)
                scaler.step(optimizer)
                scaler.update()
                loss_sum += loss.item() * len(labels)
                correct += (logits.argmax(1) == labels).sum().item()
                seen += len(labels)
            loss_sum, correct, seen = all_sum([loss_sum, correct, seen], device, world)
            val_loss, val_acc = evaluate(model, val_loader, device, mean, std, tta, world)
            metrics = {"epoch": epoch, "loss": loss_sum / seen, "accuracy": correct / seen, "valLoss": val_loss, "valAccuracy": val_acc, "lr": lr, "seconds": time.time() - began}
            history.append(metrics)
            schedule.end_epoch({"valAccuracy": val_acc, "valLoss": val_loss, "trainAccuracy": metrics["accuracy"], "trainLoss": metrics["loss"]})
            # The kept epoch (src/core/train/callbacks.ts): best validation accuracy, ties to the lower loss; or the last.
            is_best = cfg["keepEpoch"] == "last" or best is None or val_acc > best["valAccuracy"] or (val_acc == best["valAccuracy"] and val_loss < best["valLoss"])
            if is_best:
                best = {"epoch": epoch, "valAccuracy": val_acc, "valLoss": val_loss}
            # Early stopping watches the last phase only (a linear probe runs its epochs in full).
            if last_phase and es_cfg:
                if improves(val_acc, es_state["best"], "max", es_cfg["minDelta"]):
                    es_state = {"best": val_acc, "wait": 0}
                else:
                    es_state["wait"] += 1
                    stop = es_state["wait"] >= es_cfg["patience"] and epoch < phase["to"]
            if rank == 0:
                with open(csv_path, "a") as f:
                    f.write(f"{epoch},{phase['name'] or ''},{metrics['loss']:.6f},{metrics['accuracy']:.6f},{val_loss:.6f},{val_acc:.6f},{lr:.8g},{metrics['seconds']:.2f}\n")
                state = {"epoch": epoch, "history": history, "best": best, "earlyStopping": es_state, "optimizer": optimizer.state_dict(), "schedule": schedule.state, "config": cfg}
                if is_best:
                    save_checkpoint(out / "checkpoints" / "best.pth", model, state)
                if cfg["saveEveryEpochs"] and epoch % cfg["saveEveryEpochs"] == 0:
                    save_checkpoint(out / "checkpoints" / f"epoch-{epoch}.pth", model, state)
                save_checkpoint(out / "checkpoints" / "last.pth", model, state)
                print(f"epoch {epoch}/{epochs}: loss {metrics['loss']:.4f} acc {metrics['accuracy']:.4f} val loss {val_loss:.4f} val acc {val_acc:.4f} lr {lr:.3g} ({metrics['seconds']:.1f} s)", flush=True)
            if stop:
                if rank == 0:
                    print(f"early stopping: no gain above {es_cfg['minDelta']} in validation accuracy for {es_cfg['patience']} epochs", flush=True)
                break
    if world > 1:
        dist.barrier()
    if rank == 0:
        finish(cfg, model, out, parts["test"], device, mean, std, tta, batch, history, best, world, amp, started_at)
    return 0


def load_contract(model, state):
    own = model.state_dict()
    prefixed = {("backbone." + k if "backbone." + k in own else k): v for k, v in state.items()}
    model.load_state_dict(prefixed)


def make_scaler(amp):
    if hasattr(torch, "amp") and hasattr(torch.amp, "GradScaler"):
        return torch.amp.GradScaler("cuda", enabled=amp)
    return torch.cuda.amp.GradScaler(enabled=amp)


def finish(cfg, model, out, test, device, mean, std, tta, batch, history, best, world, amp, started_at):
    """model.pth, predictions.json (the kept epoch on the test split) and metrics.json, from the first process."""
    kept = torch.load(out / "checkpoints" / "best.pth", map_location="cpu")
    load_contract(model, kept["model"])
    torch.save(kept["model"], out / "model.pth")
    model.eval()
    test_set = Images([p for p, _, _ in test], [lab for _, lab, _ in test], cfg["imageSize"], cfg["channels"])
    items = []
    with torch.no_grad():
        for k, (images, labels) in enumerate(DataLoader(test_set, batch_size=batch)):
            probs = F.softmax(logits_of(model, to_input(images, device, mean, std), tta).float(), dim=1).cpu().tolist()
            for j, p in enumerate(probs):
                row = test[k * batch + j][2]
                items.append({"key": row["key"], "label": int(labels[j]), "probs": p})
    (out / "predictions.json").write_text(json.dumps({"classes": cfg["classes"], "tta": tta, "items": items}) + "\n")
    metrics = {
        "format": "mri-studio-cluster-run",
        "version": 1,
        "runId": cfg["runId"],
        "architecture": cfg["architecture"],
        "classes": cfg["classes"],
        "imageSize": cfg["imageSize"],
        "channels": cfg["channels"],
        "epochs": history,
        "best": {"epoch": best["epoch"], "valAccuracy": best["valAccuracy"]},
        "torch": torch.__version__,
        "worldSize": world,
        "device": device.type,
        "amp": amp,
        "startedAt": started_at,
        "endedAt": datetime.datetime.now(datetime.timezone.utc).isoformat(),
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"kept epoch {best['epoch']} (val accuracy {best['valAccuracy']:.4f}); wrote model.pth, metrics.json, predictions.json to {out}", flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
