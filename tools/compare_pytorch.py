#!/usr/bin/python3
"""Features mode, nvgg against PyTorch: the same protocol, the same weights file, the same CIFAR-10 images.

Protocol (both sides): CIFAR-10 binary files from --data; validation = the last 10 % of each training file
(the tutorial's split), train = the rest, test = test_batch.bin. Images → [0,1] → bilinear resize to
--image-size (align_corners=False) → ImageNet mean/std. VGG19 in eval mode, features = the output of
classifier.4 (fc7 after its ReLU, 4,096 values), computed once. A new Linear(4096 → 10) trained on them with
Adam (weight decay as L2), cosine decay per step, label smoothing, batch --batch-size, shuffled each epoch;
the last epoch's head is evaluated on the test split. nvgg runs it as `nvgg train --mode features` (features
cached) then `nvgg eval` (which runs the whole network again on the raw test images).

The weights: ImageNet's vgg19 file cannot be downloaded here, so the script makes a VGG19 in PyTorch —
torchvision's initialization with a fixed seed, then each conv/linear layer rescaled in forward order so its
output has unit standard deviation on 256 training images (LSUV-style; torchvision's init shrinks activations
about 50x by fc7, which makes a linear head on them slow and noisy to train) — and saves it in torchvision's
legacy .pth format, the format of the real file. Random conv features are far weaker than ImageNet's, so the
accuracy is low (about a third); the point is that both implementations reach the same figure. With --weights
FILE (e.g. the real vgg19-dcbb9e9d.pth where it can be downloaded) the script uses that file instead.

Head training is random (initialization, shuffling) and the two sides draw different numbers, so each side
runs --seeds and the means are compared: exit status 1 when they differ by more than --tolerance points.

Needs Debian's python3-torch, python3-torchvision and python3-numpy (tools/compare-pytorch.sh installs them).
"""
import argparse
import hashlib
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def read_batch(path):
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % 3073:
        sys.exit(f"compare_pytorch: {path}: {raw.size} bytes is not a whole number of 3,073-byte CIFAR-10 records")
    records = raw.reshape(-1, 3073)
    return torch.from_numpy(records[:, 1:].reshape(-1, 3, 32, 32).copy()), torch.from_numpy(records[:, 0].astype(np.int64))


def load_splits(data):
    folder = data if os.path.exists(os.path.join(data, "test_batch.bin")) else os.path.join(data, "cifar-10-batches-bin")
    train_x, train_y, val_x, val_y = [], [], [], []
    for i in range(1, 6):
        x, y = read_batch(os.path.join(folder, f"data_batch_{i}.bin"))
        keep = len(x) - int(round(len(x) * 0.1))  # the last 10 % of each file is validation
        train_x.append(x[:keep]); train_y.append(y[:keep]); val_x.append(x[keep:]); val_y.append(y[keep:])
    test_x, test_y = read_batch(os.path.join(folder, "test_batch.bin"))
    return (torch.cat(train_x), torch.cat(train_y)), (torch.cat(val_x), torch.cat(val_y)), (test_x, test_y)


def prepare(uint8_batch, size):
    x = uint8_batch.float() / 255
    if size != 32:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return (x - MEAN) / STD


def fc7_layers(model):
    return list(model.features) + [model.avgpool, torch.nn.Flatten()] + list(model.classifier[:5])


@torch.no_grad()
def make_weights(path, images, size, seed):
    """torchvision's VGG19 init (seed), each conv/linear rescaled in forward order to unit output std on `images`."""
    torch.manual_seed(seed)
    model = torchvision.models.vgg19().eval()
    x = prepare(images, size)
    for layer in fc7_layers(model):
        y = layer(x)
        if isinstance(layer, (torch.nn.Conv2d, torch.nn.Linear)):
            s = y.std().item()
            layer.weight.div_(s)
            layer.bias.div_(s)
            y = y / s  # what the rescaled layer returns: weights and bias scaled alike
        x = y
    tmp = path + ".tmp"
    torch.save(model.state_dict(), tmp, _use_new_zipfile_serialization=False)  # torchvision's published files are legacy pickles
    os.replace(tmp, path)


@torch.no_grad()
def fc7_features(model, images, size, batch=64):
    layers = torch.nn.Sequential(*fc7_layers(model)).eval()
    return torch.cat([layers(prepare(images[i:i + batch], size)) for i in range(0, len(images), batch)])


def train_head(features, labels, test_features, test_labels, args, seed):
    torch.manual_seed(seed)
    head = torch.nn.Linear(features.shape[1], 10)
    opt = torch.optim.Adam(head.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    steps_per_epoch = math.ceil(len(features) / args.batch_size)
    step = 0
    for epoch in range(args.epochs):
        order = torch.randperm(len(features), generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
        for start in range(0, len(order), args.batch_size):
            factor = 0.5 * (1 + math.cos(math.pi * min(1.0, step / steps_per_epoch / args.epochs)))
            for group in opt.param_groups:
                group["lr"] = args.lr * factor
            idx = order[start:start + args.batch_size]
            loss = F.cross_entropy(head(features[idx]), labels[idx], label_smoothing=args.label_smoothing)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
    with torch.no_grad():
        return (head(test_features).argmax(1) == test_labels).sum().item() / len(test_labels)


def run_json(command):
    print("+ " + shlex.join(command), file=sys.stderr, flush=True)
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        sys.exit(f"compare_pytorch: '{shlex.join(command)}' failed with exit status {done.returncode}")
    return json.loads(done.stdout)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="folder holding cifar-10-batches-bin")
    p.add_argument("--workdir", required=True, help="where the weights file, checkpoints and feature cache go")
    p.add_argument("--nvgg", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "nvgg"),
                   help="how to run nvgg, split like a shell would (e.g. 'dotnet lib/NotebookVgg.Cli/bin/Release/net10.0/nvgg.dll')")
    p.add_argument("--weights", help="a VGG19 weights file to use instead of the generated one")
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--tolerance", type=float, default=2.0, help="largest allowed difference of the mean test accuracies, in points")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--nvgg-option", action="append", default=[], metavar="OPTION",
                   help="an extra option for nvgg train, e.g. --nvgg-option=--precision=fp32 (repeat for more)")
    p.add_argument("--out", help="write the result as JSON here")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    os.makedirs(args.workdir, exist_ok=True)

    (train_x, train_y), (val_x, val_y), (test_x, test_y) = load_splits(args.data)
    print(f"data: {len(train_x):,} train, {len(val_x):,} validation, {len(test_x):,} test images", file=sys.stderr)
    weights = args.weights
    if weights is None:
        weights = os.path.join(args.workdir, "vgg19-lsuv-seed0.pth")
        make_weights(weights, train_x[:256], args.image_size, seed=0)
    model = torchvision.models.vgg19()
    model.load_state_dict(torch.load(weights, map_location="cpu"))
    model.eval()

    clock = time.perf_counter()
    train_f = fc7_features(model, train_x, args.image_size)
    test_f = fc7_features(model, test_x, args.image_size)
    pytorch_feature_seconds = time.perf_counter() - clock
    print(f"pytorch: fc7 features in {pytorch_feature_seconds:.1f} s", file=sys.stderr)
    pytorch = [train_head(train_f, train_y, test_f, test_y, args, seed) for seed in seeds]
    print(f"pytorch: test accuracy {', '.join(f'{a:.2%}' for a in pytorch)}", file=sys.stderr)

    nvgg = shlex.split(args.nvgg)
    nvgg_train, nvgg_eval = [], []
    for seed in seeds:
        checkpoint = os.path.join(args.workdir, f"nvgg-seed{seed}.zip")
        trained = run_json(nvgg + ["train", "--data", args.data, "--weights", weights, "--mode", "features", "--cut", "fc7",
                            "--image-size", str(args.image_size), "--interpolation", "bilinear", "--epochs", str(args.epochs),
                            "--batch-size", str(args.batch_size), "--lr", str(args.lr), "--optimizer", "adam",
                            "--weight-decay", str(args.weight_decay), "--schedule", "cosine", "--warmup", "0",
                            "--label-smoothing", str(args.label_smoothing), "--seed", str(seed), "--device", "cpu",
                            "--limit-train", "all", "--limit-test", "all", "--checkpoint", checkpoint, "--json", *args.nvgg_option])
        evaluated = run_json(nvgg + ["eval", "--data", args.data, "--checkpoint", checkpoint, "--json"])
        if trained["test"]["count"] != len(test_x) or evaluated["count"] != len(test_x):
            sys.exit(f"compare_pytorch: nvgg tested {trained['test']['Count']} / {evaluated['Count']} images, expected {len(test_x)}")
        nvgg_train.append(trained["test"]["accuracy"])
        nvgg_eval.append(evaluated["accuracy"])
    print(f"nvgg train: test accuracy {', '.join(f'{a:.2%}' for a in nvgg_train)}", file=sys.stderr)
    print(f"nvgg eval:  test accuracy {', '.join(f'{a:.2%}' for a in nvgg_eval)}", file=sys.stderr)

    mean = lambda xs: sum(xs) / len(xs)
    difference = 100 * (mean(nvgg_eval) - mean(pytorch))
    result = {
        "what": "features mode (fc7, new linear head): nvgg train + nvgg eval against the same protocol in PyTorch",
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        "pytorch": torch.__version__,
        "weights": {"path": os.path.abspath(weights), "sha256": sha256(weights), "generated": args.weights is None},
        "data": {"folder": os.path.abspath(args.data), "train": len(train_x), "validation": len(val_x), "test": len(test_x)},
        "protocol": {k: getattr(args, k) for k in ("image_size", "epochs", "batch_size", "lr", "weight_decay", "label_smoothing")}
                    | {"seeds": seeds, "nvggOptions": args.nvgg_option},
        "accuracy": {"pytorch": pytorch, "nvggTrain": nvgg_train, "nvggEval": nvgg_eval},
        "meanAccuracy": {"pytorch": mean(pytorch), "nvggTrain": mean(nvgg_train), "nvggEval": mean(nvgg_eval)},
        "differencePoints": difference,
        "tolerancePoints": args.tolerance,
        "passed": abs(difference) <= args.tolerance,
    }
    if args.out:
        with open(args.out + ".tmp", "w") as f:
            json.dump(result, f, indent=2)
        os.replace(args.out + ".tmp", args.out)
    print(f"features mode: PyTorch {mean(pytorch):.2%}, nvgg {mean(nvgg_eval):.2%} (train-time {mean(nvgg_train):.2%}) over seeds {args.seeds}: "
          f"difference {difference:+.2f} points, tolerance {args.tolerance:.1f}: {'PASSED' if result['passed'] else 'FAILED'}")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
