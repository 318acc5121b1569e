import matplotlib.axes
import pytest

from ganinverse.plots import error_vs_m


def table(errors):
    return [
        {"method": "csgm", "m": m, "mse": e, "mse_ci95": e / 10}
        for m, e in zip((10, 100, 1000), errors, strict=True)
    ]


@pytest.mark.parametrize("errors, log_y", [((0.1, 0.05, 0.02), False), ((0.3, 0.01, 0.001), True)])
def test_error_vs_m_uses_a_log_y_axis_only_for_a_wide_span(tmp_path, monkeypatch, errors, log_y):
    scales = []
    real = matplotlib.axes.Axes.set_yscale
    monkeypatch.setattr(
        matplotlib.axes.Axes,
        "set_yscale",
        lambda ax, value, **kw: scales.append(value) or real(ax, value, **kw),
    )
    path = error_vs_m(table(errors), tmp_path / "e.png", title="t")
    assert path.is_file() and path.stat().st_size > 1000
    assert (scales == ["log"]) is log_y
