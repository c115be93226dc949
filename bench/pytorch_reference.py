#!/usr/bin/python3
"""PyTorch reference for `nvgg bench`: the same shapes, timed the same way, printed as JSON.

Run with Debian's python3-torch (/usr/bin/python3, not a pyenv python) and OpenBLAS
(`apt-get install python3-torch python3-torchvision libopenblas0-pthread`; Debian's default BLAS is the slow
reference one). `nvgg bench --pytorch` runs this script in the same session and prints both.
"""
import json
import os
import resource
import sys
import time

import torch
import torchvision

threads = int(os.environ.get("NVGG_BENCH_THREADS", "0")) or torch.get_num_threads()
torch.set_num_threads(threads)
repeats = int(os.environ.get("NVGG_BENCH_REPEATS", "3"))
torch.manual_seed(0)

VGG19_MACS_224 = 19_632_062_464  # conv + linear multiply-accumulates per 224x224 image (torchvision's count)
FEATURES_MACS_32 = 398_458_880   # conv multiply-accumulates of vgg19.features per 32x32 image


def timed(fn, warmup=1):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    times.sort()
    return times[len(times) // 2]


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


results = []


def record(name, images, seconds, flops):
    results.append({
        "name": name,
        "imagesPerSecond": images / seconds if images else None,
        "gflopsPerSecond": flops / seconds / 1e9,
        "seconds": seconds,
        "peakRssMb": peak_rss_mb(),
    })


n = 2048
a, b = torch.randn(n, n), torch.randn(n, n)
record("matmul fp32 2048", 0, timed(lambda: a @ b), 2 * n ** 3)

model = torchvision.models.vgg19().eval()
x = torch.randn(16, 3, 224, 224)
with torch.no_grad():
    record("forward 224 batch 16", 16, timed(lambda: model(x)), 16 * 2 * VGG19_MACS_224)

model.train()
opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
y = torch.randint(0, 1000, (16,))


def step():
    opt.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()


record("train step 224 batch 16", 16, timed(step), 16 * 3 * 2 * VGG19_MACS_224)

model.eval()
x32 = torch.randn(256, 3, 32, 32)
with torch.no_grad():
    record("conv features 32 batch 256", 256, timed(lambda: model.features(x32)), 256 * 2 * FEATURES_MACS_32)

def loaded_blas():
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "blas" in line}
    return sorted(os.path.basename(p) for p in paths if p.startswith("/"))


print(json.dumps({"framework": f"PyTorch {torch.__version__}", "threads": threads, "blas": loaded_blas(), "results": results}, indent=2))
