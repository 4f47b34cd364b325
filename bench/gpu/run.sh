#!/usr/bin/env bash
# GPU comparison: our core's MobileNetV2-0.35 training on WebGPU (Node + Dawn, the `webgpu` npm package) against
# torchvision's mobilenet_v2 (width 0.35) in PyTorch fp32, same batch and input size, one run, one table.
# Needs no network. Each side is time-boxed, so the whole run ends within 10 minutes.
#
#   bench/gpu/run.sh [--batch 32] [--size 224] [--warmup 3] [--steps 50] [--seconds 150] [--models DIR] [--out DIR]
#
# --seconds caps each side's timed steps; each side also gets its start-up and warm-up, killed at --seconds + 120.
# Smoke test without a GPU (Dawn on SwiftShader, PyTorch on the CPU if installed):
#   LD_LIBRARY_PATH=/usr/lib/chromium VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json XDG_RUNTIME_DIR=/tmp \
#     bench/gpu/run.sh --batch 4 --size 32 --warmup 1 --steps 2 --seconds 300
set -u
cd "$(dirname "$0")/../.."

BATCH=32 SIZE=224 WARMUP=3 STEPS=50 SECONDS_PER_SIDE=150 MODELS=../shared/pretrained OUT="bench/results/gpu-$(date -u +%Y%m%dT%H%M%SZ)"
while [ $# -gt 0 ]; do
  case "$1" in
    --batch) BATCH=$2 ;;
    --size) SIZE=$2 ;;
    --warmup) WARMUP=$2 ;;
    --steps) STEPS=$2 ;;
    --seconds) SECONDS_PER_SIDE=$2 ;;
    --models) MODELS=$2 ;;
    --out) OUT=$2 ;;
    *) echo "run.sh: unknown option $1 (see the header of bench/gpu/run.sh)" >&2; exit 2 ;;
  esac
  shift 2
done
mkdir -p "$OUT"
LIMIT=$((SECONDS_PER_SIDE + 120))
COMMON=(--batch "$BATCH" --size "$SIZE" --warmup "$WARMUP" --steps "$STEPS" --seconds "$SECONDS_PER_SIDE")

echo "== checks"
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | sed 's/^/nvidia-smi: /'
else
  echo "nvidia-smi: missing (no NVIDIA driver here: both sides will run on whatever else they find)"
fi

node_missing=""
if ! command -v node >/dev/null; then
  node_missing="node is not installed (install Node 20+; the WebGPU side needs it)"
elif [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  node_missing="node $(node --version) is too old (20+ needed)"
elif [ ! -x node_modules/.bin/tsx ] || [ ! -f node_modules/webgpu/package.json ]; then
  node_missing="node_modules lacks tsx or webgpu: run 'npm ci' where there is network and copy the checkout with node_modules"
elif [ ! -f "$MODELS/mobilenet_v2_0.35_224/model.json" ]; then
  node_missing="$MODELS/mobilenet_v2_0.35_224/model.json is absent (copy ../shared/pretrained beside the checkout, or pass --models DIR)"
fi
echo "node: ${node_missing:-$(node --version), webgpu $(node -p 'require("./node_modules/webgpu/package.json").version')}"

torch_missing=""
if ! command -v python3 >/dev/null; then
  torch_missing="python3 is not installed"
elif ! python3 -c 'import torch, torchvision' 2>/dev/null; then
  torch_missing="python3 cannot import torch and torchvision"
fi
if [ -z "$torch_missing" ]; then
  echo "python: $(python3 -c 'import torch, torchvision; print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, CUDA available: {torch.cuda.is_available()}")')"
else
  echo "python: $torch_missing"
fi

echo "== WebGPU (Node + Dawn), at most ${LIMIT} s"
if [ -n "$node_missing" ]; then
  echo "$node_missing" > "$OUT/webgpu.skipped"
else
  timeout "$LIMIT" node_modules/.bin/tsx bench/gpu/webgpu.ts "${COMMON[@]}" --models "$MODELS" --out "$OUT/webgpu.json"
  rc=$?
  [ $rc -eq 124 ] && echo "timed out after ${LIMIT} s" > "$OUT/webgpu.skipped"
  [ $rc -ne 0 ] && [ $rc -ne 124 ] && echo "failed (exit $rc, see above)" > "$OUT/webgpu.skipped"
fi

echo "== WebGPU time to the first step with its shaders compiled ahead (Node + Dawn), at most ${LIMIT} s"
if [ -n "$node_missing" ]; then
  echo "$node_missing" > "$OUT/webgpu-ahead.skipped"
else
  # A fresh process, so no pipeline of the run above is cached; one warm-up step is the first step.
  timeout "$LIMIT" node_modules/.bin/tsx bench/gpu/webgpu.ts --batch "$BATCH" --size "$SIZE" --warmup 1 --steps 1 --seconds 1 --compile-ahead --models "$MODELS" --out "$OUT/webgpu-ahead.json"
  rc=$?
  [ $rc -eq 124 ] && echo "timed out after ${LIMIT} s" > "$OUT/webgpu-ahead.skipped"
  [ $rc -ne 0 ] && [ $rc -ne 124 ] && echo "failed (exit $rc, see above)" > "$OUT/webgpu-ahead.skipped"
fi

echo "== PyTorch, at most ${LIMIT} s"
if [ -n "$torch_missing" ]; then
  echo "$torch_missing" > "$OUT/pytorch.skipped"
else
  timeout "$LIMIT" python3 bench/gpu/torch_bench.py "${COMMON[@]}" --out "$OUT/pytorch.json"
  rc=$?
  [ $rc -eq 124 ] && echo "timed out after ${LIMIT} s" > "$OUT/pytorch.skipped"
  [ $rc -ne 0 ] && [ $rc -ne 124 ] && echo "failed (exit $rc, see above)" > "$OUT/pytorch.skipped"
fi

echo "== result"
if command -v python3 >/dev/null; then
  python3 bench/gpu/table.py "$OUT"
else
  echo "python3 is missing, so no table; the raw results are in $OUT"
fi
