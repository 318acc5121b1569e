import json
import os
import subprocess
import sys

import pytest

from ganinverse.models import load_generator


@pytest.mark.slow
def test_two_cpu_processes_train_and_only_rank0_writes(tmp_path):
    out = tmp_path / "ddp"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "pretrain",
        "--dataset",
        "digits",
        "--n-train",
        "64",
        "--latent-dim",
        "4",
        "--ngf",
        "4",
        "--ndf",
        "4",
        "--batch-size",
        "16",
        "--steps",
        "3",
        "--loss",
        "wgan-gp",
        "--device",
        "cpu",
        "--no-progress",
        "--threads",
        "1",
        "--out",
        str(out),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("trained to step 3") == 1  # rank 0 only
    assert json.loads((out / "checkpoint.json").read_text())["step"] == 3
    assert load_generator(out, device="cpu").latent_dim == 4
