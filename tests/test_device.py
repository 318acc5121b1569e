import pytest
import torch

from ganinverse import models
from ganinverse.device import cpu_threads, resolve_device
from ganinverse.seeds import rng


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="device must be"):
        resolve_device("gpu0")
    with pytest.raises(TypeError, match="device must be"):
        resolve_device(3)


@pytest.fixture
def no_gpu(monkeypatch):
    """A machine without CUDA or MPS, whatever this one has."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


@pytest.fixture
def two_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)


# Every entry point that takes a device must refuse one this machine lacks, at once and in our
# words (torch would fail later with "Found no NVIDIA driver"), before reading any file.
DEVICE_ENTRY_POINTS = {
    "resolve_device": lambda d: resolve_device(d),
    "seeds.rng": lambda d: rng(0, device=d),
    "load_generator": lambda d: models.load_generator("no-such-generator", device=d),
    "load_discriminator": lambda d: models.load_discriminator("no-such-model", device=d),
    "load_classifier": lambda d: models.load_classifier("no-such-model", device=d),
}


@pytest.mark.parametrize("entry", DEVICE_ENTRY_POINTS)
@pytest.mark.parametrize("device", ["cuda", "cuda:0", "cuda:7", torch.device("cuda")])
def test_cuda_without_gpu_fails_at_once_with_the_fix(no_gpu, entry, device):
    with pytest.raises(ValueError) as err:
        DEVICE_ENTRY_POINTS[entry](device)
    msg = str(err.value)
    assert str(device) in msg and "torch.cuda.is_available() is False" in msg
    assert "--device auto" in msg and "--device cpu" in msg


@pytest.mark.parametrize("entry", DEVICE_ENTRY_POINTS)
def test_mps_without_mps_fails(no_gpu, entry):
    with pytest.raises(ValueError, match=r"'mps'.*mps.is_available\(\) is False.*--device cpu"):
        DEVICE_ENTRY_POINTS[entry]("mps")


@pytest.mark.parametrize("entry", DEVICE_ENTRY_POINTS)
@pytest.mark.parametrize("device", ["gpu", "gpu0", "cuda:x", "cuda:-1", "meta", "CUDA", " cpu", ""])
def test_garbage_device_strings_list_the_forms(entry, device):
    with pytest.raises(
        ValueError, match=r"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"
    ):
        DEVICE_ENTRY_POINTS[entry](device)


@pytest.mark.parametrize("entry", DEVICE_ENTRY_POINTS)
@pytest.mark.parametrize("device", [0, 1.5, None, ["cpu"]])
def test_device_of_the_wrong_type(entry, device):
    with pytest.raises(TypeError, match="device must be a str or torch.device"):
        DEVICE_ENTRY_POINTS[entry](device)


def test_cuda_index_beyond_the_gpus_names_the_count(two_gpus):
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert resolve_device("cuda") == torch.device("cuda")
    assert resolve_device("auto") == torch.device("cuda")
    with pytest.raises(ValueError, match=r"'cuda:7'.*2 CUDA device\(s\) \(cuda:0 \.\. cuda:1\)"):
        resolve_device("cuda:7")
    with pytest.raises(ValueError, match="2 CUDA device"):
        resolve_device(torch.device("cuda", 2))


def test_auto_falls_back_to_cpu_without_gpu(no_gpu):
    assert resolve_device("auto") == torch.device("cpu")
    assert models.load_generator("digits", device="auto").main[0].weight.device.type == "cpu"


def test_cpu_threads_restores_the_setting():
    before = torch.get_num_threads()
    with cpu_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with cpu_threads(None):
        assert torch.get_num_threads() == before


@pytest.mark.parametrize("entry", DEVICE_ENTRY_POINTS)
@pytest.mark.parametrize("device", ["cpu:1", torch.device("cpu", 3)])
def test_a_cpu_index_other_than_0_is_refused_at_once(entry, device):
    """(user trial: --device cpu:1 passed and a generator's weights were blamed later)"""
    with pytest.raises(ValueError, match="torch has one CPU device; pass 'cpu'"):
        DEVICE_ENTRY_POINTS[entry](device)


def test_a_device_name_in_another_case_names_the_one_meant_and_no_guess_otherwise():
    """helper-69: --device CPU listed the forms but not the one meant; 'gpu' gets no guess
    ('cpu' is a different device)."""
    from ganinverse.device import resolve_device

    with pytest.raises(ValueError, match=r"got 'CPU'; did you mean 'cpu'\?"):
        resolve_device("CPU")
    with pytest.raises(ValueError, match=r"got 'gpu'$"):
        resolve_device("gpu")
