"""Untrained-network priors (Deep Decoder, Deep Image Prior): recovery on smooth images, the
weight count, every operator, batch independence and seeds, bad input, a sweep without G."""

import json
import math

import pytest
import torch

from ganinverse.exceptions import ConvergenceWarning
from ganinverse.methods import get_method, reconstruct, reconstruct_result
from ganinverse.models.untrained import DeepDecoder, SkipNet
from ganinverse.operators import GaussianCS, Inpainting, SuperResolution
from ganinverse.seeds import rng
from ganinverse.solvers.untrained import deep_decoder, deep_image_prior
from ganinverse.sweep import Sweep, read_rows
from ganinverse.sweep.spec import make_spec

SHAPE = (1, 16, 16)
DD = dict(channels=8, depth=4, device="cpu")  # 16x16: inputs 2x2, 4 layers
DIP = dict(channels=8, levels=2, skip_channels=2, input_channels=8, device="cpu")


def smooth_images(n: int = 1) -> torch.Tensor:
    """Low-frequency patterns in [-0.8, 0.8], (n, 1, 16, 16)."""
    u = torch.linspace(0, 1, 16)
    out = []
    for k in range(n):
        a = 2 * math.pi * (u + 0.1 * k)
        out.append(0.5 * torch.sin(a)[:, None] * torch.cos(0.5 * a)[None, :] + 0.3 * u[None, :])
    return torch.stack(out)[:, None]


def mse(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).pow(2).mean())


@pytest.mark.parametrize("case", ["inpainting", "superres"])
def test_deep_decoder_beats_the_naive_inverse_on_a_smooth_image(case):
    x = smooth_images()
    if case == "inpainting":  # random 50% of the pixels missing; zero-filling is A⁺y = Aᵀy
        mask = (torch.rand(1, 16, 16, generator=torch.Generator().manual_seed(3)) > 0.5).float()
        op = Inpainting(mask, SHAPE)
        naive = op.A_adjoint(op.measure(x))
    else:  # 2x average pooling; A⁺y = f²Aᵀy repeats each measurement over its block
        op = SuperResolution(SHAPE, 2)
        naive = 4 * op.A_adjoint(op.measure(x))
    res = deep_decoder(None, op, op.measure(x), steps=400, image_ids=[0], **DD)
    assert res.x_hat.shape == x.shape and res.improved.all()
    assert mse(res.x_hat, x) < 0.5 * mse(naive, x), (mse(res.x_hat, x), mse(naive, x))


def test_the_deep_decoder_is_under_parameterised():
    """d·k² + 2·d·k + k·C weights (1x1 convolutions, norm scale and shift, output layer)."""
    net = DeepDecoder((3, 64, 64), channels=16, depth=4)  # the defaults, on 64x64 RGB images
    assert net.n_parameters() == 4 * 16**2 + 2 * 4 * 16 + 16 * 3 == 1200
    assert net.n_parameters() < 3 * 64 * 64 / 10  # n = 12,288 pixels
    paper = DeepDecoder((3, 512, 512), channels=64, depth=6)  # Heckel & Hand's 512px setting
    assert paper.n_parameters() == 25_536 and paper.input_shape == (64, 16, 16)
    # the DIP network is over-parameterised: it relies on stopping early
    assert SkipNet((1, 28, 28)).n_parameters() == 91_293 > 28 * 28


def test_default_sizes_fit_small_images():
    """depth / levels None: 4 / 3, fewer where the coarsest grid would drop below 2x2."""
    assert DeepDecoder((1, 28, 28)).sizes == [(4, 4), (7, 7), (14, 14), (28, 28)]
    assert DeepDecoder((3, 8, 8)).depth == 3 and SkipNet((3, 8, 8)).levels == 2
    assert DeepDecoder((3, 64, 64)).input_shape == (16, 8, 8) and SkipNet((1, 64, 64)).levels == 3
    with pytest.raises(ValueError, match="use depth <= 3 for this size"):
        DeepDecoder((3, 8, 8), depth=4)


@pytest.mark.parametrize("method", ["deep-decoder", "dip"])
def test_every_operator(method, any_operator):
    options = (
        {"channels": 4, "depth": 3, "device": "cpu"}
        if method == "deep-decoder"
        else {"channels": 4, "levels": 2, "skip_channels": 2, "input_channels": 4, "device": "cpu"}
    )
    x = torch.rand(2, *any_operator.in_shape, generator=torch.Generator().manual_seed(0)) - 0.5
    y = any_operator.measure(x)
    res = reconstruct_result(method, None, any_operator, y, image_ids=[3, 4], steps=3, **options)
    assert res.x_hat.shape == x.shape and res.x_hat.dtype == torch.float32
    assert torch.isfinite(res.x_hat).all() and res.x_hat.abs().max() < 1
    assert res.history.shape == (4, 2) and torch.isfinite(res.history).all()
    assert torch.allclose(res.history[-1], res.data_loss.cpu())
    assert res.seconds > 0 and res.steps == 3


def test_one_step_is_adam_on_the_data_term_of_the_seeded_network():
    """Known answer: the batched fit equals one plain network per image, seeded by its
    identity, after one Adam step on (1/m)||y − A f_θ(z)||²."""
    op = GaussianCS(SHAPE, 60, seed=0)
    x = smooth_images(2)
    y = op.measure(x)
    res = deep_decoder(None, op, y, steps=1, lr=0.01, image_ids=[4, 9], **DD)
    for i, image_id in enumerate([4, 9]):
        gen = rng(0, "deep-decoder", image_id)
        net = DeepDecoder(SHAPE, 8, 4).reset(gen)
        z = net.draw_input(gen)
        opt = torch.optim.Adam(net.parameters(), lr=0.01)
        start = op.data_misfit(y[i : i + 1], op.A(net(z)))
        assert torch.allclose(res.history[0, i], start.detach()[0], rtol=1e-5)
        opt.zero_grad()
        start.sum().backward()
        opt.step()
        with torch.no_grad():
            assert torch.allclose(res.x_hat[i : i + 1], net(z), atol=1e-5)


@pytest.mark.parametrize("method", ["deep-decoder", "dip"])
def test_an_image_does_not_depend_on_its_batch_and_seeds_repeat(method):
    options = DD if method == "deep-decoder" else DIP
    op = GaussianCS(SHAPE, 80, seed=1, noise_std=0.05)
    x = smooth_images(3)
    y = op.measure(x, seed=2)
    solve = deep_decoder if method == "deep-decoder" else deep_image_prior

    def run(rows, ids, **kw):
        return solve(None, op, y[rows], steps=30, image_ids=ids, **options, **kw).x_hat

    batch = run([0, 1, 2], [10, 11, 12])
    alone = run([1], [11])
    reordered = run([2, 1], [12, 11])
    assert torch.allclose(batch[1], alone[0], atol=1e-5)
    assert torch.allclose(batch[1], reordered[1], atol=1e-5)
    assert torch.equal(run([0, 1, 2], [10, 11, 12]), batch)  # the same seed repeats
    assert not torch.allclose(run([0, 1, 2], [10, 11, 12], seed=1), batch, atol=1e-3)
    # the seed's key names the method: the other method's draws differ
    assert get_method(method).seeded and get_method(method).tuned.key == "untrained_steps"


def test_without_identities_every_image_starts_alike():
    op = SuperResolution(SHAPE, 2)
    y = op.measure(smooth_images(1)).repeat(2, 1, 1, 1)
    res = deep_decoder(None, op, y, steps=5, **DD)
    assert torch.allclose(res.x_hat[0], res.x_hat[1], atol=1e-6)


def test_dip_fits_its_data_term():
    x = smooth_images(2)
    mask = (torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(1)) > 0.5).float()
    op = Inpainting(mask, SHAPE)  # one mask per image
    res = deep_image_prior(None, op, op.measure(x), steps=60, image_ids=[0, 1], **DIP)
    assert res.improved.all()
    assert (res.history[-1] < 0.1 * res.history[0]).all()
    assert res.n_parameters == SkipNet(SHAPE, 8, 2, 2, 8).n_parameters()


def test_a_fit_that_cannot_improve_warns():
    """y measured from the network's own start: the data term starts at ~0 and any step
    raises it, so no image improved."""
    op = GaussianCS(SHAPE, 60, seed=0)
    gen = rng(0, "deep-decoder", 5)
    net = DeepDecoder(SHAPE, 8, 4).reset(gen)
    with torch.no_grad():
        y = op.A(net(net.draw_input(gen)))
    with pytest.warns(ConvergenceWarning, match="not below its start"):
        res = deep_decoder(None, op, y, steps=3, image_ids=[5], **DD)
    assert not res.improved.any()


@pytest.mark.parametrize("solver", ["deep-decoder", "dip"])
def test_a_fit_that_barely_moves_is_not_improved(solver):
    """helper-48: lr=1e-8 moved the data term by 0.002% and the fit was reported "ok": random
    weights are a random start, so a fit must lower it by more than STALL_RTOL."""
    x = smooth_images(2)
    op = GaussianCS(SHAPE, 60, seed=0)
    fit, options = (deep_decoder, DD) if solver == "deep-decoder" else (deep_image_prior, DIP)
    options = {**options, "lr": 1e-8}
    with pytest.warns(ConvergenceWarning, match=r"by more than 0\.1%.*raise lr or steps"):
        res = fit(None, op, op.measure(x), steps=5, image_ids=[0, 1], **options)
    assert not res.improved.any() and list(res.status) == ["not_improved"] * 2


def test_bad_input_is_refused_with_the_fix():
    op = GaussianCS(SHAPE, 40, seed=0)
    y = op.measure(smooth_images())
    with pytest.raises(ValueError, match="steps must be >= 1"):
        deep_decoder(None, op, y, steps=0, **DD)
    with pytest.raises(TypeError, match="steps must be an int"):
        deep_decoder(None, op, y, steps=2.5, **DD)
    with pytest.raises(ValueError, match="lr"):
        deep_decoder(None, op, y, lr=-1.0, **DD)
    with pytest.raises(ValueError, match="channels must be >= 1"):
        deep_decoder(None, op, y, channels=0, depth=4, device="cpu")
    with pytest.raises(ValueError, match="use depth <= 4"):
        deep_decoder(None, op, y, channels=8, depth=5, device="cpu")
    with pytest.raises(ValueError, match="use levels <= 3"):
        deep_image_prior(None, op, y, levels=4, device="cpu")
    with pytest.raises(ValueError, match="y must have shape"):
        deep_decoder(None, op, y[:, :30], **DD)
    with pytest.raises(ValueError, match="were the images in"):
        deep_decoder(None, op, 255 * y, **DD)
    with pytest.raises(TypeError, match="operator must be"):
        deep_decoder(None, "gaussian", y, **DD)
    with pytest.raises(ValueError, match="one id per image"):
        deep_decoder(None, op, y, image_ids=[1, 2], **DD)
    with pytest.raises(TypeError, match="has no option"):
        reconstruct("deep-decoder", None, op, y, chanels=4)
    # an integral float (a grid read from the command line) is a number of steps
    assert deep_decoder(None, op, y, steps=2.0, **DD).steps == 2


def test_a_sweep_searches_the_steps_without_a_generator(tmp_path):
    out = tmp_path / "run"
    spec = make_spec(
        dataset="digits",
        generator=None,
        x_values=(60,),
        methods=("deep-decoder",),
        n_images=2,
        batch_size=2,
        n_val=2,
        grids={"untrained_steps": (3, 6)},
        options={"deep-decoder": {"channels": 4, "device": "cpu"}},
    )
    Sweep(spec, out).run(progress=False)
    rows = read_rows([out / "rows.csv"])
    assert sorted((r["method"], r["setting"], r["image"]) for r in rows) == [
        ("deep-decoder", "60", "0"),
        ("deep-decoder", "60", "1"),
    ]
    assert all(math.isfinite(float(r["mse"])) and float(r["seconds"]) > 0 for r in rows)
    entry = json.loads((out / "weights.json").read_text())["deep-decoder@60"]
    assert entry["weight"] == "untrained_steps"
    assert [v for v, _ in entry["validation_mse"]] == [3, 6]
    assert entry["value"] in (3, 6) and entry["n_val"] == 2


@pytest.mark.parametrize("fit, options", [(deep_decoder, DD), (deep_image_prior, DIP)])
def test_a_bar_shows_the_steps_unless_progress_is_off(fit, options, capsys):
    op = GaussianCS(SHAPE, 64, seed=0)
    y = op.A(smooth_images(1))
    fit(None, op, y, steps=3, **options)
    err = capsys.readouterr().err
    assert "/3 [" in err and ("deep-decoder" in err or "dip" in err)
    fit(None, op, y, steps=3, progress=False, **options)
    assert capsys.readouterr().err == ""


def test_a_sweep_runs_untrained_priors_without_their_bars_and_records_no_progress(tmp_path):
    spec = make_spec(
        dataset="digits",
        x_values=(100,),
        methods=("deep-decoder",),
        n_images=1,
        n_val=1,
        grids={"untrained_steps": (2,)},
    )
    assert spec.method_options("deep-decoder")["progress"] is False
    assert "progress" not in spec.resolved()["methods"]["deep-decoder"]


def test_a_generator_given_to_an_untrained_prior_warns_idle():
    """User trial: deep_decoder(G, ...) called directly took G without a word (reconstruct
    warned); once only through reconstruct."""
    import warnings

    import ganinverse as gi
    from ganinverse.exceptions import IdleOptionWarning
    from ganinverse.solvers.untrained import deep_decoder

    G = gi.load_generator("digits")
    x, _ = gi.load_images("digits", split="test", n=1)
    A = gi.GaussianCS((1, 28, 28), 30, seed=0)
    with pytest.warns(IdleOptionWarning, match="deep_decoder uses no generator"):
        deep_decoder(G, A, A.measure(x), steps=1, progress=False)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        gi.reconstruct("deep-decoder", G, A, A.measure(x), steps=1)
    assert sum(issubclass(w.category, IdleOptionWarning) for w in seen) == 1


@pytest.fixture
def one_mebibyte(monkeypatch):
    """A device of 1 MiB: a network of ~1,000 channels (within the width budget) exceeds it."""
    from ganinverse.models import cost

    monkeypatch.setattr(cost, "device_memory", lambda device: 2**20)


@pytest.mark.parametrize(
    "solver,options,match",
    [
        (deep_decoder, {"channels": 1000}, r"the Deep Decoder of channels=1000"),
        (deep_image_prior, {"channels": 1000}, r"the DIP network of channels=1000"),
    ],
)
def test_a_network_beyond_memory_is_refused_before_any_weight(solver, options, match, one_mebibyte):
    """User trial (helper-38): --dd-channels 100000 / --dip-channels 1e6 ended in an allocation
    traceback or the OOM killer; now a ValueError with the GiB needed, before allocating."""
    A = GaussianCS((1, 8, 8), 20, seed=0)
    y = A(torch.zeros(2, 1, 8, 8))
    with pytest.raises(ValueError, match=match + r".*GiB.*lower channels"):
        solver(None, A, y, steps=1, **options)


def test_the_method_check_refuses_such_a_network_for_the_cli(one_mebibyte):
    with pytest.raises(ValueError, match=r"Deep Decoder of channels=1000.*--dd-channels"):
        get_method("deep-decoder").validate({"channels": 1000}, shape=(1, 28, 28))
    with pytest.raises(ValueError, match=r"DIP network of channels=1000.*--dip-channels"):
        get_method("dip").validate({"channels": 1000}, shape=(1, 28, 28))


@pytest.mark.parametrize(
    "solver,option",
    [
        (deep_decoder, "channels"),
        (deep_image_prior, "channels"),
        (deep_image_prior, "skip_channels"),
        (deep_image_prior, "input_channels"),
    ],
)
def test_a_width_beyond_the_budget_is_refused_even_where_memory_suffices(solver, option):
    """User trial: --dip-channels 3000 fit in memory and ran for hours (cost ~ width²): a
    width beyond 1,024 channels (8-16x the published 64 / 128) is refused before any work."""
    A = GaussianCS((1, 8, 8), 20, seed=0)
    y = A(torch.zeros(2, 1, 8, 8))
    with pytest.raises(
        ValueError, match=rf"{option} must be <= 1,024, got 3,000: it counts channels"
    ):
        solver(None, A, y, steps=1, **{option: 3000})


def test_dip_without_skip_connections_is_the_hourglass():
    """Helper-41: skip_channels=0 (Ulyanov et al.'s hourglass, no skips) was refused as a width
    below 1. It builds a network without skip convolutions that fits y like the others."""
    from ganinverse.models.untrained import SkipNet

    with_skips = SkipNet((1, 8, 8), 8, skip_channels=2, input_channels=8)
    hourglass = SkipNet((1, 8, 8), 8, skip_channels=0, input_channels=8)
    assert hourglass.n_parameters() < with_skips.n_parameters()
    assert not any(p.numel() for p in hourglass.skip.parameters())
    A = GaussianCS((1, 8, 8), 40, seed=0)
    x = torch.rand(2, 1, 8, 8) * 2 - 1
    result = deep_image_prior(None, A, A(x), steps=30, **{**DIP, "skip_channels": 0})
    assert result.x_hat.shape == x.shape and torch.isfinite(result.x_hat).all()
    with pytest.raises(ValueError, match="skip_channels must be >= 0"):
        SkipNet((1, 8, 8), 8, skip_channels=-1)
