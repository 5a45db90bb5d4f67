#!/usr/bin/python3
"""The seed's stack, for a side-by-side reference: embeds a folder of photographs with PyTorch + torchvision's ResNet-18
(Debian python3-torch 1.13, python3-torchvision 0.14, python3-pil) the way the seed project did: PIL decode, Resize(256),
CenterCrop(224), ToTensor, Normalize(ImageNet mean/std), batches of 64 through a DataLoader, 512-d pooled features
(fc replaced by Identity), L2-normalised.

No pretrained torchvision weights can be downloaded here, so the network is randomly initialised: the arithmetic (and
so the time) is the same as with ImageNet weights. The time counted is the whole pass, from file names to normalised
vectors, after one untimed warm-up batch.

Threads: torch.set_num_threads(THREADS) for the model; set OPENBLAS_NUM_THREADS=1 in the environment (with
libopenblas0-pthread installed) so BLAS does not add threads of its own. --workers N decodes in N DataLoader worker
processes (0: in the main process, between batches). --draft asks PIL to decode JPEGs at reduced scale (libjpeg DCT
scaling, Image.draft) before Resize(256): not what torchvision does by default, measured to show the peer's best.

Prints one JSON object: images, seconds per run, images_per_second (median), settings.
Usage: pytorch_embed.py DIR [--threads 2] [--workers 0] [--batch 64] [--runs 3] [--limit N] [--draft]
"""
import argparse
import json
import os
import statistics
import time

import torch
import torchvision
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms


class Files(Dataset):
    def __init__(self, files, draft):
        self.files = files
        self.draft = draft
        self.transform = transforms.Compose([
            transforms.Resize(256),
            transforms.CenterCrop(224),
            transforms.ToTensor(),
            transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
        ])

    def __len__(self):
        return len(self.files)

    def __getitem__(self, index):
        with Image.open(self.files[index]) as image:
            if self.draft:
                image.draft("RGB", (256, 256))  # the smallest DCT scale that keeps both sides >= 256 (for Resize(256))
            return self.transform(image.convert("RGB"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--draft", action="store_true")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    files = sorted(os.path.join(root, f) for root, _, names in os.walk(args.folder) for f in names
                   if f.lower().endswith((".jpg", ".jpeg", ".png")))
    if args.limit:
        files = files[:args.limit]
    model = torchvision.models.resnet18(weights=None)
    model.fc = torch.nn.Identity()
    model.eval()
    loader = DataLoader(Files(files, args.draft), batch_size=args.batch, shuffle=False, num_workers=args.workers)

    with torch.no_grad():
        warm = next(iter(DataLoader(Files(files[:args.batch], args.draft), batch_size=args.batch)))
        model(warm)
        seconds = []
        for _ in range(args.runs):
            start = time.perf_counter()
            count = 0
            for batch in loader:
                vectors = torch.nn.functional.normalize(model(batch), dim=1)
                count += vectors.shape[0]
            seconds.append(time.perf_counter() - start)
    assert count == len(files)
    print(json.dumps({
        "images": len(files), "seconds": seconds, "images_per_second": len(files) / statistics.median(seconds),
        "threads": args.threads, "workers": args.workers, "batch": args.batch, "draft": args.draft,
        "torch": torch.__version__, "torchvision": torchvision.__version__,
        "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
    }))


if __name__ == "__main__":
    main()
