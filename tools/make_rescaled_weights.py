#!/usr/bin/python3
"""Writes a VGG19 weights file that is NOT ImageNet's, with activations of ImageNet's order of magnitude.

torchvision's VGG19 initialization (seeded), each conv/linear layer rescaled in forward order so that its output has unit
standard deviation on 256 real training images (tools/compare_pytorch.py's make_weights), saved in torchvision's legacy
.pth format. A random network's fc7 values are tiny; this file's are of order 1 (mean |fc7| 0.40 on CIFAR-10 sample
images at 112×112, measured for issue 22), so a run with it exercises every learning rate, loss and chart at realistic
scales without the real weights, and every notebook must label it "not torchvision's ImageNet file".

Usage: /usr/bin/python3 tools/make_rescaled_weights.py --data DIR --out FILE [--image-size 112] [--seed 0]
  DIR holds cifar-10-batches-bin (e.g. `nvgg data extract ../shared/data/cifar-10-sample-binary.tar.gz --data DIR`).
  Write FILE outside the repository (it is 548 MB and must not be committed).
Needs Debian's python3-torch, python3-torchvision and python3-numpy.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_pytorch import load_splits, make_weights  # noqa: E402  (one definition of the protocol and the rescaling)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="folder holding cifar-10-batches-bin")
    p.add_argument("--out", required=True, help="the .pth file to write (outside the repository)")
    p.add_argument("--image-size", type=int, default=112, help="input side the activations are measured at (default 112)")
    p.add_argument("--seed", type=int, default=0, help="torchvision initialization seed (default 0)")
    args = p.parse_args()
    (train_x, _), _, _ = load_splits(args.data)
    make_weights(args.out, train_x[:256], args.image_size, seed=args.seed)
    print(f"wrote {args.out}: torchvision's VGG19 init (seed {args.seed}) rescaled to unit activations at {args.image_size}×{args.image_size}")


if __name__ == "__main__":
    main()
