/** The exported recipe's README.md and slurm.sh, for a person who has never seen the studio's code. */
import type { RecipeConfig } from './recipe';

const STRATEGY_WORDS: Record<string, string> = {
  scratch: 'every weight trained from its random initialisation',
  frozen: 'the pretrained backbone frozen, a linear head trained',
  medical: 'the pretrained backbone frozen, the Medical CNN head (Dropout 0.3, Dense 128 ReLU, Dropout 0.25, Dense) trained',
  mlp: 'the pretrained backbone frozen, a Dense 100 ReLU head trained',
  finetune: 'the pretrained backbone fine-tuned with a linear head',
};

function trainingLine(c: RecipeConfig): string {
  const parts = [
    `${c.optimizer} at learning rate ${c.learningRate}${c.weightDecay ? ` (weight decay ${c.weightDecay})` : ''}`,
    `batch ${c.batchSize}`,
    `${c.epochs} epoch${c.epochs === 1 ? '' : 's'}`,
    `schedule ${c.lrSchedule.kind}`,
    c.clipNorm > 0 ? `gradients clipped to norm ${c.clipNorm}` : 'no gradient clipping',
    c.labelSmoothing > 0 ? `label smoothing ${c.labelSmoothing}` : 'no label smoothing',
    c.classWeights === 'auto' ? 'class weights by inverse frequency when the classes are uneven' : 'no class weights',
    c.earlyStopping ? `early stopping after ${c.earlyStopping.patience} epochs without a gain above ${c.earlyStopping.minDelta} in validation accuracy` : 'no early stopping',
    c.keepEpoch === 'best' ? 'the epoch with the best validation accuracy kept (ties: the lower validation loss)' : 'the last epoch kept',
    c.augment ? `augmentation ${JSON.stringify(c.augment)}` : 'no augmentation',
    c.mirrorTraining ? 'every training image also trained mirrored' : '',
    c.tta === 'flip' ? 'validation and predictions averaged with the left–right mirror' : '',
    `seed ${c.seed}`,
  ];
  if (c.strategy === 'finetune') parts.push(`trainable blocks ${c.trainableBlocks}, ${c.probeEpochs} probe epochs (head only) first, then a tenth of the rate`);
  return parts.filter(Boolean).join('; ');
}

export function readmeText(c: RecipeConfig): string {
  const counts = c.dataset.counts;
  const weights = c.pretrained ? `torchvision's ImageNet weights (\`${c.architecture}(weights="IMAGENET1K_V1")\`)` : 'random initial weights';
  const keys =
    c.dataset.keys === 'paths'
      ? '`split.csv` names each image by its path relative to the dataset folder.'
      : '`split.csv` names each image by the SHA-256 of its bytes (`sha256:…`), not by its file name (you did not consent to file names leaving the browser); `train.py` hashes every image of the folder and pairs them up.';
  return `# MRI Studio run ${c.runId}, trained at scale with PyTorch

This folder trains the experiment of MRI Studio run \`${c.runId}\` again, with PyTorch and torchvision, on one GPU, several
GPUs of one machine, or several machines (DistributedDataParallel, launched by \`torchrun\`). You do not need the studio
or its code to run it.

- **Model**: ${c.modelName} (\`${c.architecture}\`), ${STRATEGY_WORDS[c.strategy] ?? c.strategy}, starting from ${weights}.
- **Classes** (in this order; a class index in the outputs is a position in this list): ${c.classes.join(', ')}.
- **Images**: ${c.imageSize}×${c.imageSize} px, ${c.channels === 3 ? 'RGB' : 'greyscale'}, normalised as (pixel / 255 − mean) / std with mean ${JSON.stringify(c.normalization.mean)}, std ${JSON.stringify(c.normalization.std)}.
- **Split**: ${counts.train} training, ${counts.val} validation, ${counts.test} test images (fixed by \`split.csv\`; groups, such as a patient's images or duplicates, stay in one split).
- **Training**: ${trainingLine(c)}.

## What is here

| File | What it is |
| --- | --- |
| \`train.py\` | The training script. It reads \`config.json\` and \`split.csv\` when it starts. |
| \`config.json\` | The run's settings: model, head, normalisation, augmentation, optimiser, schedule, … |
| \`split.csv\` | \`key,class,split,group\`: each image's class, split (\`train\`, \`val\`, \`test\`) and group. |
| \`requirements.txt\` | The Python packages. |
| \`slurm.sh\` | A Slurm batch script (one or several nodes). |

${keys}

## 1. Install

Python 3.9 or later with PyTorch ≥ 1.13 and torchvision ≥ 0.14 (your cluster may provide them as a module or a
container; otherwise):

\`\`\`bash
python -m venv .venv && . .venv/bin/activate
pip install -r requirements.txt   # for CUDA, install torch from the index https://pytorch.org names for your CUDA version
\`\`\`

## 2. Copy the data

Copy the dataset folder you imported into the studio (the folder with one sub-folder per class) to the cluster, e.g.
\`rsync -a DATASET/ cluster:/scratch/$USER/dataset/\`. Before training, \`train.py\` checks the folder against
\`split.csv\` and stops (exit code 2) naming every image that is missing, added or changed; with \`--allow-extra\` it
trains without images the split does not list (for instance files the studio could not read).
${c.pretrained ? `
Compute nodes often have no internet. Download the ImageNet weights once on a login node; torchvision keeps them in
\`$TORCH_HOME\` (by default \`~/.cache/torch\`), where \`train.py\` finds them:

\`\`\`bash
python -c "import torchvision; torchvision.models.${c.architecture}(weights='IMAGENET1K_V1')"
\`\`\`

or pass the downloaded \`.pth\` file with \`--weights FILE\`.
` : ''}
## 3. Train

A quick check first, on the CPU, one epoch (a few minutes on a small folder):

\`\`\`bash
python train.py --data-root /scratch/$USER/dataset --out check --epochs 1 --no-pretrained --workers 0
\`\`\`

**One GPU**:

\`\`\`bash
torchrun --standalone --nproc_per_node=1 train.py --data-root /scratch/$USER/dataset --out out
\`\`\`

**N GPUs on one machine** (here 4):

\`\`\`bash
torchrun --standalone --nproc_per_node=4 train.py --data-root /scratch/$USER/dataset --out out
\`\`\`

**Several machines** (here 2 × 4 GPUs): run the same command on every machine; \`HEAD\` is the host name of one of them,
reachable from the others, and 29500 a free port on it:

\`\`\`bash
torchrun --nnodes=2 --nproc_per_node=4 --rdzv_id=mri-${c.runId} --rdzv_backend=c10d --rdzv_endpoint=HEAD:29500 \\
  train.py --data-root /scratch/$USER/dataset --out out
\`\`\`

With a fixed head instead of the c10d rendezvous, give each machine its number: \`torchrun --nnodes=2 --node_rank=0\`
(then \`--node_rank=1\` on the second) \`--nproc_per_node=4 --master_addr=HEAD --master_port=29500 train.py …\`.

**Slurm**: edit the \`#SBATCH\` lines of \`slurm.sh\` (nodes, GPUs per node, time, partition), then

\`\`\`bash
sbatch slurm.sh /scratch/$USER/dataset out
\`\`\`

If \`torchrun\` is not on your PATH, \`python -m torch.distributed.run\` is the same program.

Options of \`train.py\`: \`--epochs N\` and \`--batch-size N\` override the run's; \`--amp\` / \`--no-amp\` turn
mixed precision on or off (on by default with CUDA); \`--workers N\` data-loading processes per GPU (default 4);
\`--resume\` continues from \`OUT/checkpoints/last.pth\`; \`--no-pretrained\` starts from random weights;
\`--weights FILE\` from a local torchvision \`.pth\`; \`--allow-extra\` (above). \`python train.py --help\` lists them.

The batch size is per process: with N processes an optimiser step sees N × ${c.batchSize} images. The learning rate is
the run's; with many GPUs you may want to raise it with the batch (the linear scaling rule) or keep N × batch near the
run's by passing a smaller \`--batch-size\`.

## 4. What it writes (into \`--out\`)

- \`metrics.csv\`: one row per epoch as it trains (loss, accuracy, validation loss and accuracy, learning rate, seconds).
- \`checkpoints/last.pth\` and \`checkpoints/best.pth\`: weights, optimiser state and progress (\`--resume\` reads \`last.pth\`)${c.saveEveryEpochs ? `, and \`checkpoints/epoch-N.pth\` every ${c.saveEveryEpochs} epochs` : ''}.
- At the end: \`model.pth\` (the kept epoch's weights: a plain \`state_dict\`, torchvision's names for the backbone and
  \`studio_head.*\` for the head), \`metrics.json\` (every epoch, the kept epoch, PyTorch version, number of processes,
  device, AMP) and \`predictions.json\` (the kept model's class probabilities for every test image, keyed as in
  \`split.csv\`).

## 5. Bring the model back into the studio

Copy the output folder (at least \`model.pth\` and \`metrics.json\`, plus \`predictions.json\`) back to the computer with
the studio, then either

- in the studio: on the runs page, run \`${c.runId}\`'s **Bring back a cluster run…**, then choose the folder. The
  cluster run appears beside run \`${c.runId}\`, compared side by side; evaluate it on the Evaluate page and register it
  on the Use page as any run; or
- from the command line, where the run was trained (the same \`--profile\` and \`--port\`, if you gave them):
  \`npm run studio -- import-cluster --run ${c.runId} --dir OUT --name NAME --version 1.0.0\` imports it, evaluates it
  on the same test split and registers it as NAME@1.0.0, a new version linked to run \`${c.runId}\`
  (\`--no-register\` to import and evaluate only).

## When something goes wrong

- \`train.py: the folder … does not match split.csv\` (exit code 2): the folder is not the one the studio trained on. The
  message lists the files; copy the folder again, or pass \`--allow-extra\` if it only has images the split does not list.
- \`AttributeError: 'NoneType' object has no attribute 'get'\` from \`torchrun\` itself: PyTorch 1.13's launcher on
  Python 3.11 cannot read its own default \`--redirects 0\`; add \`--redirects 2 --tee 2\` after \`torchrun\` (or use
  PyTorch 2).
- Out of GPU memory: a smaller \`--batch-size\` (per process), or more GPUs.
- A job stopped (time limit, pre-emption): run the same command with \`--resume\`; it continues after the last finished
  epoch in \`OUT/checkpoints/last.pth\`.

## How this differs from the browser

The script follows the studio step by step (the same architecture, head, normalisation, augmentation draws, optimiser,
schedule, clipping, loss, early stopping, kept-epoch rule and seed, and on one process the same batch order), but some
things cannot be the same:

- Initial weights of the head (and of a network trained from scratch) come from PyTorch's random generator, not
  TensorFlow.js's; the same seed gives a different, equally random start.
- Images not already at ${c.imageSize} px are resized with Pillow's bicubic filter; the browser uses its own
  high-quality filter, so resized pixels differ slightly. Images already at the model's size are used as they are.
- Rotations and crops use \`grid_sample\` (bilinear, black outside); pixels at the image's edge may differ slightly from
  TensorFlow.js's \`transform\`.
- With several processes each takes every N-th image of the studio's epoch order and draws its own augmentation; each
  GPU computes BatchNorm statistics on its own batch (no SyncBatchNorm), and PyTorch's running variance is unbiased.
- With mirrored training, a batch keeps the epoch's order of plain and mirrored images (the studio puts the plain ones
  first), so an augmentation draw may fall on another image of the batch.
- AMP computes in float16 on the GPU (\`--no-amp\` for float32 throughout).
- Adamax adds its epsilon inside the maximum, as PyTorch's does; the studio adds it after.
`;
}

export function slurmText(c: RecipeConfig): string {
  return `#!/bin/bash
# Trains MRI Studio run ${c.runId} with train.py on Slurm: one torchrun per node, one process per GPU.
# Usage: sbatch slurm.sh DATA_ROOT [OUT]      (edit the #SBATCH lines for your cluster first)
#SBATCH --job-name=mri-studio-${c.runId}
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=4
#SBATCH --cpus-per-task=16
#SBATCH --time=04:00:00
#SBATCH --output=%x-%j.out
##SBATCH --partition=gpu
set -euo pipefail

DATA_ROOT=\${1:?usage: sbatch slurm.sh DATA_ROOT [OUT]}
OUT=\${2:-out-\$SLURM_JOB_ID}
GPUS_PER_NODE=\${SLURM_GPUS_ON_NODE:-4}
HEAD_NODE=\$(scontrol show hostnames "\$SLURM_JOB_NODELIST" | head -n 1)

cd "\$SLURM_SUBMIT_DIR"
# module load cuda python   # or activate your environment here
srun torchrun --nnodes="\$SLURM_JOB_NUM_NODES" --nproc_per_node="\$GPUS_PER_NODE" \\
  --rdzv_id="\$SLURM_JOB_ID" --rdzv_backend=c10d --rdzv_endpoint="\$HEAD_NODE:29500" \\
  train.py --data-root "\$DATA_ROOT" --out "\$OUT" --workers \$(( SLURM_CPUS_PER_TASK / GPUS_PER_NODE ))
`;
}
