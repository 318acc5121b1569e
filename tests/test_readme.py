"""Every command printed in README.md runs as printed (issue 14).

The README is parsed, not copied: every command of every ```bash block and every ```python block
is run, with only its placeholders filled from the explicit tables below, so a README edit that
breaks a command (a renamed flag, a wrong default, a missing ``--``) fails here.

What is filled, and nothing else:

- ``DIR`` (``--data-root DIR``, ``root="data"`` in the Python API) is a tiny folder holding the
  embedded scikit-learn digits in the layout of the dataset the command names: MNIST's
  ``MNIST/raw/*-ubyte.gz`` and ``celeba64.npz`` (digits upsampled to 64x64, grey as RGB). So
  ``--dataset mnist`` and the bundled MNIST generators run unchanged, on 28x28 digits.
- ``...`` is replaced by :data:`ELLIPSIS` (the minimal flags the command needs).
- Every size the README prints (``--n-images 300``, ``--steps 8000``, ...) must have an entry in
  :data:`SHRINK`, keyed by flag *and* printed value: a new or changed size fails the test until
  someone decides its tiny value here.
- Sizes a command leaves at their (large) defaults get the tiny values of :data:`UNSET`, appended
  only when the command does not set that flag itself; ``ganinverse demo`` has no size flags
  besides ``--n-images``, so :data:`DEMO_TINY` shrinks its built-in settings.
- Set-up lines (venv, pip, pytest) are listed in :data:`NOT_RUN`.

A command that none of this covers (a new program, a ``...`` or a size without an entry) fails
the test with what to add; nothing is skipped silently. Commands joined by ``&&``, ``;`` or ``&``
run one after the other in the README's order (``&`` included: the shards are independent).
Each README line runs in a fresh folder, except the lines of :data:`CONTINUES`, which use what
the line before wrote (``clf/``, ``runs/mnist``). After each line, the files the README (or the
command's ``--help``) says it writes must exist (:data:`OUTPUTS`). The torchrun sweep line is
followed by ``ganinverse sweep-merge OUT``, as its comment says; torchrun runs as a subprocess
(2 CPU processes, on a free port given through ``PET_MASTER_PORT``), everything else in-process
through ``ganinverse.cli.main`` / ``pretrain.cli.main``.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import re
import shlex
import socket
import struct
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"

# ---------------------------------------------------------------------------------- the table
#: Lines of the README that are not ganinverse commands: they are not run.
NOT_RUN = {
    "python3 -m venv .venv": "creates the environment this test runs in",
    ". .venv/bin/activate": "activates that environment",
    "pip install -e .[dev]": "installs this checkout",
    "python -m pytest": "runs this test suite",
}

#: ``...`` in a command -> the minimal flags it needs (DIR is filled afterwards).
ELLIPSIS = {
    # the methods of the README's sweep line before (--sparse-l1-grid needs csgm-sparse)
    "ganinverse sweep": "--generator mnist-dcgan --dataset mnist --data-root DIR --m 25 "
    "--methods csgm,csgm-sparse,lasso-dct --n-images 1 --out runs/mnist-sweep",
    # every pretrain flag has a default (digits, runs/pretrain); --resume reads the saved config
    "ganinverse-pretrain": "",
    "ganinverse-pretrain --resume": "",
}

#: (flag, value printed in the README) -> the tiny value run here.
SHRINK = {
    ("--n", "8"): "2",  # inpaint
    ("--n", "100"): "2",  # defend eval
    ("--epochs", "2"): "1",
    ("--m", "100"): "100",  # reconstruct: one image, 100 of 784 measurements is already small
    ("--m", "10,25,50,100,200,300,400,500,750"): "10,25",
    ("--n-images", "300"): "1",
    ("--m", "25,100,400"): "25,100",  # tune
    ("--n-images", "20"): "2",  # operator sweeps
    ("--factor", "2,4"): "2,4",  # superres: two factors of 28 are already small
    ("--mask", "random:0.5,random:0.8,center"): "random:0.5,center",
    ("--mask", "random:0.8"): "random:0.8",  # inpaint: a mask is no size
    ("--engine-grid", "lambda_z=0.3,steps=300;lambda_z=0.001,steps=1000"): (
        "lambda_z=0.3,steps=2;lambda_z=0.001,steps=3"
    ),
    ("--batch-size", "64"): "8",
    ("--ngf", "32"): "8",  # pretrain: the exported generator runs 4,096 latents per save
    ("--steps", "8000"): "2",
    ("--steps", "12000"): "3",  # the resume continues 2 -> 3
}
SIZE_FLAGS = {flag for flag, _ in SHRINK}

#: Tiny values for the sizes a command leaves at their defaults (added only when not set).
UNSET = {
    "ganinverse demo": "--n-images 1 --no-progress",
    "ganinverse inpaint": "--steps 2 --restarts 1 --no-progress",
    "ganinverse train-classifier": "--no-progress",
    "ganinverse defend eval": "--steps 2 --restarts 1 --pgd-steps 2 --bpda-steps 1 "
    "--eot-samples 1 --latent-steps 2 --latent-restarts 1 --no-progress",
    "ganinverse reconstruct": "--steps 2 --restarts 1 --no-progress",
    "ganinverse sweep": "--steps 2 --restarts 1 --batch-size 1 --n-val 1 --lasso-lambdas 1,0.1 "
    "--no-progress",
    "ganinverse sweep-merge": "",
    "ganinverse tune": "--steps 2 --restarts 1 --n-val 1 --lambda-z-grid 0.1 --no-progress",
    # --device cpu: two torchrun ranks cannot share one GPU under NCCL
    "ganinverse-pretrain": "--latent-dim 8 --ngf 8 --ndf 8 --batch-size 8 --steps 2 "
    "--save-every 100 --sample-every 100 --log-every 1 --threads 1 --device cpu --no-progress",
    # a resume takes the rest from the checkpoint; only these may differ from the first run
    "ganinverse-pretrain --resume": "--threads 1 --device cpu --no-progress",
}

#: ``ganinverse demo`` runs its built-in settings (ganinverse.cli.demo.DEMO); these replace them.
DEMO_TINY = {
    "x_values": (10, 25),
    "n_val": 1,
    "lasso_lambdas": (0.1,),
    "engine": {"restarts": 1, "steps": 2},
}

#: Lines that run in the folder of the line before them, using what it wrote.
CONTINUES = (
    "ganinverse defend eval --classifier clf/",  # the classifier train-classifier wrote
    "ganinverse-pretrain ... --out runs/mnist --resume",  # the run the line before started
    "ganinverse-pretrain --init runs/mnist",  # fine-tunes that run
)

#: Files each command writes under its output folder, as README.md or the command's --help names
#: them (globs; each must match at least one).
OUTPUTS = {
    "ganinverse demo": ("error_vs_m.png", "grid_m*.png"),
    "ganinverse inpaint": (
        "000_masked.png",
        "001_raw.png",
        "001_blended.png",
        "comparison.png",
        "summary.json",
    ),
    "ganinverse train-classifier": ("classifier.safetensors", "classifier.json"),
    "ganinverse defend eval": ("results.csv", "results.md", "cells.json"),
    "ganinverse reconstruct": ("original.png", "reconstruction.png", "comparison.png"),
    "ganinverse tune": ("weights.json", "recommended.json", "representation_error.json"),
    "ganinverse sweep": (
        "weights.json",
        "rows.csv",
        "summary.csv",
        "summary.md",
        "error_vs_m.png",
        "grid_*.png",
    ),
    "ganinverse sweep-merge": ("rows.csv", "summary.csv", "summary.md", "error_vs_m.png"),
    **{
        key: (  # and gi.load_generator(OUT) loads it (see _check_outputs)
            "losses.csv",
            "losses.png",
            "samples/*.png",
        )
        for key in ("ganinverse-pretrain", "ganinverse-pretrain --resume")
    },
}
DEFAULT_OUT = {"ganinverse demo": "ganinverse-demo", "ganinverse-pretrain": "runs/pretrain"}

#: The ```python blocks in README order: (first line, exact replacements, code run before it).
PYTHON_BLOCKS = [
    (
        "import torch",
        {
            # the card's settings (10 x 1000 steps) cut to 1 x 3; the card's λ_z and init stay
            "res = gi.csgm(G, A, y)": "res = gi.csgm(G, A, y, restarts=1, steps=3)",
        },
        "",
    ),
    (
        "from ganinverse.masks import parse_mask",
        {"steps=800, restarts=2, lr=0.1": "steps=3, restarts=1, lr=0.1"},
        "",
    ),
    (
        "from ganinverse.defense import ProjectionDefense, OverpoweredAttack, bpda_pgd",
        {
            '"DIR", "test", n=8)': '"data", "test", n=2)',
            "ProjectionDefense(G)": "ProjectionDefense(G, steps=3, restarts=1)",
            "bpda_pgd(defense, classifier, eps=0.3)": "bpda_pgd(defense, classifier, eps=0.3, steps=2)",
            "OverpoweredAttack(G, classifier, eps=2.0)": (
                "OverpoweredAttack(G, classifier, eps=2.0, steps=2, restarts=1, bisection_steps=2)"
            ),
        },
        # the names the block leaves to the reader; its comment suggests this classifier
        'classifier = gi.models.load_classifier("mnist")\n',
    ),
]
#: What each block must have produced (evaluated in the blocks' namespace).
PYTHON_CHECKS = [
    (
        "tuple(x.shape) == (20, 1, 28, 28) and -1 <= x.min() and x.max() <= 1",
        "res.x_hat.shape == x.shape and sparse.x_hat.shape == x.shape",
        "len(res.restart_losses) == 20",
        "res.config.init == G.checkpoint_config['recommended']['csgm']['by_m'][3]['settings']['init']",
    ),
    ("res.x_raw.shape == x.shape and res.x_blended.shape == x.shape", "mask.shape[0] == 20"),
    (
        "model(images).shape == (2, 10)",
        "x_adv.shape == images.shape",
        "(x_adv - images).abs().max() <= 0.3 + 1e-6",
        "0 <= float(pairs.success_rate) <= 1",
    ),
]

N_TRAIN, N_TEST = 64, 20  # images of the tiny data folder (train-classifier trains on all)


# ------------------------------------------------------------------------------- the parsing
@dataclass
class Command:
    text: str  # as printed (one command of a line)
    tokens: list[str]
    key: str = ""  # "ganinverse sweep", "ganinverse-pretrain", ... ("" = not run)
    args: list[str] = field(default_factory=list)  # the arguments of the ganinverse tool
    torchrun: list[str] | None = None  # torchrun's own options and module, when launched by it


@dataclass
class Line:
    text: str  # a README line, continuation lines joined
    number: int  # its (first) line number in README.md


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README.read_text(), flags=re.S)


def _split(text: str) -> list[tuple[str, list[str]]]:
    """A shell line -> its commands (text, tokens), split at ``&&``, ``;``, ``&``, ``|``."""
    lex = shlex.shlex(text, posix=True, punctuation_chars=True)
    lex.whitespace_split = True
    commands, current = [], []
    for token in [*lex, ";"]:
        if token in ("&&", ";", "&", "||", "|"):
            if current:
                commands.append(current)
            current = []
        else:
            current.append(token)
    return [(shlex.join(c), c) for c in commands]


def _tool_key(tool: str, args: list[str]) -> str:
    if tool == "ganinverse-pretrain":
        return f"{tool} --resume" if "--resume" in args else tool
    sub = [a for a in args if not a.startswith("-") and a != "..."]
    words = sub[:2] if sub[:1] == ["defend"] else sub[:1]
    return " ".join([tool, *words])


def _classify(text: str, tokens: list[str]) -> Command:
    cmd = Command(text, tokens)
    if " ".join(tokens) in NOT_RUN:
        return cmd
    if tokens[0] in ("ganinverse", "ganinverse-pretrain"):
        cmd.key, cmd.args = _tool_key(tokens[0], tokens[1:]), tokens[1:]
    elif tokens[:3] == ["python", "-m", "pretrain"]:
        cmd.key, cmd.args = "ganinverse-pretrain", tokens[3:]
    elif tokens[0] == "torchrun" and "-m" in tokens:
        i = tokens.index("-m")
        module = tokens[i + 1]
        tool = {"ganinverse.cli": "ganinverse", "pretrain": "ganinverse-pretrain"}.get(module)
        if tool is None:
            raise AssertionError(f"README: torchrun of an unknown module {module!r}: {text}")
        cmd.torchrun = tokens[1 : i + 2]
        rest = tokens[i + 2 :]
        cmd.args = rest[1:] if rest[:1] == ["--"] else rest
        cmd.key = _tool_key(tool, cmd.args)
    else:
        raise AssertionError(f"README command that this test does not know how to run: {text!r}")
    return cmd


def readme_lines() -> list[Line]:
    """The lines of the ```bash blocks, continuation lines joined, with their line numbers."""
    lines: list[Line] = []
    lang, pending, start = None, "", 0
    for number, raw in enumerate(README.read_text().splitlines(), 1):
        if raw.startswith("```"):
            lang = raw[3:].strip() if lang is None else None
            continue
        if lang != "bash":
            continue
        start = start if pending else number
        if raw.endswith("\\"):
            pending += raw[:-1] + " "
            continue
        text, pending = " ".join((pending + raw).split()), ""
        if text:
            lines.append(Line(text, start))
    return lines


def _runs_something(line: Line) -> bool:
    return any(" ".join(tokens) not in NOT_RUN for _, tokens in _split(line.text))


def _groups() -> list[list[Line]]:
    """README lines that run something, each with the CONTINUES lines after it (one folder)."""
    groups: list[list[Line]] = []
    for line in filter(_runs_something, readme_lines()):
        if groups and line.text.startswith(CONTINUES):
            groups[-1].append(line)
        else:
            groups.append([line])
    return groups


def _group_id(group: list[Line]) -> str:
    """The first command run, up to its first option: "ganinverse demo", "torchrun"."""
    tokens = next(t for _, t in _split(group[0].text) if " ".join(t) not in NOT_RUN)
    words = []
    for token in tokens:
        if token.startswith("-") or token == "...":
            break
        words.append(token)
    return f"README:{group[0].number} {' '.join(words)}"


GROUPS = _groups()


# ------------------------------------------------------------------------------- the filling
class Unfilled(AssertionError):
    pass


def fill(cmd: Command, data_root: Path) -> list[str]:
    """The arguments run for a README command: sizes shrunk, ``...`` and DIR filled."""
    args = list(cmd.args)
    for i, token in enumerate(args[:-1]):
        if token in SIZE_FLAGS:
            value = args[i + 1]
            if (token, value) not in SHRINK:
                raise Unfilled(f"README sets {token} {value} in {cmd.text!r}: add it to SHRINK")
            args[i + 1] = SHRINK[token, value]
    if "..." in args:
        if cmd.key not in ELLIPSIS:
            raise Unfilled(f"no ELLIPSIS entry for {cmd.key!r} in {cmd.text!r}")
        i = args.index("...")
        args[i : i + 1] = shlex.split(ELLIPSIS[cmd.key])
    args = [str(data_root) if a == "DIR" else a for a in args]
    if cmd.key not in UNSET:
        raise Unfilled(f"no UNSET entry for {cmd.key!r} in {cmd.text!r}")
    extra = shlex.split(UNSET[cmd.key])
    while extra:
        flag = extra.pop(0)
        value = [extra.pop(0)] if extra and not extra[0].startswith("--") else []
        if flag not in args and not _replaced(flag, args):
            args += [flag, *value]
    leftover = [a for a in args if "..." in a or a == "DIR"]
    assert not leftover, f"unfilled placeholders {leftover} in {cmd.text!r}"
    return args


def _replaced(flag: str, args: list[str]) -> bool:
    """Whether the command sets ``flag`` another way: an --engine-grid whose candidates all set
    it (a fixed value beside it is refused), or an attack budget of an attack it does not run
    (a budget flag no attack of --attacks reads is refused)."""
    if "--engine-grid" in args:
        grid = args[args.index("--engine-grid") + 1]
        key = flag[2:].replace("-", "_")
        if all(f"{key}=" in c for c in grid.split(";")):
            return True
    if "--attacks" in args and flag in ("--eot-samples", "--latent-steps", "--latent-restarts"):
        names = {a.split(":")[0].rstrip("2") for a in args[args.index("--attacks") + 1].split(",")}
        return {"--eot-samples": "eot"}.get(flag, "latent") not in names
    return False


def _out(key: str, args: list[str]) -> str:
    if key == "ganinverse sweep-merge":
        return args[-1]
    if "--out" in args:
        return args[args.index("--out") + 1]
    return DEFAULT_OUT[key]


# -------------------------------------------------------------------------------- the running
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_in_process(key: str, args: list[str], monkeypatch) -> tuple[int, str]:
    import ganinverse.cli
    import ganinverse.cli.demo
    import pretrain.cli

    if key == "ganinverse demo":
        from ganinverse.sweep import SweepSpec

        fields = set(SweepSpec.__dataclass_fields__)
        for name, value in DEMO_TINY.items():
            assert name in fields, f"SweepSpec has no {name!r}: update DEMO_TINY"
            monkeypatch.setitem(ganinverse.cli.demo.DEMO, name, value)
    main = pretrain.cli.main if key.startswith("ganinverse-pretrain") else ganinverse.cli.main
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        try:
            code = main(args)
        except SystemExit as exc:  # argparse
            code = exc.code if isinstance(exc.code, int) else 1
    return code, buf.getvalue()


def _run_torchrun(cmd: Command, args: list[str]) -> tuple[int, str]:
    torchrun = Path(sys.executable).with_name("torchrun")
    dashes = ["--"] if cmd.tokens[len(cmd.torchrun) + 1 : len(cmd.torchrun) + 2] == ["--"] else []
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
        "PET_MASTER_PORT": str(_free_port()),  # torchrun's --master-port, without editing the line
    }
    proc = subprocess.run(
        [str(torchrun), *cmd.torchrun, *dashes, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    return proc.returncode, proc.stdout + proc.stderr


def _check_outputs(key: str, args: list[str], output: str) -> None:
    out = Path(_out(key, args))
    missing = [g for g in OUTPUTS[key] if not list(out.glob(g))]
    assert not missing, f"{key} wrote no {missing} under {out}: {sorted(map(str, out.rglob('*')))}"
    if key.startswith("ganinverse-pretrain"):  # "Load the result with gi.load_generator(...)"
        from ganinverse.models import load_generator

        steps = args[args.index("--steps") + 1]
        assert f"trained to step {steps};" in output, output[-2000:]
        assert load_generator(out, device="cpu").image_shape[0] in (1, 3)


def run_line(line: Line, data_root: Path, monkeypatch) -> None:
    checks = []
    for text, tokens in _split(line.text):
        cmd = _classify(text, tokens)
        if not cmd.key:
            continue
        args = fill(cmd, data_root)
        if cmd.torchrun is None:
            code, output = _run_in_process(cmd.key, args, monkeypatch)
        else:
            code, output = _run_torchrun(cmd, args)
        assert code == 0, f"`{text}` ran as {args} and exited {code}:\n{output[-4000:]}"
        sharded = "--shard" in args or cmd.torchrun is not None
        if not (cmd.key == "ganinverse sweep" and sharded):  # a shard's report is the merge's
            checks.append((cmd.key, args, output))
        if cmd.torchrun is not None and cmd.key == "ganinverse sweep":  # "then sweep-merge"
            merge = ["sweep-merge", _out(cmd.key, args)]
            code, output = _run_in_process("ganinverse sweep-merge", merge, monkeypatch)
            assert code == 0, f"sweep-merge after `{text}` exited {code}:\n{output[-4000:]}"
            checks.append(("ganinverse sweep-merge", merge, output))
    for key, args, output in checks:
        _check_outputs(key, args, output)


# -------------------------------------------------------------------------------- the data
def _write_idx(path: Path, array: np.ndarray) -> None:
    header = b"\x00\x00\x08" + bytes([array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def _uint8(x: torch.Tensor) -> np.ndarray:
    return ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    """DIR: the embedded digits as a tiny MNIST (torchvision's .gz layout) and celeba64 npz."""
    from ganinverse.data import load_images

    root = tmp_path_factory.mktemp("DIR")
    for split, prefix, n in (("train", "train", N_TRAIN), ("test", "t10k", N_TEST)):
        x, labels = load_images("digits", split=split, n=n)
        _write_idx(root / "MNIST/raw" / f"{prefix}-images-idx3-ubyte.gz", _uint8(x[:, 0]))
        _write_idx(root / "MNIST/raw" / f"{prefix}-labels-idx1-ubyte.gz", labels.numpy())
    for name, split in (("celeba64.npz", "train"), ("celeba64_csgm_test.npz", "test")):
        x, _ = load_images("digits", split=split, n=N_TEST, image_size=64)
        np.savez(root / name, images=_uint8(x.expand(-1, 3, -1, -1).permute(0, 2, 3, 1)))
    return root


# -------------------------------------------------------------------------------- the tests
def test_every_readme_command_is_known():
    """Each command is run, or listed in NOT_RUN; the sizes and ``...`` are in the table."""
    root = Path("/nonexistent-DIR")
    run = []
    for line in readme_lines():
        for text, tokens in _split(line.text):
            cmd = _classify(text, tokens)
            if cmd.key:
                fill(cmd, root)
                run.append(cmd.key)
    assert {"ganinverse demo", "ganinverse sweep", "ganinverse-pretrain"} <= set(run)


def test_torchrun_lines_end_torchruns_options_with_double_dash():
    """torchrun abbreviates its own options: ``--m`` is ambiguous there unless after ``--``."""
    lines = [line for line in readme_lines() if line.text.startswith("torchrun")]
    assert lines, "the README no longer shows torchrun"
    for line in lines:
        for _, tokens in _split(line.text):
            i = tokens.index("-m")
            assert tokens[i + 2 : i + 3] == ["--"], f"no `--` after `-m {tokens[i + 1]}`: {line}"


@pytest.mark.slow
@pytest.mark.parametrize("group", GROUPS, ids=[_group_id(g) for g in GROUPS])
def test_readme_command_runs(group, data_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for line in group:
        run_line(line, data_root, monkeypatch)


@pytest.mark.slow
def test_readme_python_blocks_run(data_root, tmp_path, monkeypatch):
    blocks = _blocks("python")
    assert len(blocks) == len(PYTHON_BLOCKS), "a ```python block was added or removed"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").symlink_to(data_root)  # root="data": the tiny MNIST
    namespace: dict = {"__name__": "readme"}
    for block, (first, replacements, prelude), checks in zip(
        blocks, PYTHON_BLOCKS, PYTHON_CHECKS, strict=True
    ):
        assert block.startswith(first), f"README python block now starts {block[:60]!r}"
        code = block
        for old, new in replacements.items():
            assert code.count(old) == 1, f"{old!r} is no longer in the README block {first!r}"
            code = code.replace(old, new)
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(prelude + code, f"README.md python block {first!r}", "exec"), namespace)
        for check in checks:
            assert eval(check, namespace), f"after block {first!r}: {check}"
