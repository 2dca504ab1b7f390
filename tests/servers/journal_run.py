"""One GEEX explanation of the MNIST LeNet behind an endpoint, with a query journal (for the test
of a run killed mid-explanation):

    python journal_run.py URL JOURNAL VALUES.npy [--kill-after N]

``--kill-after N`` sends this process SIGKILL right after the N-th answered request is journaled
(one request in flight at a time, so none is answered but lost). Without it, the explanation
finishes, its values go to VALUES.npy and the BlackBox's counters to standard output as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import signal

import numpy as np
import torch

from evoxplain import GEEX, BlackBox
from evoxplain.endpoints import InferenceEndpoint
from evoxplain.journal import Journal

DIGIT = torch.rand(1, 28, 28, generator=torch.Generator().manual_seed(0)) ** 4  # as in test_servers.py

parser = argparse.ArgumentParser()
parser.add_argument("url")
parser.add_argument("journal")
parser.add_argument("values")
parser.add_argument("--kill-after", type=int, default=None)
args = parser.parse_args()

if args.kill_after is not None:
    store, stored = Journal.store, []

    def store_then_die(self, keys, answers):
        store(self, keys, answers)
        stored.append(len(keys))
        if len(stored) == args.kill_after:
            os.kill(os.getpid(), signal.SIGKILL)

    Journal.store = store_then_die

bb = BlackBox(InferenceEndpoint(args.url, max_batch=16, concurrency=1), journal=args.journal)
exp = GEEX(bb, queries=400, mask_size=(7, 7), seed=0).explain(DIGIT)
np.save(args.values, exp.values.numpy())
print(json.dumps(bb.usage))
