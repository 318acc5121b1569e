"""The command line's refusals of gaussian's and iagan's averaged-Gaussian flags: the memory
with the measurement count before any file, each named by its flag with the CLI's fix."""

from __future__ import annotations

import pytest
import torch

from ganinverse.cli import main
from ganinverse.cli._common import validate_methods
from ganinverse.models import cost
from ganinverse.solvers.gaussian import memory_needed, save_samples

DIGITS = 28 * 28


def _refused(methods, given, **checks) -> str:
    with pytest.raises(ValueError) as caught:
        validate_methods(methods, given, how="--method", **checks)
    return str(caught.value)


@pytest.mark.parametrize(
    "command, argv, d",
    [
        ("reconstruct", ["--m", "200"], 200),
        ("reconstruct", ["--operator", "superres", "--factor", "1"], DIGITS),
        ("inpaint", ["--mask", "center", "--n", "1"], DIGITS),
    ],
)
def test_gaussians_memory_with_the_measurements_is_refused_by_its_flag_before_any_file(
    command, argv, d, tmp_path, monkeypatch, capsys
):
    """helper-80: the command checked the memory with d = 0 and the solver refused it, naming
    the API's n_samples."""
    monkeypatch.setattr(cost, "available_memory", lambda device: memory_needed(100, DIGITS, 8))
    out = tmp_path / "out"
    args = [command, "--dataset", "digits", "--method", "gaussian", *argv, "--no-progress"]
    assert main([*args, "--gaussian-n-samples", "100", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert (
        f"--gaussian-n-samples: the Gaussian's 100 samples of 784 values measured by {d:,}" in err
    )
    assert "pass --gaussian-n-samples " in err and "n_samples:" not in err, err
    assert not out.exists()
    if command == "reconstruct" and d == 200:
        assert "(at --m 200)" in err


def test_iagans_averaged_gaussian_is_refused_by_its_own_flags(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cost, "available_memory", lambda device: memory_needed(100, DIGITS, 8))
    out = tmp_path / "out"
    argv = ["reconstruct", "--dataset", "digits", "--method", "iagan", "--m", "300"]
    argv += ["--iagan-gaussian-weight", "0.3", "--iagan-gaussian-n-samples", "100"]
    argv += ["--iagan-gaussian-mirror", "true", "--no-progress", "--out", str(out)]
    assert main(argv) == 2 and not out.exists()
    err = capsys.readouterr().err
    assert "--iagan-gaussian-n-samples: the Gaussian's 100 samples and their 100 mirror" in err
    assert "pass --iagan-gaussian-n-samples " in err
    assert "or drop --iagan-gaussian-mirror (the mirror doubles the samples" in err
    assert "gaussian_n_samples" not in err, err


def test_a_samples_file_flag_is_named_once_with_the_clis_fix(tmp_path):
    """helper-80: "--gaussian-images: samples: no file 'adir'" and the API's "or None for
    samples of G"."""
    text = _refused(("gaussian",), {"gaussian": {"samples": "adir"}})
    assert text.startswith("--gaussian-images: no file 'adir'; pass a safetensors file")
    assert text.endswith("or drop --gaussian-images for samples of G"), text
    assert "samples:" not in text and "None" not in text
    text = _refused(("gaussian",), {"gaussian": {"samples": " "}})
    assert text.startswith("--gaussian-images: is empty") and "None" not in text
    iagan = {"gaussian_weight": 0.3, "gaussian_images": "adir"}
    text = _refused(("iagan",), {"iagan": iagan})
    assert text.startswith("--iagan-gaussian-images: no file 'adir'")
    assert text.endswith("or drop --iagan-gaussian-images for samples of G"), text


def test_a_samples_file_of_too_many_images_is_refused_with_a_file_of_fewer(tmp_path, monkeypatch):
    path = str(save_samples(torch.rand(50, 1, 28, 28) - 0.5, tmp_path / "s"))
    have = 480_000  # (the file alone fits: the 100 measurements do not)
    assert memory_needed(50, DIGITS, 0) <= have < memory_needed(50, DIGITS, 100)
    fits = max(n for n in range(2, 50) if memory_needed(n, DIGITS, 100) <= have)
    monkeypatch.setattr(cost, "available_memory", lambda device: have)
    given = {"gaussian": {"samples": path}}
    text = _refused(("gaussian",), given, shape=(1, 28, 28), measurements={"--m 100": 100})
    assert text.startswith("--gaussian-images: the Gaussian's 50 samples of 784 values")
    assert f"pass a file of {fits} images or fewer" in text and text.endswith("(at --m 100)")
    assert "default" not in text


@pytest.mark.parametrize(
    "iagan, fix",
    [
        ({"gaussian_weight": 0.3, "gaussian_images": "f"}, "drop --iagan-gaussian-images, or"),
        ({}, "set --iagan-gaussian-weight > 0, or"),
    ],
)
def test_iagans_idle_n_samples_names_only_the_unmet_fix(tmp_path, iagan, fix):
    """helper-80: the fix read "set --iagan-gaussian-weight > 0 and drop
    --iagan-gaussian-images" where only one of them was unmet."""
    if "gaussian_images" in iagan:
        path = tmp_path / "s.safetensors"
        iagan["gaussian_images"] = str(save_samples(torch.rand(5, 1, 8, 8) - 0.5, path))
    text = _refused(("iagan",), {"iagan": {**iagan, "gaussian_n_samples": 50}})
    assert text.startswith("--iagan-gaussian-n-samples has no effect unless")
    assert f"(iagan): {fix} drop --iagan-gaussian-n-samples" in text, text


def test_iagans_idle_n_samples_warns_the_api_with_the_unmet_fix_only():
    from ganinverse.exceptions import IdleOptionWarning
    from ganinverse.sweep import SweepSpec

    with pytest.warns(IdleOptionWarning, match=r"drop it or set gaussian_weight > 0$"):
        SweepSpec(
            dataset="digits",
            generator="digits",
            methods=("iagan",),
            x_values=(10,),
            options={"iagan": {"gaussian_n_samples": 50}},
        )


@pytest.mark.parametrize("weight", [1.0, 1.5])
def test_an_iagan_gaussian_weight_of_1_or_more_is_refused_as_not_below_1(weight):
    """helper-80: 1.5 was refused as "must be <= 1", though 1 is refused too."""
    from ganinverse.methods import get_method

    text = _refused(("iagan",), {"iagan": {"gaussian_weight": weight}})
    assert text.startswith(f"--iagan-gaussian-weight: gaussian_weight must be < 1, got {weight:g}")
    with pytest.raises(ValueError, match=f"^gaussian_weight must be < 1, got {weight:g}"):
        get_method("iagan").validate({"gaussian_weight": weight})


def _sparse_samples(path, n: int, shape=(1, 28, 28)):
    """A safetensors file whose header holds ``images`` (n, *shape) float32, its data a hole
    (a sparse file: nothing of it is on disk or in memory unless it is read)."""
    import json
    import struct

    size = 4 * n * int(torch.tensor(shape).prod())
    header = json.dumps(
        {"images": {"dtype": "F32", "shape": [n, *shape], "data_offsets": [0, size]}}
    ).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header)
        f.truncate(8 + len(header) + size)
    return str(path)


@pytest.mark.parametrize(
    "command, argv",
    [
        ("reconstruct", ["--method", "gaussian", "--gaussian-images", "{f}", "--m", "300"]),
        ("reconstruct", ["--method", "gaussian", "--gaussian-images", "{f}", "--m", "300",
                         "--gaussian-mirror", "true"]),
        ("inpaint", ["--method", "gaussian", "--gaussian-images", "{f}", "--mask", "center"]),
        ("sweep", ["--methods", "gaussian", "--gaussian-images", "{f}", "--m", "10,300",
                   "--n-images", "2"]),
        ("reconstruct", ["--method", "iagan", "--iagan-gaussian-weight", "0.3",
                         "--iagan-gaussian-images", "{f}", "--m", "300"]),
    ],
)  # fmt: skip
def test_a_samples_file_beyond_the_memory_is_refused_from_its_header_alone(
    command, argv, tmp_path, monkeypatch, capsys
):
    """helper-82: every command read the whole file (memory past 5 GB for a 9.8 GB file) before
    its memory refusal: the first check, with the measurements not known yet, found the
    samples alone fitting and read them. The file is now read only once the memory with the
    measurements is checked; the refusal's fix counts the measurements, mirror included."""
    path = _sparse_samples(tmp_path / "big.safetensors", 20_000)

    def never(*args, **kwargs):
        raise AssertionError("the samples file was read before the memory refusal")

    monkeypatch.setattr("safetensors.torch.load_file", never)
    monkeypatch.setattr(cost, "available_memory", lambda device: 100 * 2**20)
    out = tmp_path / "out"
    args = [command, "--dataset", "digits", *[a.format(f=path) for a in argv]]
    assert main([*args, "--no-progress", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert (
        "the Gaussian's 20,000 samples" in err
        and "measured by 300 measurements" in err
        or (command == "inpaint" and "measured by 784 measurements" in err)
    ), err
    assert "images or fewer" in err and not out.exists(), err
    fits = int(err.split("pass a file of ")[1].split(" images")[0].replace(",", ""))
    d = 784 if command == "inpaint" else 300
    mirror = "--gaussian-mirror" in argv
    assert memory_needed(fits, DIGITS, d, mirror=mirror) <= 100 * 2**20
    assert memory_needed(fits + 1, DIGITS, d, mirror=mirror) > 100 * 2**20


def test_a_folder_or_a_truncated_file_as_samples_is_named_so(tmp_path, capsys):
    from ganinverse.solvers.gaussian import check_gaussian_options

    with pytest.raises(ValueError, match=r"--gaussian-images: '.*' is a folder; .* drop"):
        check_gaussian_options(100, str(tmp_path), name="--gaussian-images")
    path = tmp_path / "cut.safetensors"
    save_samples(torch.rand(4, 1, 8, 8) - 0.5, path)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match=r"samples: '.*' is truncated"):
        check_gaussian_options(100, str(path))


def test_a_file_that_fits_only_without_the_mirror_is_refused_without_being_read(
    tmp_path, monkeypatch, capsys
):
    """helper-84: the blame of the mirror's refusal re-checked the options without it, which
    fit, and so read the whole file (14 GB of memory for a 4.7 GB file) to refuse it."""
    path = _sparse_samples(tmp_path / "big.safetensors", 20_000)
    have = (memory_needed(20_000, DIGITS, 10) + memory_needed(20_000, DIGITS, 10, mirror=True)) // 2
    monkeypatch.setattr(cost, "available_memory", lambda device: have)
    monkeypatch.setattr("safetensors.torch.load_file", lambda *a, **k: pytest.fail("read"))
    for command, extra in (
        ("reconstruct", ["--method"]),
        ("sweep", ["--n-images", "2", "--methods"]),
    ):
        out = tmp_path / command
        argv = [command, "--dataset", "digits", *extra, "gaussian", "--gaussian-images", path]
        argv += ["--gaussian-mirror", "true", "--m", "10", "--no-progress", "--out", str(out)]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert (
            "or drop --gaussian-mirror (the mirror doubles the samples: without it they fit)" in err
        )
        assert not out.exists()


@pytest.mark.parametrize(
    "header, match",
    [
        ({"dtype": "F32", "shape": [4_000_000, 1, 28, 28], "data_offsets": [0, 6272]},
         r"not a valid safetensors file: its header gives 'images' the shape"),
        ({"dtype": "I64", "shape": [2, 1, 28, 28], "data_offsets": [0, 12544]},
         r"dtype I64; they must be float images"),
    ],
)  # fmt: skip
def test_a_header_that_lies_or_holds_no_floats_is_refused_as_such(tmp_path, header, match):
    """helper-84: a header claiming 4,000,000 images over 2 images' bytes was refused for
    memory ("pass a file of 2,437,873 images or fewer"); an I64 file only after its read."""
    import json
    import struct

    from ganinverse.solvers.gaussian import check_gaussian_options

    text = json.dumps({"images": header}).encode()
    path = tmp_path / "lie.safetensors"
    path.write_bytes(struct.pack("<Q", len(text)) + text + bytes(header["data_offsets"][1]))
    with pytest.raises(ValueError, match=match):
        check_gaussian_options(100, str(path), d=10)


def test_the_flagged_line_of_a_degenerate_prior_gives_its_own_fix_and_no_draw_note(
    tmp_path, capsys
):
    """helper-84: summary.md's Flagged line advised steps and lr for a degenerate prior, and
    its s/image note spoke of G's draw in a sweep of a samples file (no G)."""
    path = str(save_samples(torch.full((4, 1, 28, 28), 0.5), tmp_path / "same.safetensors"))
    out = tmp_path / "out"
    argv = ["sweep", "--dataset", "digits", "--methods", "gaussian", "--gaussian-images", path]
    assert main([*argv, "--m", "10,20", "--n-images", "2", "--no-progress", "--out", str(out)]) == 0
    summary = (out / "summary.md").read_text()
    assert "**Flagged:** 4 of 4 rows" in summary and "degenerate_prior: the Gaussian" in summary
    assert "a Gaussian of samples that differ" in summary and "steps and lr" not in summary
    assert "one-off draw of G's samples" not in summary
