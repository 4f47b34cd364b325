"""Prints the GPU comparison as one table and writes it as one JSON file: the two sides' results, a side that did
not run named with its reason, the PyTorch / WebGPU throughput ratio when both ran, and WebGPU's time to its first
step without and with its shaders compiled ahead.

    python3 bench/gpu/table.py OUT_DIR   (reads webgpu.json, webgpu-ahead.json, pytorch.json and *.skipped from OUT_DIR)
"""
import json
import os
import sys

out = sys.argv[1]
sides = {}
for side in ("webgpu", "pytorch"):
    path = os.path.join(out, f"{side}.json")
    skipped = os.path.join(out, f"{side}.skipped")
    if os.path.exists(path):
        with open(path) as f:
            sides[side] = json.load(f)
    else:
        reason = open(skipped).read().strip() if os.path.exists(skipped) else "no result (see the log above)"
        sides[side] = {"side": side, "skipped": reason}

cols = [("side", "side"), ("device", "device"), ("batch", "batch"), ("size", "px"), ("params", "params"),
        ("steps", "steps"), ("msPerStep", "ms/step"), ("imagesPerSecond", "images/s"), ("warmupSeconds", "warm-up s")]


def cell(r, k):
    v = r.get(k, "")
    return f"{v:.1f}" if isinstance(v, float) else str(v)


rows = [[h for _, h in cols]] + [[cell(r, k) for k, _ in cols] if "skipped" not in r else [r["side"], "not run: " + r["skipped"]] for r in sides.values()]
widths = [max(len(row[i]) for row in rows if i < len(row)) for i in range(len(cols))]
for row in rows:
    print("  ".join(c.ljust(widths[i]) if i < len(row) - 1 else c for i, c in enumerate(row)))
summary = {"sides": sides}
w, t = sides["webgpu"], sides["pytorch"]
if "imagesPerSecond" in w and "imagesPerSecond" in t:
    summary["pytorchOverWebgpu"] = t["imagesPerSecond"] / w["imagesPerSecond"]
    print(f"PyTorch / WebGPU training throughput: {summary['pytorchOverWebgpu']:.2f}x (same batch and input size, one run)")
ahead_path = os.path.join(out, "webgpu-ahead.json")
if os.path.exists(ahead_path) and "firstStepSeconds" in w:
    with open(ahead_path) as f:
        a = json.load(f)
    summary["compileAhead"] = {"firstStepSeconds": w["firstStepSeconds"], "firstStepSecondsCompiledAhead": a["firstStepSeconds"], "programs": a["programsCompiledAhead"], "ratio": w["firstStepSeconds"] / a["firstStepSeconds"]}
    print(f"WebGPU time to the first step: {w['firstStepSeconds']:.1f} s as each kernel first runs, {a['firstStepSeconds']:.1f} s with {a['programsCompiledAhead']} shaders compiled ahead: {summary['compileAhead']['ratio']:.2f}x shorter (target >= 3x)")
elif os.path.exists(os.path.join(out, "webgpu-ahead.skipped")):
    print("WebGPU compiled ahead: not run: " + open(os.path.join(out, "webgpu-ahead.skipped")).read().strip())
for r in sides.values():
    if r.get("software"):
        print(f"note: the {r['side']} side ran on {r['device']}, not an NVIDIA GPU: a smoke test, not a comparison")
with open(os.path.join(out, "gpu-comparison.json"), "w") as f:
    json.dump(summary, f, indent=2)
print(f"wrote {os.path.join(out, 'gpu-comparison.json')}")
