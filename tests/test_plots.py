import matplotlib.axes
import matplotlib.image
import pytest
import torch

from ganinverse.plots import PANEL_SIZE, error_vs_m, reconstruction_panels


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


def test_error_vs_m_plots_psnr_on_a_linear_axis_and_rejects_an_unknown_metric(
    tmp_path, monkeypatch
):
    rows = [
        {**r, "psnr": 20 + i, "psnr_ci95": 0.5} for i, r in enumerate(table((0.3, 0.01, 0.001)))
    ]
    labels, scales = [], []
    monkeypatch.setattr(matplotlib.axes.Axes, "set_yscale", lambda ax, v, **kw: scales.append(v))
    real = matplotlib.axes.Axes.set_ylabel
    monkeypatch.setattr(
        matplotlib.axes.Axes,
        "set_ylabel",
        lambda ax, label, **kw: labels.append(label) or real(ax, label, **kw),
    )
    assert error_vs_m(rows, tmp_path / "p.png", metric="psnr").stat().st_size > 1000
    assert labels == ["PSNR (dB)"] and scales == []  # the MSE span does not make PSNR log
    with pytest.raises(ValueError, match="metric must be one of"):
        error_vs_m(rows, tmp_path / "q.png", metric="lpips")


def test_error_vs_m_draws_no_two_methods_alike(tmp_path, monkeypatch):
    """A sweep of 17 methods drew several in one colour and marker (tab10 has 10 colours)."""
    styles = []
    real = matplotlib.axes.Axes.errorbar
    monkeypatch.setattr(
        matplotlib.axes.Axes,
        "errorbar",
        lambda ax, *a, **kw: (
            styles.append((kw["color"], kw["marker"], kw["linestyle"])) or real(ax, *a, **kw)
        ),
    )
    rows = [{**r, "method": f"method{k:02d}"} for k in range(17) for r in table((0.3, 0.1, 0.05))]
    assert error_vs_m(rows, tmp_path / "many.png").is_file()
    assert len(styles) == 17 and len(set(styles)) == 17
    assert len({color for color, _, _ in styles}) == 10  # every colour used before a repeat


@pytest.mark.parametrize("with_truth, channels", [(True, 1), (False, 3), (True, 3)])
def test_reconstruction_panels_show_truth_back_projection_and_estimate(
    tmp_path, monkeypatch, with_truth, channels
):
    x = torch.rand(2, channels, 8, 8) * 2 - 1
    titles = []
    real = matplotlib.axes.Axes.set_title
    monkeypatch.setattr(
        matplotlib.axes.Axes,
        "set_title",
        lambda ax, label, **kw: titles.append(label) or real(ax, label, **kw),
    )
    path = reconstruction_panels(
        x.clamp(-0.9, 0.9), torch.zeros_like(x), tmp_path / "c.png",
        truth=x if with_truth else None, method="csgm",
    )  # fmt: skip
    panels = 3 if with_truth else 2
    height, width = matplotlib.image.imread(path).shape[:2]  # 120 dpi, PANEL_SIZE per panel
    assert (width, height) == (round(120 * PANEL_SIZE[0] * panels), round(120 * PANEL_SIZE[1] * 2))
    assert len(titles) == 2 * panels
    assert all(("dB" in t) == (with_truth and not t.startswith("truth")) for t in titles)


def test_reconstruction_panels_refuse_tensors_of_different_shapes(tmp_path):
    with pytest.raises(ValueError, match="one shape"):
        reconstruction_panels(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 4, 4), tmp_path / "c.png")
    assert not (tmp_path / "c.png").exists()


def test_error_vs_m_keeps_a_long_legend_inside_the_figure(tmp_path, monkeypatch):
    """Session 36: the faces plot's 24 methods ran the legend off the top of a 4-inch figure."""
    import matplotlib.figure

    boxes = []
    real = matplotlib.figure.Figure.savefig

    def saved(fig, *a, **kw):
        fig.canvas.draw()
        legend = fig.axes[0].get_legend().get_window_extent()
        boxes.append((legend, fig.bbox))
        return real(fig, *a, **kw)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", saved)
    rows = [{**r, "method": f"method{k:02d}"} for k in range(24) for r in table((0.3, 0.1, 0.05))]
    error_vs_m(rows, tmp_path / "long.png")
    legend, figure = boxes[0]
    assert legend.y0 >= figure.y0 - 1 and legend.y1 <= figure.y1 + 1, (legend, figure)
