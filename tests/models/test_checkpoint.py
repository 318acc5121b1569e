import contextlib
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import ganinverse.models as gm
from ganinverse.models import (
    DCGANDiscriminator,
    DCGANGenerator,
    MLPGenerator,
    load_model,
    read_config,
    save_model,
)
from ganinverse.models.checkpoint import (
    InterruptedWriteWarning,
    copy_pair,
    read_tensors,
    update_config,
)
from ganinverse.models.registry import WEIGHTS_DIR

ROOT = Path(__file__).resolve().parents[2]


def _trained_like(module):
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.01 * torch.randn_like(p))
    return module


@pytest.mark.parametrize(
    "module",
    [
        DCGANGenerator(8, (3, 32, 32), 4),
        MLPGenerator(8, (1, 28, 28), (16,)),
        DCGANDiscriminator((1, 28, 28), 4, "layer"),
    ],
)
def test_round_trip_is_bitwise(tmp_path, module):
    module = _trained_like(module).eval()
    stem = save_model(module, tmp_path / "m", {"loss": "gan", "steps": 3})
    loaded = load_model(stem)
    shape = (2, module.latent_dim) if hasattr(module, "latent_dim") else (2, *module.image_shape)
    x = torch.randn(shape)
    assert torch.equal(module(x), loaded(x))
    cfg = read_config(tmp_path / "m.json")
    assert cfg["loss"] == "gan" and cfg["architecture"] == type(module).__name__
    assert cfg["image_shape"] == list(module.image_shape)
    assert not list(tmp_path.glob("*.tmp"))


def test_ema_weights_are_selectable(tmp_path):
    G, ema = DCGANGenerator(8, (1, 28, 28), 4), DCGANGenerator(8, (1, 28, 28), 4)
    _trained_like(ema)
    save_model(G, tmp_path / "g", ema=ema)
    z = torch.randn(2, 8)
    assert torch.equal(load_model(tmp_path / "g", ema=True)(z), ema.eval()(z))
    assert torch.equal(load_model(tmp_path / "g", ema=False)(z), G.eval()(z))


def test_load_generator_public_api(tmp_path):
    G = _trained_like(DCGANGenerator(8, (1, 28, 28), 4))
    save_model(G, tmp_path / "run" / "generator", {"dataset": "x"})
    for ref in (
        tmp_path / "run",
        tmp_path / "run" / "generator.safetensors",
        str(tmp_path / "run" / "generator"),
    ):
        loaded = gm.load_generator(ref, device="cpu")
        assert not loaded.training and loaded.latent_dim == 8 and loaded.image_shape == (1, 28, 28)
        assert not any(p.requires_grad for p in loaded.parameters())
    with pytest.raises(ValueError, match="discriminator|generator"):
        save_model(DCGANDiscriminator((1, 28, 28), 4), tmp_path / "d" / "generator")
        gm.load_generator(tmp_path / "d")


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere"):
        load_model(tmp_path / "nothere")
    save_model(DCGANGenerator(8, (1, 28, 28), 4), tmp_path / "g")
    (tmp_path / "g.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="g.safetensors"):
        load_model(tmp_path / "g")
    with pytest.raises(FileNotFoundError, match="no generator named"):
        gm.load_generator("no-such-generator")


def test_corrupt_files_raise_value_error(tmp_path):
    save_model(DCGANGenerator(8, (1, 28, 28), 4), tmp_path / "g")
    (tmp_path / "g.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ValueError, match="corrupt"):
        load_model(tmp_path / "g")
    save_model(DCGANGenerator(8, (1, 28, 28), 4), tmp_path / "h")
    (tmp_path / "h.json").write_text("{not json")
    with pytest.raises(ValueError, match="JSON"):
        load_model(tmp_path / "h")


def test_weights_for_another_architecture_name_the_mismatch(tmp_path):
    save_model(DCGANGenerator(8, (1, 28, 28), 4), tmp_path / "g")
    cfg = json.loads((tmp_path / "g.json").read_text())
    cfg["kwargs"]["ngf"] = 8
    (tmp_path / "g.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="shape mismatch"):
        load_model(tmp_path / "g")
    cfg["architecture"] = "MLPGenerator"
    cfg["kwargs"] = {"latent_dim": 8, "image_shape": [1, 28, 28], "hidden": [16]}
    (tmp_path / "g.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="missing"):
        load_model(tmp_path / "g")
    cfg["architecture"] = "Unknown"
    (tmp_path / "g.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="architecture"):
        load_model(tmp_path / "g")


def test_cost_fields():
    cost = gm.generator_cost(DCGANGenerator(8, (1, 28, 28), 4), batch=16, repeats=1)
    # hand count (ngf=4 -> 8 channels at 7x7): ConvT(8,8,7x7) on 1x1, ConvT(8,4,4x4) on 7x7,
    # ConvT(4,1,4x4) on 14x14; MACs = C_in * C_out * k * k * H_in * W_in
    macs = 8 * 8 * 49 + 8 * 4 * 16 * 49 + 4 * 1 * 16 * 196
    assert cost["mflops_per_image"] == pytest.approx(2 * macs / 1e6, abs=1e-3)
    assert cost["ms_per_latent_step"] > 0


# ----------------------------------------------------------------------------- crash safety
class _Killed(BaseException):
    """Stands for kill -9: raised instead of a file operation, after which nothing else runs."""


@contextlib.contextmanager
def _killed_at(k):
    """Let the first k renames/unlinks of visible files happen, then 'kill' the process: operation
    k raises and every later file operation (also the writer's cleanup of its temp files) is
    skipped, as after kill -9. Operations on temp files before the kill run normally."""
    real = {"replace": os.replace, "unlink": os.unlink}
    count, dead = [0], [False]

    def make(name):
        def op(*args, **kwargs):
            if dead[0]:
                return None
            if os.fspath(args[-1 if name == "replace" else 0]).endswith(".tmp"):
                return real[name](*args, **kwargs)
            if count[0] == k:
                dead[0] = True
                raise _Killed(name)
            count[0] += 1
            return real[name](*args, **kwargs)

        return op

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(os, "replace", make("replace"))
        mp.setattr(os, "unlink", make("unlink"))
        try:
            yield
        except _Killed:
            pass


def _versioned(version):
    G = DCGANGenerator(8, (1, 28, 28), 4)
    with torch.no_grad():
        for p in G.parameters():
            p.fill_(float(version))
    return G


def _loaded_version(stem):
    """(version of the weights, version in the JSON, warned?) of what load_model returns."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        G = load_model(stem)
        cfg = read_config(stem)
    warned = any(issubclass(w.category, InterruptedWriteWarning) for w in caught)
    return int(next(G.parameters()).flatten()[0]), G.checkpoint_config["version"], cfg, warned


# a save over a complete pair: 0 keep weights as .prev, 1 keep JSON as .prev, 2 weights,
# 3 JSON, 4 drop .prev JSON, 5 drop .prev weights; 6 = no kill
@pytest.mark.parametrize("k", range(7))
def test_a_kill_at_any_point_of_a_save_leaves_the_old_or_the_new_model(tmp_path, k):
    save_model(_versioned(1), tmp_path / "g", {"version": 1})
    with _killed_at(k):
        save_model(_versioned(2), tmp_path / "g", {"version": 2})
    weights, config, cfg, warned = _loaded_version(tmp_path / "g")
    expected = 2 if k >= 4 else 1  # the new pair counts once its JSON is in place
    assert weights == config == cfg["version"] == expected
    assert warned == (k in (3,))  # only the weights replaced: the main pair is torn
    # the next save completes and cleans up after the killed one
    save_model(_versioned(3), tmp_path / "g", {"version": 3})
    assert _loaded_version(tmp_path / "g")[:2] == (3, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.json", "g.safetensors"]


# the save after a torn one must keep the last complete pair: 0 weights, 1 JSON, 2-3 drop .prev
@pytest.mark.parametrize("k", range(5))
def test_a_second_kill_still_keeps_the_last_complete_model(tmp_path, k):
    save_model(_versioned(1), tmp_path / "g", {"version": 1})
    with _killed_at(3):  # weights of version 2 in place, its JSON not
        save_model(_versioned(2), tmp_path / "g", {"version": 2})
    with _killed_at(k):
        save_model(_versioned(3), tmp_path / "g", {"version": 3})
    weights, config, _, warned = _loaded_version(tmp_path / "g")
    assert weights == config == (3 if k >= 2 else 1)
    assert warned == (k < 2)


def test_a_real_kill_between_the_two_files_keeps_the_previous_model(tmp_path):
    # a child process dies (os._exit: no cleanup, no finally) right after the weights of its
    # second save were renamed into place, before the JSON
    script = f"""
import os, torch
import ganinverse.models.checkpoint as ck
from ganinverse.models import DCGANGenerator, save_model
G = DCGANGenerator(8, (1, 28, 28), 4)
save_model(G, {str(tmp_path / "g")!r}, {{"version": 1}})
ck._write_json = lambda path, obj: os._exit(9)
with torch.no_grad():
    for p in G.parameters():
        p.add_(1.0)
save_model(G, {str(tmp_path / "g")!r}, {{"version": 2}})
"""
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, timeout=300)
    assert proc.returncode == 9
    with pytest.warns(InterruptedWriteWarning, match="previous complete pair"):
        G = load_model(tmp_path / "g")
    assert G.checkpoint_config["version"] == 1
    # the torn weights (version 2) differ from what was loaded by exactly the +1 of the child
    torn = read_tensors(tmp_path / "g.safetensors")
    name = next(k for k, v in G.state_dict().items() if v.is_floating_point() and v.numel() > 1)
    assert torch.allclose(torn[name], G.state_dict()[name] + 1.0)


def test_a_torn_pair_without_a_previous_one_is_a_clear_error(tmp_path):
    with _killed_at(1):  # first save ever: weights in place, no JSON
        save_model(_versioned(1), tmp_path / "g", {"version": 1})
    with pytest.raises(FileNotFoundError, match="g.json"):
        load_model(tmp_path / "g")
    save_model(_versioned(1), tmp_path / "h", {"version": 1})
    cfg = json.loads((tmp_path / "h.json").read_text())
    save_file({"x": torch.zeros(1)}, str(tmp_path / "h.safetensors"), metadata={"pair_token": "x"})
    with pytest.raises(ValueError, match="not one pair.*interrupted"):
        load_model(tmp_path / "h")
    assert cfg["pair_token"] != "x"


def test_pairs_without_a_token_load_as_before(tmp_path):
    # as written before tokens existed (and as bundled): plain safetensors + JSON
    G = _versioned(4)
    save_model(G, tmp_path / "new", {"version": 4})
    cfg = json.loads((tmp_path / "new.json").read_text())
    del cfg["pair_token"]
    (tmp_path / "old.json").write_text(json.dumps(cfg))
    save_file(dict(G.state_dict()), str(tmp_path / "old.safetensors"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _loaded_version(tmp_path / "old")[:2] == (4, 4)
        for name in gm.list_generators():  # every bundled generator still loads unchanged
            assert read_config(WEIGHTS_DIR / name / "generator")["kind"] == "generator"
    # an interrupted save over an old pair falls back to it
    with _killed_at(3):
        save_model(_versioned(5), tmp_path / "old", {"version": 5})
    assert _loaded_version(tmp_path / "old")[:2] == (4, 4)


def test_update_and_copy_keep_the_pair_whole(tmp_path):
    save_model(_versioned(1), tmp_path / "g", {"version": 1})
    update_config(tmp_path / "g", {"quality": {"fd": 1.5}})
    assert read_config(tmp_path / "g")["quality"] == {"fd": 1.5}
    assert _loaded_version(tmp_path / "g")[:2] == (1, 1)
    with pytest.raises(ValueError, match="pair_token"):
        update_config(tmp_path / "g", {"pair_token": "mine"})
    with _killed_at(3):
        save_model(_versioned(2), tmp_path / "g", {"version": 2})
    with pytest.warns(InterruptedWriteWarning):  # copies the complete pair: version 1
        copy_pair(tmp_path / "g", tmp_path / "bundle" / "generator")
    weights, config, cfg, warned = _loaded_version(tmp_path / "bundle" / "generator")
    assert weights == config == 1 and cfg["quality"] == {"fd": 1.5} and not warned


def test_a_fingerprint_follows_the_weights_not_the_path_or_the_save(tmp_path):
    """Helper-43: a sweep grown after its generator was retrained at the same path mixed rows
    of two generators; records that resume keep the weights' fingerprint."""
    torch.manual_seed(0)
    G = DCGANGenerator(8, (1, 28, 28), 4)
    save_model(G, tmp_path / "run" / "generator", {"dataset": "test"})
    first = gm.model_fingerprint(tmp_path / "run")
    assert len(first) == 16 and int(first, 16) >= 0
    save_model(G, tmp_path / "run" / "generator", {"dataset": "test"})  # same weights, new token
    assert gm.model_fingerprint(tmp_path / "run" / "generator.json") == first
    save_model(_trained_like(G), tmp_path / "run" / "generator", {"dataset": "test"})
    assert gm.model_fingerprint(tmp_path / "run") != first
    assert gm.model_fingerprint("mnist-wgangp") != gm.model_fingerprint(
        "mnist-wgangp", "discriminator"
    )
    with pytest.raises(FileNotFoundError, match="no generator named"):
        gm.model_fingerprint(tmp_path / "nowhere")


def test_a_fingerprint_covers_the_json_fields_that_decide_the_module(tmp_path):
    """Helper-46: editing "has_ema" in the JSON changed which weights load, not the
    fingerprint (a grown sweep mixed the EMA and the raw weights)."""
    G = DCGANGenerator(8, (1, 28, 28), 4)
    save_model(G, tmp_path / "g" / "generator", {"dataset": "test"})
    first = gm.model_fingerprint(tmp_path / "g")
    path = tmp_path / "g" / "generator.json"
    meta = json.loads(path.read_text())
    path.write_text(json.dumps({**meta, "has_ema": not meta.get("has_ema", False)}))
    assert gm.model_fingerprint(tmp_path / "g") != first


@pytest.mark.parametrize("kind", ["generator", "classifier"])
def test_a_checkpoint_declaring_another_value_range_is_refused(tmp_path, kind):
    """Helper-46: value_range was stored but never read: a classifier of [-1, 1] inputs was
    fed [0, 1] images, a generator of [0, 1] outputs taken as [-1, 1]."""
    if kind == "generator":
        module, wrong, load = DCGANGenerator(8, (1, 28, 28), 4), [0.0, 1.0], gm.load_generator
    else:
        module, wrong = gm.ClassifierA(image_shape=(1, 28, 28), num_classes=10), [-1.0, 1.0]
        load = gm.load_classifier
    save_model(module, tmp_path / "m" / kind, {"value_range": wrong})
    with pytest.raises(
        ValueError, match=rf"declares value_range \[.*\], but the library's {kind}s"
    ):
        load(tmp_path / "m", device="cpu")


@pytest.mark.parametrize(
    "edit, message",
    [
        ({"image_shape": [3, 28, 28]}, r"says image_shape = \[3, 28, 28\], but .* build"),
        ({"latent_dim": 32}, r"says latent_dim = 32, but its kwargs and weights build"),
        ({"kwargs": None}, r"has no kwargs \(the DCGANGenerator constructor's arguments"),
        ({"kind": "discriminator"}, r"says kind 'discriminator', but its architecture"),
    ],
)
def test_a_card_that_contradicts_itself_is_refused(tmp_path, edit, message):
    """helper-58: a hand-edited card loaded in silence (top-level image_shape / latent_dim
    ignored, kind ignored), and one without kwargs blamed the weights for not fitting the
    defaults."""
    save_model(DCGANGenerator(8, (1, 28, 28), 4), tmp_path / "g" / "generator")
    path = tmp_path / "g" / "generator.json"
    card = json.loads(path.read_text())
    for key, value in edit.items():
        if value is None:
            del card[key]
        else:
            card[key] = value
    path.write_text(json.dumps(card))
    with pytest.raises(ValueError, match=message):
        gm.load_generator(tmp_path / "g", device="cpu")
