#!/usr/bin/env python3
"""The classic triplet recipe in PyTorch, as the original tutorial writes it — the peer `imgret train --miner random`
is measured against (issue 19).

- a `Dataset` whose `__getitem__(i)` returns image i as the anchor, a random other image of its class as the positive
  and a random image of a random other class as the negative;
- `DataLoader(dataset, batch_size=64, shuffle=True)` (no workers: the tutorial's loader);
- the network of `NetworkFactory` "classic" (conv 5x5 32 + PReLU + max-pool, conv 5x5 64 + PReLU + max-pool,
  FC 1024-256-256-64 with PReLU; train mean/std inside the network; L2-normalised output) — the same as ours;
- three forward passes of 64 images (anchors, positives, negatives), `nn.TripletMarginLoss(margin=1.0)`,
  Adam 1e-3, `torch.set_num_threads(THREADS)`, no augmentation.

Nothing is moved out of the timed loop that the recipe has inside it; the only liberty taken is in the recipe's
favour: the images are converted to one float tensor once, so `__getitem__` indexes it instead of converting a
PIL image per item. Per-phase wall times (loader = waiting for the DataLoader's next batch, forward = the three
passes, loss, backward = zero_grad + backward, step = Adam) are summed over the run and given as per-step medians. After the epoch, the test images are embedded as queries against the training images as gallery with the
metrics of `imgret train` (P@1, Recall@K, MAP@R; classic_reference.py's implementation).

Prints one JSON line. Run with Debian's python3-torch:
  OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/pytorch/classic_recipe.py --threads 2
"""
import argparse
import json
import os
import random
import sys
import time

sys.dont_write_bytecode = True  # importing classic_reference must not leave __pycache__ in the repository

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402

from classic_reference import Classic, embed, load, retrieval_metrics  # noqa: E402


class TripletDataset(Dataset):
    """Image i as the anchor, a random other image of its class, a random image of a random other class."""

    def __init__(self, images, labels):
        self.images = torch.from_numpy(images.astype(np.float32))  # [N, 1, 28, 28], raw 0-255
        self.labels = labels
        self.classes = sorted(set(labels.tolist()))
        self.by_class = {c: np.flatnonzero(labels == c).tolist() for c in self.classes}

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        label = int(self.labels[index])
        same = self.by_class[label]
        positive = index
        while positive == index:
            positive = random.choice(same)
        other = random.choice([c for c in self.classes if c != label])
        negative = random.choice(self.by_class[other])
        return self.images[index], self.images[positive], self.images[negative]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.environ.get("IMAGERETRIEVAL_DATA", "/usr/share/datasets/fashion-mnist"))
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--margin", type=float, default=1.0)
    ap.add_argument("--limit", type=int, default=60000)
    ap.add_argument("--validation-limit", type=int, default=10000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    x, y = load(args.data, "train", args.limit)
    xt, yt = load(args.data, "test", args.validation_limit)
    model = Classic(float(x.mean()), float(x.std()), args.dim)
    loader = DataLoader(TripletDataset(x, y), batch_size=args.batch, shuffle=True)
    criterion = nn.TripletMarginLoss(margin=args.margin)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)

    names = ["loader", "forward", "loss", "backward", "step"]
    steps = {name: [] for name in names}
    triplets = 0
    losses = []
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(args.epochs):
        model.train()
        total, batches = 0.0, 0
        mark = time.perf_counter()
        for anchor, positive, negative in loader:
            t0 = time.perf_counter()
            ea, ep, en = model(anchor), model(positive), model(negative)
            t1 = time.perf_counter()
            loss = criterion(ea, ep, en)
            t2 = time.perf_counter()
            optimizer.zero_grad()
            loss.backward()
            t3 = time.perf_counter()
            optimizer.step()
            t4 = time.perf_counter()
            for name, seconds in zip(names, (t0 - mark, t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                steps[name].append(seconds)
            total += float(loss)
            batches += 1
            triplets += anchor.shape[0]
            mark = time.perf_counter()
        losses.append(total / batches)
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    metrics = retrieval_metrics(embed(model, xt), yt, embed(model, x), y)
    print(json.dumps(dict(
        framework="pytorch " + torch.__version__, recipe="classic, as written (Dataset + DataLoader, 3 forward passes, nn.TripletMarginLoss)",
        threads=args.threads, epochs=args.epochs, loss=losses[-1], train_seconds=seconds,
        triplets_per_second=triplets / seconds, images_per_second=3 * triplets / seconds,
        images_per_cpu_second=3 * triplets / cpu_seconds,
        phase_seconds={k: round(sum(v), 3) for k, v in steps.items()},
        phase_median_ms={k: round(1000 * float(np.median(v)), 2) for k, v in steps.items()},
        p_at_1=metrics["precision_at_1"], recall_at_5=metrics["recall_at_5"], recall_at_10=metrics["recall_at_10"],
        map_at_r=metrics["map_at_r"])))


if __name__ == "__main__":
    main()
