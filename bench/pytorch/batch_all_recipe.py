#!/usr/bin/env python3
"""ImageRetrieval's default recipe (batch-all mining on P x K batches) in PyTorch, written the vectorised way:
the peer `imgret train` (its defaults) is measured against (issue 19).

Per batch: P classes x K images (a shuffled cycle per class), one forward pass of the B = P*K images, ONE pairwise
distance matrix (sqrt(max(2 - 2 cos, 1e-12)) on the L2-normalised embeddings), every valid triplet that violates the
margin mined from it in tensor ops, the hinge averaged over the triplets with positive loss, Adam with a per-batch
cosine schedule down to 1 % of the rate. The network is NetworkFactory's "classic" (classic_reference.Classic).

--layout kb (default) mines on a [B, K-1, B] block (each anchor's positives gathered by a top-k over the positive
mask), as ImageRetrieval does; --layout full uses pytorch-metric-learning's [B, B, B] masks. Both return the same
triplets. --augment shift-flip applies a random horizontal flip and a +-2 px shift (zero fill) to the whole batch
in tensor ops (no per-image Python loop); the default, none, matches `imgret train --augment none`.

Per-phase wall times (batch = indexing + augmentation, forward, distances + mining, loss, backward = zero_grad +
backward, step = Adam) are summed over the run and given as per-step medians. After training, the test images are
embedded as queries against the training images as gallery (P@1, Recall@K, MAP@R as `imgret train` computes them).

Prints one JSON line. Run with Debian's python3-torch:
  OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/pytorch/batch_all_recipe.py --epochs 1 --threads 2
"""
import argparse
import json
import math
import os
import sys
import time

sys.dont_write_bytecode = True  # importing classic_reference must not leave __pycache__ in the repository

import numpy as np  # noqa: E402
import torch  # noqa: E402

from classic_reference import Classic, embed, load, pk_batches, retrieval_metrics  # noqa: E402


def pairwise(e):
    return (2 - 2 * e @ e.t()).clamp_min(1e-12).sqrt()


def masks(labels):
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool)
    return same & ~eye, ~same


def batch_all_kb(d, labels, margin):
    positive, negative = masks(labels)
    most = int(positive.sum(1).max())
    flags, positive_index = positive.float().topk(most, dim=1)  # each anchor's positives first
    dap = d.gather(1, positive_index)
    violation = (dap.unsqueeze(2) - d.unsqueeze(1) + margin) > 0  # [B, K-1, B]
    valid = (flags > 0).unsqueeze(2) & negative.unsqueeze(1) & violation
    t = valid.nonzero()
    return t[:, 0], positive_index[t[:, 0], t[:, 1]], t[:, 2]


def batch_all_full(d, labels, margin):
    positive, negative = masks(labels)
    valid = positive.unsqueeze(2) & negative.unsqueeze(1) & ((d.unsqueeze(2) - d.unsqueeze(1) + margin) > 0)  # [B, B, B]
    t = valid.nonzero()
    return t[:, 0], t[:, 1], t[:, 2]


def augment(x, generator, shift):
    """Flip then shift, target(y, x) = flipped(y - dy, x - dx), zero fill; x is [N, 1, H, W] float."""
    n, _, h, w = x.shape
    flip = torch.rand(n, generator=generator) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    if shift == 0:
        return x
    dy = torch.randint(-shift, shift + 1, (n,), generator=generator)
    dx = torch.randint(-shift, shift + 1, (n,), generator=generator)
    padded = torch.nn.functional.pad(x, (shift, shift, shift, shift))
    rows = torch.arange(h)[None, :] - dy[:, None] + shift  # [N, H] rows of the padded image
    cols = torch.arange(w)[None, :] - dx[:, None] + shift
    return padded[torch.arange(n)[:, None, None], 0, rows[:, :, None], cols[:, None, :]].unsqueeze(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.environ.get("IMAGERETRIEVAL_DATA", "/usr/share/datasets/fashion-mnist"))
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("-p", type=int, default=10)
    ap.add_argument("-k", type=int, default=25)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--margin", type=float, default=0.2)
    ap.add_argument("--layout", choices=["kb", "full"], default="kb")
    ap.add_argument("--augment", choices=["none", "shift-flip"], default="none")
    ap.add_argument("--shift", type=int, default=2)
    ap.add_argument("--limit", type=int, default=60000)
    ap.add_argument("--validation-limit", type=int, default=10000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    x, y = load(args.data, "train", args.limit)
    xt, yt = load(args.data, "test", args.validation_limit)
    images = torch.from_numpy(x.astype(np.float32))
    labels_all = torch.from_numpy(y)
    model = Classic(float(x.mean()), float(x.std()), args.dim)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    mine = batch_all_kb if args.layout == "kb" else batch_all_full
    batches_per_epoch = max(1, len(y) // (args.p * args.k))

    names = ["batch", "forward", "mining", "loss", "backward", "step"]
    steps = {name: [] for name in names}
    seen, total_steps, losses = 0, 0, []
    start, cpu_start = time.perf_counter(), time.process_time()
    for epoch in range(args.epochs):
        model.train()
        total = 0.0
        for b, idx in enumerate(pk_batches(y, args.p, args.k, rng)):
            progress = (epoch + b / batches_per_epoch) / args.epochs
            for group in optimizer.param_groups:
                group["lr"] = args.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(max(progress, 0), 1))))
            t0 = time.perf_counter()
            index = torch.from_numpy(idx)
            inputs = images[index]
            if args.augment == "shift-flip":
                inputs = augment(inputs, generator, args.shift)
            labels = labels_all[index]
            t1 = time.perf_counter()
            d = pairwise(model(inputs))
            t2 = time.perf_counter()
            with torch.no_grad():
                a, p, n = mine(d.detach(), labels, args.margin)
            t3 = time.perf_counter()
            hinge = (d[a, p] - d[a, n] + args.margin).relu()
            active = int((hinge > 0).sum())
            loss = hinge.sum() / active if active else hinge.sum()
            t4 = time.perf_counter()
            optimizer.zero_grad()
            loss.backward()
            t5 = time.perf_counter()
            optimizer.step()
            t6 = time.perf_counter()
            for name, seconds in zip(names, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5)):
                steps[name].append(seconds)
            total += float(loss)
            seen += len(idx)
            total_steps += 1
        losses.append(total / batches_per_epoch)
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    metrics = retrieval_metrics(embed(model, xt), yt, embed(model, x), y)
    print(json.dumps(dict(
        framework="pytorch " + torch.__version__,
        recipe=f"batch-all {args.p}x{args.k}, one distance matrix per batch, layout {args.layout}, augment {args.augment}",
        threads=args.threads, epochs=args.epochs, loss=losses[-1], train_seconds=seconds,
        images_per_second=seen / seconds, images_per_cpu_second=seen / cpu_seconds,
        phase_seconds={k: round(sum(v), 3) for k, v in steps.items()},
        phase_median_ms={k: round(1000 * float(np.median(v)), 2) for k, v in steps.items()},
        p_at_1=metrics["precision_at_1"], recall_at_5=metrics["recall_at_5"], recall_at_10=metrics["recall_at_10"],
        map_at_r=metrics["map_at_r"])))


if __name__ == "__main__":
    main()
