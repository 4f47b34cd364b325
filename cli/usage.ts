/** The CLI's usage text; the settings' ranges and defaults come from the settings schema. */
import { settingsUsage } from '../src/core/settings/docs';

export const USAGE = `usage: npm run studio -- <command> [options]
  train (--demo | --data DIR) --epochs N [--backend webgpu|webgl|wasm|cpu] [--seed N] --out FILE.json
  train --data DIR --recommended --out FILE.json  the recommended recipe for the folder and this machine (model, head,
        split, epochs; see docs/quality.md), printed with its reasons and estimated time; data flags (--classes,
        --group-pattern, --dedupe, --near-threshold) and --seed still apply, training flags are the recipe's
        [--model ID (simple_cnn)] [--strategy frozen|medical|mlp|finetune]
        finetune: [--trainable-blocks N|all] [--probe-epochs N: the head alone first, then the blocks at lr/10]
        [--optimizer adamw|adam|adamax|sgd] [--augment on|off (off)] [--lr X] [--batch-size N] (model defaults)
        [--schedule constant|step:EVERY:GAMMA|cosine:WARMUP|plateau:PATIENCE:FACTOR (constant)]
                (per phase; e.g. step:10:0.5, cosine:2 (epochs of warm-up), plateau:5:0.1 (on val loss))
        [--patience N | --no-early-stopping] [--save-every N] [--keep-epoch best|last (best: by validation accuracy)]
        [--tta none|flip (none; flip: each image answered with its left–right mirror too, in validation, evaluation, prediction, export)]
        [--mirror-training on|off (off; on: every training image also trains mirrored, each epoch)] [--models-dir DIR]
        [--weights FILE]  the model's pretrained weights from a file (a torchvision model's .pth / .safetensors, Xception's Keras .h5), cached in the profile
        [--class-weights off|auto (off; auto: inverse frequency when imbalanced)] [--label-smoothing X]
        [--measure-backends auto|on|off (auto)]  auto backend only: a model's first run on this adapter times a few
                training steps on WebGPU, WebGL and WASM and trains on the fastest (auto: on a real GPU; on: on a
                software adapter or without a GPU too; off: the fixed order); later runs follow the stored figures
        [--compile-ahead auto|on|off (auto)]  WebGPU only: each phase's first step has its shaders compiled in parallel
                before it runs (auto: on a real GPU; on: on a software adapter too; off: as each kernel first runs)
        [--config FILE.json]  settings from a config file (exported by the studio); flags given here override it
        demo:   [--image-size N] [--per-class N]
        folder: [--classes a,b,c] [--split 70/15/15] [--group-pattern REGEX] [--dedupe keep-together|drop|off]
                [--label-conflicts drop-all|keep-first|keep-all (drop-all)]: the same image (identical bytes) under
                two or more classes: drop every copy, keep the copies in the class of the first by path, or keep all
                [--near-threshold BITS] [--image-size N] [--channels 1|3]
        the settings' ranges (defaults), from src/core/settings/schema.ts:
${settingsUsage()}
  resume --run ID [--out FILE.json]  continue a stopped run from its last checkpoint (same --profile and --port)
  evaluate (--run ID [--data DIR | --external DIR] | --model DIR --data DIR) --out DIR [--checkpoint best|last] [--latency-samples N (100)]
        [--min-sensitivity X (0.85)] [--min-accuracy X (0.85)] [--max-p95-ms N (100)] [--tumour-classes a,b]
        [--target-sensitivity X (0.95)]  screening operating point: per-class thresholds fitted on the run's validation
                                         split so each tumour class reaches X; its figures are shown beside the argmax's
        [--include-file-names]  name images by their file paths in the report (default: neutral ids)
        [--robustness]  also test accuracy under noise, blur, brightness and rotation (3 severities each)
        the run's test split; a folder run needs --data DIR unless this profile trained it with --data
        --external DIR: another folder with the same class names, every image evaluated (a folder named Testing, Training
                        or val included; of X/ holding Training/ and Testing/, the Testing images); unknown class folders
                        listed; temperature and operating point from the run's own validation split
        --model DIR: an exported TF.js model folder (model.json, shards, metadata.json) evaluated on every image of --data
  crossval (--demo | --data DIR) [--folds K (5)] --out FILE.json [train's options]
        k-fold cross-validation of that training config: stratified, group-aware with --group-pattern; one run per
        fold (tagged cv:ID), each scored on its held-out fold; prints and writes mean ± std of accuracy and macro-F1
  runs  [--out FILE.json]          list the runs kept in the profile
  measurements [--out FILE.json]  the backend measurements kept in the profile: seconds per training step on each
        backend for a model, strategy, input and batch on an adapter, and the backend its runs go to
  register --run ID --name NAME --version X.Y.Z [--alias A ...] [--description TEXT] [--tag KEY=VALUE ...]
        [--override-reason TEXT]  the run's best model into the registry; below 85 % validation accuracy only with a reason
  import-cluster --run ID --dir DIR (--name NAME --version X.Y.Z [register's options] | --no-register) [--data DIR] [--out FILE.json]
        bring back the model that run ID's exported recipe trained with PyTorch: DIR is train.py's --out (model.pth,
        metrics.json); it becomes a new run (tag cluster) beside run ID, is evaluated on the run's test split and
        registered as NAME@X.Y.Z with its provenance in the model card; --out writes the new run id, test metrics, version
  export --model NAME@VERSION|NAME@ALIAS --format tfjs|onnx --out DIR
        the model's files, its metadata and model card; ONNX is checked against the studio in onnxruntime-web
  export-recipe --run ID --out DIR [--file-names]
        "train at scale": the run as a PyTorch DDP project (train.py, config.json, split.csv, requirements.txt,
        README.md, slurm.sh) for torchrun on GPUs; split.csv names images by SHA-256 of their bytes unless
        --file-names (your consent to their paths leaving the browser); see the folder's README.md
  predict --model NAME@VERSION|NAME@ALIAS --images DIR --out predictions.csv
        every file under DIR: a CSV row each (file, top class, the operating point's class when the model has one,
        probability per class, latency ms, error)
  import-onnx --file MODEL.onnx --id ID [--name NAME] [--normalization imagenet|[-1,1] (imagenet)] [--out FILE.json]
        an ONNX CNN up to its global pool as backbone ID (then: train --model ID --strategy frozen|medical|mlp|finetune);
        shows its operators and the largest difference to onnxruntime-web (same --profile and --port as training)
  common: --browser PATH (/usr/bin/chromium)  --profile DIR (~/.local/share/mri-studio/profile)  --port N (5199)  --verbose`;
