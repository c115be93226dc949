#!/usr/bin/python3
"""PyTorch reference for `nvgg bench`: the same shapes, timed the same way, printed as JSON.

Run with Debian's python3-torch (/usr/bin/python3, not a pyenv python) and OpenBLAS
(`apt-get install python3-torch python3-torchvision libopenblas0-pthread`; Debian's default BLAS is the slow
reference one). `nvgg bench --pytorch` runs this script in the same session and prints both; it passes the
shapes, threads, repeats and cases as NVGG_BENCH_* variables, and its glibc malloc setting as GLIBC_TUNABLES
(keep freed memory instead of a fresh mmap per buffer: it changes both sides' speed a lot on this VM).
It reports its BLAS and OpenBLAS's kernel family (OPENBLAS_CORETYPE=Haswell holds that to AVX2; `nvgg bench` sets it
when it is itself held to AVX2 by ONEDNN_MAX_CPU_ISA/MKL_ENABLE_INSTRUCTIONS) and oneDNN's instruction sets and kernel.
"""
import ctypes
import json
import os
import resource
import sys
import tempfile
import time

import torch
import torchvision

threads = int(os.environ.get("NVGG_BENCH_THREADS", "0")) or torch.get_num_threads()
torch.set_num_threads(threads)
repeats = int(os.environ.get("NVGG_BENCH_REPEATS", "3"))
# Shapes and cases as `nvgg bench` ran them (its --quick mode shrinks them); the defaults are the full benchmark's.
matmul_size = int(os.environ.get("NVGG_BENCH_MATMUL_SIZE", "2048"))
batch_224 = int(os.environ.get("NVGG_BENCH_BATCH_224", "16"))
batch_32 = int(os.environ.get("NVGG_BENCH_BATCH_32", "256"))
batch_112 = int(os.environ.get("NVGG_BENCH_BATCH_112", "64"))
cases = set(os.environ.get("NVGG_BENCH_CASES", "matmul,forward,train,features").split(","))
# "cpu": seconds are the process's processor time over its threads, as `nvgg bench --cpu-time` times (a shared machine).
cpu_clock = os.environ.get("NVGG_BENCH_CLOCK", "wall") == "cpu"
torch.manual_seed(0)


def clock():
    return time.process_time() / threads if cpu_clock else time.perf_counter()

VGG19_MACS_224 = 19_632_062_464  # conv + linear multiply-accumulates per 224x224 image (torchvision's count)
FEATURES_MACS_32 = 398_131_200     # conv multiply-accumulates of vgg19.features per 32x32 image (ModelSummary)
# fc7 features of a 112x112 image: the convolutions (12.25 x the 32x32 count) plus fc6 (25088x4096) and fc7 (4096x4096)
FC7_MACS_112 = FEATURES_MACS_32 * 112 * 112 // (32 * 32) + 25088 * 4096 + 4096 * 4096


def timed(fn, warmup=1):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = clock()
        fn()
        times.append(clock() - t)
    times.sort()
    return times[len(times) // 2]


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


results = []


def record(case, name, images, seconds, flops):
    results.append({
        "case": case,
        "name": name,
        "images": images,
        "imagesPerSecond": images / seconds if images else None,
        "gflopsPerSecond": flops / seconds / 1e9,
        "seconds": seconds,
        "peakRssMb": peak_rss_mb(),
    })


if "matmul" in cases:
    n = matmul_size
    a, b = torch.randn(n, n), torch.randn(n, n)
    record("matmul", f"matmul fp32 {n}", 0, timed(lambda: a @ b), 2 * n ** 3)

model = torchvision.models.vgg19().eval()
x = torch.randn(batch_224, 3, 224, 224)
if "forward" in cases:
    with torch.no_grad():
        record("forward", f"forward 224 batch {batch_224}", batch_224, timed(lambda: model(x)), batch_224 * 2 * VGG19_MACS_224)

if "train" in cases:
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    y = torch.randint(0, 1000, (batch_224,))

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    record("train", f"train step 224 batch {batch_224}", batch_224, timed(step), batch_224 * 3 * 2 * VGG19_MACS_224)

layers = []
steps = []
if "layers" in cases:
    # The train step layer by layer, as nvgg bench's layers case: each layer alone on the activations a step gives it;
    # forward with autograd recording, the gradient for its input, the gradients for its weight and bias, each by itself.
    model.train()
    y = torch.randint(0, 1000, (batch_224,))
    named = [("features." + n, m) for n, m in model.features.named_children()] + [("avgpool", model.avgpool), ("flatten", torch.nn.Flatten())] \
        + [("classifier." + n, m) for n, m in model.classifier.named_children()]

    def timed_setup(setup, fn):
        times = []
        for i in range(1 + repeats):
            arg = setup()
            t = clock()
            fn(arg)
            if i >= 1:
                times.append(clock() - t)
        times.sort()
        return times[len(times) // 2]

    h = x
    for i, (name, m) in enumerate(named):
        in_place = isinstance(m, torch.nn.ReLU)
        xi = h.detach().requires_grad_(i > 0)
        forward = timed_setup(lambda: xi.clone() if in_place else xi, m)
        out = m(xi.clone() if in_place else xi)
        go = torch.randn_like(out)
        weights = [p for p in m.parameters() if p.requires_grad]
        data = timed(lambda: torch.autograd.grad([out], [xi], [go], retain_graph=True)) if i > 0 else None
        weight = timed(lambda: torch.autograd.grad([out], weights, [go], retain_graph=True)) if weights else None
        layers.append({"configuration": "fp32 NCHW", "layer": name, "kind": type(m).__name__, "output": "\u00d7".join(str(d) for d in out.shape),
                       "forwardSeconds": forward, "dataGradientSeconds": data, "weightGradientSeconds": weight})
        del out, go
        with torch.no_grad():
            h = m(h.clone() if in_place else h)
    del h

    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    parts = []

    def split_step():
        t0 = clock()
        opt.zero_grad()
        t1 = clock()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        t2 = clock()
        loss.backward()
        t3 = clock()
        opt.step()
        t4 = clock()
        parts.append((t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0))

    for _ in range(1 + repeats):
        split_step()

    def median(values):
        values = sorted(values)
        return values[len(values) // 2]

    timed_parts = parts[1:]
    steps.append({"configuration": "fp32 NCHW", **{k: median(p[j] for p in timed_parts) for j, k in enumerate(
        ["zeroGradSeconds", "forwardSeconds", "backwardSeconds", "optimizerSeconds", "totalSeconds"])}})

if "features" in cases:
    model.eval()
    x32 = torch.randn(batch_32, 3, 32, 32)
    with torch.no_grad():
        record("features", f"conv features 32 batch {batch_32}", batch_32, timed(lambda: model.features(x32)), batch_32 * 2 * FEATURES_MACS_32)

if "features112" in cases:
    model.eval()
    x112 = torch.randn(batch_112, 3, 112, 112)

    def fc7():
        return model.classifier[:5](torch.flatten(model.avgpool(model.features(x112)), 1))

    with torch.no_grad():
        record("features112", f"fc7 features 112 batch {batch_112}", batch_112, timed(fc7), batch_112 * 2 * FC7_MACS_112)


def onednn_kernels():
    """oneDNN's version, instruction sets and the convolution kernel it picks here, from its own verbose lines.

    They go to file descriptor 1, which is this script's JSON: they are caught in a temporary file instead."""
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile() as f:
        os.dup2(f.fileno(), 1)
        try:
            with torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON):
                # large enough that PyTorch hands it to oneDNN (a tiny one runs its own kernel)
                torch.nn.functional.conv2d(torch.randn(2, 64, 56, 56), torch.randn(64, 64, 3, 3), padding=1)
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        f.seek(0)
        lines = f.read().decode(errors="replace").splitlines()
    version = next((l.split(",", 2)[2] for l in lines if l.startswith("onednn_verbose,info,oneDNN")), None)
    isa = next((l.split("isa:", 1)[1] for l in lines if ",info,cpu,isa:" in l), None)
    kernel = next((l.split(",")[4] for l in lines if ",exec,cpu,convolution," in l), None)
    if version is None and isa is None:
        return None
    return f"{version or 'oneDNN'}, {isa or 'ISA unknown'}; fp32 convolution kernel {kernel or 'not seen'}"


def blas_core():
    """OpenBLAS's kernel family (its own name: Haswell is AVX2, SkylakeX/Cooperlake AVX-512), or None for another BLAS."""
    for path in loaded_blas():
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_get_corename.restype = ctypes.c_char_p
            return lib.openblas_get_corename().decode()
        except (OSError, AttributeError):
            continue
    return None


def loaded_blas():
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "blas" in line}
    # Real paths: Debian's libblas.so.3 is an alternatives link, to the reference BLAS or to OpenBLAS's copy.
    return sorted({os.path.realpath(p) for p in paths if p.startswith("/")})


print(json.dumps({"framework": f"PyTorch {torch.__version__}", "threads": threads, "blas": loaded_blas(), "blasCore": blas_core(),
                  "oneDnn": onednn_kernels(), "clock": "cpu" if cpu_clock else "wall", "results": results,
                  "layers": layers, "steps": steps}, indent=2))
