"""deepinv interop (ganinverse.interop.deepinv): deepinv physics as ganinverse operators on the
right image scale, and ganinverse generators inside deepinv's CSGM. Tests that need deepinv skip
without it (it is an optional extra); the refusals and the generator wrapper run everywhere."""

from __future__ import annotations

import copy

import pytest
import torch

import ganinverse as gi
from ganinverse.interop.deepinv import as_deepinv_generator, from_deepinv
from ganinverse.operators import MatrixOperator, check_operator

FAST = dict(restarts=4, steps=500, lr=0.05, lambda_z=0.0, progress=False)
SHAPE = (3, 8, 8)


@pytest.fixture
def dinv():
    return pytest.importorskip("deepinv", minversion="0.5")


def in_range(G, n, seed=0):
    z = torch.randn(n, G.latent_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return G(z)


def _physics(dinv, kind):
    """One deepinv LinearPhysics of each kind, on SHAPE images, seeded."""
    box = torch.ones(1, 1, 3, 3) / 9
    return {
        "cs": lambda: dinv.physics.CompressedSensing(
            m=50, img_size=SHAPE, rng=torch.Generator().manual_seed(0)
        ),
        "inpainting": lambda: dinv.physics.Inpainting(
            img_size=SHAPE, mask=0.5, rng=torch.Generator().manual_seed(1)
        ),
        "downsampling": lambda: dinv.physics.Downsampling(
            img_size=SHAPE, factor=2, filter="bicubic"
        ),
        "blur": lambda: dinv.physics.BlurFFT(img_size=SHAPE, filter=box),
        "denoising": lambda: dinv.physics.Denoising(dinv.physics.GaussianNoise(0.1)),
    }[kind]()


KINDS = ("cs", "inpainting", "downsampling", "blur", "denoising")


# -- the known answer: deepinv's CS matrix through the adapter = the same matrix in ganinverse ----


def test_csgm_through_the_adapter_is_csgm_with_the_same_matrix(dinv, toy_rgb_generator):
    G = toy_rgb_generator
    physics = _physics(dinv, "cs")
    x = in_range(G, 2, seed=3)  # truth in the range of G, on [-1, 1]
    y01 = physics(gi.data.to_unit(x))  # deepinv's measurements of the [0, 1] images
    op = from_deepinv(physics, SHAPE)
    y = op.measurements_from_deepinv(y01)
    res = gi.csgm(G, op, y, image_ids=[0, 1], **FAST)
    assert float((res.x_hat - x).pow(2).mean()) < 1e-6  # near-zero error in the range
    same = MatrixOperator(physics._A, SHAPE)  # ganinverse's own operator from the same matrix
    y_same = same.from_unit_measurements(y01)
    assert torch.allclose(y, y_same, atol=1e-5)
    ref = gi.csgm(G, same, y_same, image_ids=[0, 1], **FAST)
    assert torch.allclose(res.x_hat, ref.x_hat, atol=1e-5)
    assert torch.allclose(res.loss, ref.loss, atol=1e-5)
    # and through the registry (API), the same again
    x_hat = gi.reconstruct("csgm", G, op, y, image_ids=[0, 1], **FAST)
    assert torch.allclose(x_hat, ref.x_hat, atol=1e-5)


def test_an_images_result_does_not_depend_on_its_batch(dinv, toy_rgb_generator):
    G = toy_rgb_generator
    physics = _physics(dinv, "cs")
    op = from_deepinv(physics, SHAPE)
    x = in_range(G, 3, seed=4)
    y = op.measurements_from_deepinv(physics(gi.data.to_unit(x)))
    small = dict(FAST, steps=50)
    batch = gi.csgm(G, op, y, image_ids=[7, 8, 9], **small)
    alone = gi.csgm(G, op, y[1:2], image_ids=[8], **small)
    assert torch.allclose(batch.x_hat[1:2], alone.x_hat, atol=1e-6)


# -- the adapter on each kind of physics ----------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_the_adapter_applies_the_physics_and_its_adjoint(dinv, kind):
    physics = _physics(dinv, kind)
    op = from_deepinv(physics, SHAPE)
    assert op.check_adjoint() < 1e-5
    x = torch.rand(2, *SHAPE) * 2 - 1
    assert torch.equal(op.A(x), physics.A(x))
    assert op.out_shape == tuple(physics.A(x).shape[1:])
    assert op.name is None and type(op) not in gi.operators.REGISTRY.values()
    # the scale contract: deepinv's measurement of x01 becomes ganinverse's of x = 2 x01 - 1
    x01 = gi.data.to_unit(x)
    assert torch.allclose(op.measurements_from_deepinv(physics.A(x01)), op.A(x), atol=1e-5)
    signed = from_deepinv(physics, SHAPE, scale="signed")
    assert torch.equal(signed.measurements_from_deepinv(physics.A(x)), physics.A(x))


def test_noise_level_comes_from_the_physics_on_the_right_scale(dinv):
    physics = _physics(dinv, "denoising")  # GaussianNoise(σ₀₁ = 0.1)
    assert from_deepinv(physics, SHAPE).noise.std == pytest.approx(0.2)
    assert from_deepinv(physics, SHAPE, scale="signed").noise.std == pytest.approx(0.1)
    assert from_deepinv(physics, SHAPE, noise_std=0.03).noise.std == 0.03
    assert from_deepinv(_physics(dinv, "cs"), SHAPE).noise.std == 0.0  # ZeroNoise


def test_a_deepinv_inpainting_mask_marks_the_measurements(dinv, toy_rgb_generator):
    physics = _physics(dinv, "inpainting")
    op = from_deepinv(physics, SHAPE)
    mask = physics.mask
    assert float(op.measurement_counts()[0]) == float(mask.sum())
    ours = gi.Inpainting(mask[0], SHAPE)  # the same data term as ganinverse's Inpainting
    x = in_range(toy_rgb_generator, 2, seed=1)
    y, ax = ours.measure(x), torch.zeros(2, *SHAPE)
    assert torch.allclose(op.data_misfit(y, ax), ours.data_misfit(y, ax))
    res = gi.csgm(
        toy_rgb_generator, op, op.measurements_from_deepinv(physics(gi.data.to_unit(x))), **FAST
    )
    assert float((res.x_hat - x).pow(2).mean()) < 1e-5


def test_the_adapter_refuses_what_it_cannot_represent(dinv):
    with pytest.raises(TypeError, match="LinearPhysics"):
        from_deepinv(torch.nn.Identity(), SHAPE)
    with pytest.raises(ValueError, match="img_size"):
        from_deepinv(_physics(dinv, "cs"), (1, 8, 8))
    with pytest.raises(ValueError, match="scale"):
        from_deepinv(_physics(dinv, "cs"), SHAPE, scale="bytes")
    poisson = dinv.physics.Denoising(dinv.physics.PoissonNoise(0.1))
    with pytest.raises(ValueError, match="not Gaussian.*noise_std"):
        from_deepinv(poisson, SHAPE)
    per_image = dinv.physics.Denoising(dinv.physics.GaussianNoise(torch.tensor([0.1, 0.2])))
    with pytest.raises(ValueError, match="one σ per image"):
        from_deepinv(per_image, SHAPE)
    affine = dinv.physics.LinearPhysics(A=lambda x, **kw: x + 1, A_adjoint=lambda y, **kw: y)
    with pytest.raises(ValueError, match="not linear"):
        from_deepinv(affine, SHAPE)
    wrong = dinv.physics.LinearPhysics(A=lambda x, **kw: 2 * x, A_adjoint=lambda y, **kw: y)
    with pytest.raises(ValueError, match="not the adjoint"):
        from_deepinv(wrong, SHAPE)
    masks = dinv.physics.Inpainting(img_size=SHAPE, mask=torch.ones(2, 1, 8, 8))
    with pytest.raises(ValueError, match=r"Inpainting\(physics.mask"):
        from_deepinv(masks, SHAPE)
    op = from_deepinv(_physics(dinv, "cs"), SHAPE)
    with pytest.raises(ValueError, match="0, 255"):
        op.measurements_from_deepinv(torch.full((1, 50), 255.0) * op.measurement_bound())


def test_a_deepinv_physics_given_directly_names_the_adapter(dinv, toy_rgb_generator):
    physics = _physics(dinv, "cs")
    y = torch.zeros(1, 50)
    with pytest.raises(TypeError, match=r"from_deepinv\(physics, image_shape\)"):
        gi.csgm(toy_rgb_generator, physics, y)
    with pytest.raises(TypeError, match="from_deepinv"):
        gi.reconstruct("lasso-dct", None, physics, y)


def test_the_adapter_converts_to_float64_with_its_physics(dinv):
    # deepinv's CompressedSensing casts y to physics.dtype, which .to(float64) leaves at float32;
    # the Lasso's float64 duality gap converts the operator so
    physics = _physics(dinv, "cs")
    op = from_deepinv(physics, SHAPE)
    op64 = copy.deepcopy(op).double()
    y = torch.randn(2, 50, dtype=torch.float64)
    assert op64.A_adjoint(y).dtype == torch.float64
    assert torch.allclose(op64.A_adjoint(y), op.A_adjoint(y.float()).double(), atol=1e-5)
    assert op.physics.dtype == torch.float32  # the original is untouched
    x01 = gi.data.to_unit(torch.rand(2, *SHAPE) * 2 - 1)
    y = op.measurements_from_deepinv(physics(x01))
    x_hat = gi.reconstruct("lasso-wavelet-detail", None, op, y, lam=0.01)
    ref = gi.reconstruct(
        "lasso-wavelet-detail", None, MatrixOperator(physics._A, SHAPE), y, lam=0.01
    )
    assert torch.allclose(x_hat, ref, atol=1e-4)


# -- without deepinv: the refusals and the generator wrapper ---------------------------------------


def test_operator_check_names_the_adapter_for_deepinv_and_the_fix_otherwise(toy_generator):
    fake = type("CompressedSensing", (), {"__module__": "deepinv.physics.compressed_sensing"})()
    for call in (
        lambda op: gi.csgm(toy_generator, op, torch.zeros(1, 5)),
        lambda op: gi.reconstruct("csgm", toy_generator, op, torch.zeros(1, 5)),
        check_operator,
    ):
        with pytest.raises(TypeError, match="deepinv CompressedSensing.*from_deepinv"):
            call(fake)
        with pytest.raises(TypeError, match="must be a ganinverse LinearOperator.*MatrixOperator"):
            call(object())


def test_the_generator_wrapper_follows_deepinvs_convention(toy_generator):
    G = toy_generator
    wrapped = as_deepinv_generator(G)
    z = torch.randn(3, G.latent_dim)
    with torch.no_grad():
        x = G(z)
        assert wrapped.nz == G.latent_dim
        assert torch.equal(wrapped(z[:, :, None, None]), (x + 1) / 2)  # deepinv's [0, 1]
        assert torch.equal(wrapped(z), (x + 1) / 2)
        assert torch.equal(as_deepinv_generator(G, scale="signed")(z), x)
    with pytest.raises(ValueError, match=r"\(B, 4, 1, 1\)"):
        wrapped(torch.zeros(3, 5, 1, 1))
    with pytest.raises(ValueError, match="scale"):
        as_deepinv_generator(G, scale="uint8")
    with pytest.raises(TypeError, match="latent_dim"):
        as_deepinv_generator(torch.nn.Linear(2, 2))


def test_deepinvs_csgm_runs_with_a_ganinverse_generator(dinv, toy_generator):
    G = toy_generator
    physics = dinv.physics.CompressedSensing(
        m=20, img_size=G.image_shape, rng=torch.Generator().manual_seed(0)
    )
    z = torch.rand(1, G.latent_dim, generator=torch.Generator().manual_seed(3)) * 2 - 1
    with torch.no_grad():
        x01 = gi.data.to_unit(G(z))  # the truth, in the range, on deepinv's scale
    model = dinv.models.CSGMGenerator(
        backbone_generator=as_deepinv_generator(G), inf_max_iter=2000, inf_tol=1e-6, inf_lr=0.05
    ).eval()
    torch.manual_seed(0)  # deepinv draws its start from torch's global generator
    x_hat = model(physics(x01), physics).detach()
    assert x_hat.shape == x01.shape
    assert float((x_hat - x01).pow(2).mean()) < 1e-6
