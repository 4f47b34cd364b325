"""The PyTorch side of the GPU comparison (bench/gpu/run.sh): torchvision's mobilenet_v2 at width 0.35, fp32 (TF32
off), trained with Adam on random images of a fixed batch, the same batch size and input size as the WebGPU side.
Prints and writes images/s after warm-up steps; loss.item() ends each step, so a step is timed to the end of its
GPU work, as the WebGPU side's loss read-back does.

    python3 bench/gpu/torch_bench.py [--batch 32] [--size 224] [--warmup 3] [--steps 50] [--seconds 180]
                                     [--classes 4] [--device cuda|cpu] [--out FILE.json]
"""
import argparse
import json
import time

import torch
import torch.nn.functional as F
import torchvision

p = argparse.ArgumentParser()
p.add_argument("--batch", type=int, default=32)
p.add_argument("--size", type=int, default=224)
p.add_argument("--warmup", type=int, default=3)
p.add_argument("--steps", type=int, default=50)
p.add_argument("--seconds", type=float, default=180)
p.add_argument("--classes", type=int, default=4)
p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
p.add_argument("--out")
args = p.parse_args()

# fp32 as TF.js computes it: no TF32 tensor-core shortcuts for convolutions or matrix products.
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
torch.backends.cudnn.benchmark = True
torch.manual_seed(1)
dev = torch.device(args.device)

# torchvision's MobileNetV2 takes width_mult (0.35 as Keras's alpha); random initialisation, every layer trainable.
model = torchvision.models.mobilenet_v2(weights=None, width_mult=0.35, num_classes=args.classes).to(dev).train()
params = sum(t.numel() for t in model.parameters() if t.requires_grad)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
x = torch.rand(args.batch, 3, args.size, args.size, device=dev) * 2 - 1
y = (torch.arange(args.batch, device=dev) % args.classes).long()


def step():
    opt.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return loss.item()


t0 = time.perf_counter()
for _ in range(args.warmup):
    step()
warmup_seconds = time.perf_counter() - t0
started = time.perf_counter()
timed = 0
last = float("nan")
# Time-boxed: stop after --steps or --seconds of timed steps, whichever comes first.
while timed < args.steps and time.perf_counter() - started < args.seconds:
    last = step()
    timed += 1
elapsed = time.perf_counter() - started

name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "CPU"
result = {
    "side": "pytorch",
    "framework": f"PyTorch {torch.__version__}, torchvision {torchvision.__version__}" + (f", CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}" if dev.type == "cuda" else ""),
    "device": name,
    "software": dev.type != "cuda",
    "model": "torchvision mobilenet_v2(width_mult=0.35), random init, all layers trainable",
    "params": params,
    "batch": args.batch,
    "size": args.size,
    "dtype": "float32 (TF32 off)",
    "optimizer": "adam",
    "warmupSteps": args.warmup,
    "warmupSeconds": warmup_seconds,
    "steps": timed,
    "seconds": elapsed,
    "imagesPerSecond": timed * args.batch / elapsed,
    "msPerStep": elapsed / timed * 1000,
    "lastLoss": last,
}
print(json.dumps(result, indent=2))
if args.out:
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
