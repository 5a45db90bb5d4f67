#!/usr/bin/env python3
"""PyTorch mirror of ImageRetrieval's own training loop on Fashion-MNIST — this project's VARIANT of the classic
recipe, not the recipe as its authors wrote it (that is classic_recipe.py, the peer of issue 19's comparison).
It embeds a whole batch in one forward pass, mines on one distance matrix, and augments each image in a Python
loop inside the timed loop, which makes it slower than the recipe as written. Kept for compare.sh and for the
shared pieces (network, data loading, metrics) that classic_recipe.py and batch_all_recipe.py import.

Same network (NetworkFactory "classic"), same input normalisation (train mean/std inside the
network, L2-normalised output), same P x K batches, same batch-all / batch-hard mining on one
pairwise distance matrix, same hinge loss averaged over the active triplets, Adam with step decay,
flip + shift augmentation, and the same retrieval metrics (test queries against the training
gallery; P@1, Recall@K, MAP@R as pytorch-metric-learning defines them).

Prints one JSON line (snake_case keys, like `imgret train --json`).
Run with Debian's python3-torch: /usr/bin/python3 bench/pytorch/classic_reference.py --epochs 2
"""
import argparse
import gzip
import json
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(directory, split, limit):
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(os.path.join(directory, f"{prefix}-images-idx3-ubyte.gz"))[:limit]
    labels = read_idx(os.path.join(directory, f"{prefix}-labels-idx1-ubyte.gz"))[:limit]
    return images[:, None, :, :].copy(), labels.astype(np.int64)


class Classic(nn.Module):
    def __init__(self, mean, std, dim):
        super().__init__()
        self.register_buffer("mean", torch.tensor([mean]).reshape(1, 1, 1, 1))
        self.register_buffer("std", torch.tensor([std]).reshape(1, 1, 1, 1))
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 5), nn.PReLU(1), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5), nn.PReLU(1), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * 4 * 4, 256), nn.PReLU(1),
            nn.Linear(256, 256), nn.PReLU(1),
            nn.Linear(256, dim))

    def forward(self, x):
        return F.normalize(self.features((x - self.mean) / self.std), p=2, dim=1, eps=1e-12)


def pairwise(e):
    return (2 - 2 * e @ e.t()).clamp_min(1e-12).sqrt()


def masks(labels):
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool)
    return same & ~eye, ~same


def mine_batch_all(d, labels, margin):
    pos, neg = masks(labels)
    valid = pos[:, :, None] & neg[:, None, :]
    viol = (d[:, :, None] - d[:, None, :] + margin) > 0
    t = (valid & viol).nonzero()
    return t[:, 0], t[:, 1], t[:, 2]


def mine_batch_hard(d, labels, margin):
    pos, neg = masks(labels)
    anchors = (pos.any(1) & neg.any(1)).nonzero().flatten()
    p = d.masked_fill(~pos, float("-inf")).argmax(1)
    n = d.masked_fill(~neg, float("inf")).argmin(1)
    return anchors, p[anchors], n[anchors]


def pk_batches(labels, p, k, rng):
    by_class = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    orders = [rng.permutation(ix) for ix in by_class]
    pos = [0] * len(by_class)
    for _ in range(max(1, len(labels) // (p * k))):
        batch = []
        for c in rng.permutation(len(by_class))[:p]:
            for _ in range(k):
                if pos[c] == len(orders[c]):
                    orders[c] = rng.permutation(by_class[c])
                    pos[c] = 0
                batch.append(orders[c][pos[c]])
                pos[c] += 1
        yield np.array(batch)


def random_triplets(labels, t, rng):
    """The classic recipe's draw: every image an anchor once per epoch (shuffled), a random other image of
    its class, a random image of a random other class; batches laid out [anchors | positives | negatives]."""
    classes = np.unique(labels)
    by_class = {c: np.flatnonzero(labels == c) for c in classes}
    order = rng.permutation([i for i in range(len(labels)) if len(by_class[labels[i]]) >= 2])
    for s in range(0, len(order), t):
        a = order[s:s + t]
        p, n = [], []
        for i in a:
            c = labels[i]
            same = by_class[c]
            j = i
            while j == i:
                j = same[rng.integers(len(same))]
            p.append(j)
            others = classes[classes != c]
            oc = others[rng.integers(len(others))]
            n.append(by_class[oc][rng.integers(len(by_class[oc]))])
        yield np.concatenate([a, np.array(p), np.array(n)])


def augment(x, rng, shift):
    out = np.zeros_like(x, dtype=np.float32)
    h, w = x.shape[2], x.shape[3]
    for i in range(len(x)):
        img = x[i, 0][:, ::-1] if rng.integers(2) else x[i, 0]
        dx, dy = rng.integers(-shift, shift + 1, size=2) if shift else (0, 0)
        ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
        xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
        out[i, 0, yd, xd] = img[ys, xs]
    return out


@torch.no_grad()
def embed(model, images, batch=500):
    model.eval()
    return torch.cat([model(torch.from_numpy(images[i:i + batch].astype(np.float32))) for i in range(0, len(images), batch)]).numpy()


def retrieval_metrics(q, ql, g, gl, chunk=256):
    counts = np.bincount(gl, minlength=ql.max() + 1)
    gnorm = (g * g).sum(1)
    p1 = r5 = r10 = ap = 0.0
    for s in range(0, len(q), chunk):
        scores = gnorm[None, :] - 2 * q[s:s + chunk] @ g.T
        for i in range(scores.shape[0]):
            label = ql[s + i]
            r = counts[label]
            depth = max(r, 10)
            top = np.argpartition(scores[i], depth - 1)[:depth]
            top = top[np.lexsort((top, scores[i][top]))]
            rel = gl[top] == label
            p1 += rel[0]
            r5 += rel[:5].any()
            r10 += rel[:10].any()
            hits = np.cumsum(rel[:r])
            ap += (hits / np.arange(1, r + 1) * rel[:r]).sum() / r
    n = len(q)
    return dict(precision_at_1=p1 / n, recall_at_5=r5 / n, recall_at_10=r10 / n, map_at_r=ap / n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.environ.get("IMAGERETRIEVAL_DATA", "/usr/share/datasets/fashion-mnist"))
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("-p", type=int, default=10)
    ap.add_argument("-k", type=int, default=25)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--lr-step", type=int, default=8)
    ap.add_argument("--lr-decay", type=float, default=0.1)
    ap.add_argument("--margin", type=float, default=0.2)
    ap.add_argument("--miner", choices=["batch-all", "batch-hard", "random"], default="batch-all")
    ap.add_argument("--shift", type=int, default=2)
    ap.add_argument("--limit", type=int, default=60000)
    ap.add_argument("--validation-limit", type=int, default=10000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    x, y = load(args.data, "train", args.limit)
    xt, yt = load(args.data, "test", args.validation_limit)
    model = Classic(float(x.mean()), float(x.std()), args.dim)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    mine = mine_batch_all if args.miner == "batch-all" else mine_batch_hard
    epoch_seconds, rates, cpu_rates, losses = [], [], [], []
    for epoch in range(args.epochs):
        for group in opt.param_groups:
            group["lr"] = args.lr * (args.lr_decay ** (epoch // args.lr_step) if args.lr_step else 1)
        model.train()
        start, cpu_start, seen, total = time.perf_counter(), time.process_time(), 0, 0.0
        batches = 0
        batch_source = random_triplets(y, args.p * args.k, rng) if args.miner == "random" else pk_batches(y, args.p, args.k, rng)
        for idx in batch_source:
            inputs = torch.from_numpy(augment(x[idx], rng, args.shift))
            labels = torch.from_numpy(y[idx])
            d = pairwise(model(inputs))
            with torch.no_grad():
                if args.miner == "random":
                    t = len(idx) // 3
                    a = torch.arange(t)
                    p, n = a + t, a + 2 * t
                else:
                    a, p, n = mine(d.detach(), labels, args.margin)
            hinge = (d[a, p] - d[a, n] + args.margin).relu()
            active = int((hinge > 0).sum())
            loss = hinge.sum() / active if active else hinge.sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss)
            seen += len(idx)
            batches += 1
        seconds = time.perf_counter() - start
        cpu_rates.append(seen / (time.process_time() - cpu_start))
        epoch_seconds.append(seconds)
        rates.append(seen / seconds)
        losses.append(total / batches)
    metrics = retrieval_metrics(embed(model, xt), yt, embed(model, x), y)
    print(json.dumps(dict(framework="pytorch " + torch.__version__, epochs=args.epochs, loss=losses[-1],
                          images_per_second=float(np.median(rates)),
                          images_per_cpu_second=float(np.median(cpu_rates)), train_seconds=sum(epoch_seconds), **metrics)))


if __name__ == "__main__":
    main()
