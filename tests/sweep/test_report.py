"""summary.md's parts (``sweep.report``): the chosen weights, the settings set."""

import json

from ganinverse.sweep.report import format_options, format_weights
from ganinverse.sweep.search import entry


def test_a_weight_chosen_at_an_edge_of_its_grid_is_marked_with_the_flag_to_widen(tmp_path):
    """User trial: lasso-dct's λ chosen at the largest candidate of its grid was warned on the
    searching run only, not marked in summary.md: the cell is marked and a note under the
    table says which edge and which grid flag to widen (a file from before the field too)."""
    falling = [(0.3, 0.05), (1.0, 0.04), (3.0, 0.03)]
    table = {
        "lasso-dct@20": entry("lam", 3.0, falling, 4, 1.0),
        "lasso-dct@60": entry("lam", 1.0, [(0.3, 0.05), (1.0, 0.02), (3.0, 0.03)], 4, 1.0),
    }
    (tmp_path / "weights.json").write_text(json.dumps(table))
    text = format_weights(tmp_path)
    assert "| lasso-dct | lam | 3 † | 1 |" in text, text
    assert "† chosen at an edge of its grid" in text
    assert "lasso-dct at m=20: 3 is the largest candidate (widen --lasso-lambdas above 3)" in text
    del table["lasso-dct@20"]["grid_edge"]  # (weights.json written before the field)
    (tmp_path / "weights.json").write_text(json.dumps(table))
    assert format_weights(tmp_path) == text
    del table["lasso-dct@20"]
    (tmp_path / "weights.json").write_text(json.dumps(table))
    assert "†" not in format_weights(tmp_path)


def test_the_sweep_wide_settings_set_away_from_their_defaults_are_listed(tmp_path):
    """User trial: summary.md's list of the settings set away from their defaults left out
    --seed 3 (and the noise, the validation images and the test images' split and start)."""
    saved = {"dataset": "digits", "noise_std": 0.1, "n_val": 10, "val_start": 0, "seed": 0}
    (tmp_path / "sweep.json").write_text(json.dumps({**saved, "split": "test", "start": 0}))
    assert format_options(tmp_path) == ""  # (all at their defaults)
    (tmp_path / "sweep.json").write_text(json.dumps({"dataset": "digits"}))  # (predating)
    assert format_options(tmp_path) == ""
    changed = {"seed": 3, "noise_std": 0.05, "n_val": 4, "val_start": 100, "start": 8}
    (tmp_path / "sweep.json").write_text(json.dumps({**saved, **changed}))
    assert (
        "- the sweep: --start 8, --noise-std 0.05, --n-val 4, --val-start 100, --seed 3\n"
        in format_options(tmp_path)
    )
    folder = {"dataset": "folder", "split": "all"}  # (a folder's only split: its default)
    (tmp_path / "sweep.json").write_text(json.dumps(folder))
    assert format_options(tmp_path) == ""
