"""Figures of Lab 6 (plotly): where the cost is, a block's channel ranges, branch energy, knock-outs, the overview.

Split out of :mod:`lab.inception`, which re-exports every name here.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from lab.inception import BLOCKS, BRANCH_LABELS, BRANCHES, ArchTable
from lab.inception_block import BlockAnatomy

# --- figures -------------------------------------------------------------------------------------------

BRANCH_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd")


def cost_chart(table: ArchTable):
    """Parameters and multiply-adds per layer (two bar rows; aux heads in grey and excluded from totals)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from lab.figures import layout

    rows = [r for r in table.rows if r.params or r.macs]
    names = [r.name.removeprefix("inception") if r.name in BLOCKS else r.name for r in rows]
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.12,
        subplot_titles=("multiply-adds per image", "parameters"),
    )
    colors = ["#bbbbbb" if r.aux else ("#d62728" if r.name in BLOCKS else "#1f77b4") for r in rows]
    fig.add_trace(
        go.Bar(
            x=names,
            y=[r.macs for r in rows],
            marker_color=colors,
            name="MACs",
            hovertemplate="%{x}: %{y:,} MACs<extra></extra>",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Bar(
            x=names,
            y=[r.params for r in rows],
            marker_color=colors,
            name="params",
            hovertemplate="%{x}: %{y:,} params<extra></extra>",
        ),
        row=2,
        col=1,
    )
    fig.update_yaxes(title_text="MACs", row=1, col=1)
    fig.update_yaxes(title_text="parameters", row=2, col=1)
    fig.update_layout(showlegend=False)
    h, w = table.input_size
    fig = layout(
        fig,
        f"Where the cost is at {h}×{w}",
        x_title="layer",
        height=540,
    )
    fig.update_layout(
        title_subtitle_text="red: inception blocks · blue: stem and classifier · grey: aux heads (not in the totals)",
        margin_t=80,
    )
    fig.update_xaxes(title_text=None, row=1, col=1)  # shared x: one axis title, under the bottom row
    return fig


def block_figure(anatomy: BlockAnatomy):
    """The concatenated output as a bar split into the four branches' channel ranges, plus costs per branch."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from lab.figures import layout

    fig = make_subplots(
        rows=1,
        cols=3,
        column_widths=[0.4, 0.3, 0.3],
        horizontal_spacing=0.08,
        subplot_titles=("channels of the concat", "params", "MACs"),
    )
    for b, color in zip(anatomy.branches, BRANCH_COLORS, strict=True):
        lo, hi = b.channel_range
        fig.add_trace(
            go.Bar(
                y=["output"],
                x=[b.channels],
                base=[lo],
                orientation="h",
                marker_color=color,
                name=f"{b.name}: {b.label}",
                legendgroup=b.name,
                text=[f"{lo}–{hi - 1}"],
                textposition="inside",
                hovertemplate=f"{b.name} ({b.label})<br>channels {lo}…{hi - 1} ({b.channels})<extra></extra>",
            ),
            row=1,
            col=1,
        )
        for col, value, unit in ((2, b.params, "params"), (3, b.macs, "MACs")):
            fig.add_trace(
                go.Bar(
                    x=[b.name],
                    y=[value],
                    marker_color=color,
                    legendgroup=b.name,
                    showlegend=False,
                    hovertemplate=f"%{{x}}: %{{y:,}} {unit}<extra></extra>",
                ),
                row=1,
                col=col,
            )
    fig.update_xaxes(title_text="channel index", row=1, col=1)
    fig.update_yaxes(title_text="parameters", row=1, col=2)
    fig.update_yaxes(title_text="MACs", row=1, col=3)
    fig.update_layout(barmode="overlay")
    return layout(
        fig,
        f"{anatomy.name}: {anatomy.in_channels} → {anatomy.out_channels} channels at {anatomy.hw[0]}×{anatomy.hw[1]}",
        height=360,
    )


def energy_chart(energy: Mapping[str, np.ndarray], widths: Mapping[str, np.ndarray]):
    """Each branch's share of its block's activation energy (bars) vs its share of the channels (markers)."""
    import plotly.graph_objects as go

    from lab.figures import layout

    names = [b.removeprefix("inception") for b in energy]
    fig = go.Figure()
    for k, (b, color) in enumerate(zip(BRANCHES, BRANCH_COLORS, strict=True)):
        fig.add_trace(
            go.Bar(
                x=names,
                y=[float(e[k]) for e in energy.values()],
                name=f"{b} ({BRANCH_LABELS[b]})",
                marker_color=color,
                hovertemplate=f"{b}: %{{y:.1%}} of the energy<extra></extra>",
            )
        )
    base = np.cumsum([[0.0, *list(w[:-1])] for w in widths.values()], axis=1)
    for k, b in enumerate(BRANCHES):
        fig.add_trace(
            go.Scatter(
                x=names,
                y=[float(base[i, k] + w[k]) for i, w in enumerate(widths.values())],
                mode="markers",
                marker={"symbol": "line-ew-open", "size": 18, "color": "black"},
                name="channel share (cumulative)" if k == 0 else None,
                showlegend=k == 0,
                hovertemplate=f"{b}: channels up to %{{y:.1%}}<extra></extra>",
            )
        )
    fig.update_layout(barmode="stack")
    fig.update_yaxes(tickformat=".0%")
    return layout(
        fig,
        "Which branch carries the signal? Share of activation energy (Σ a²) per block",
        "block",
        "share of the block's energy",
        height=380,
    )


BRANCH_TICKS = ("1×1", "1×1→3×3", '1×1→"5×5" (3×3)', "pool→1×1")


def knockout_figure(grid: Mapping[str, np.ndarray], class_name: str, base_prob: float):
    """P(original top class) with one branch zeroed: blocks 3a…5b (rows) × the four branches (columns).

    Categorical axes (no numeric 0…8 / 0…3 ticks), the colour bar in percent,
    and each cell's value written on it.
    """
    import plotly.graph_objects as go

    from lab.figures import layout

    blocks = [b for b in BLOCKS if b in grid]
    z = np.stack([np.asarray(grid[b], dtype=np.float64) for b in blocks])  # (9, 4)
    rows = [b.removeprefix("inception") for b in blocks]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=list(BRANCH_TICKS),
            y=rows,
            colorscale="Viridis",
            zmin=0.0,
            zmax=max(float(z.max()), base_prob, 1e-9),
            colorbar={"title": {"text": "P(class)"}, "tickformat": ".0%"},
            text=[[f"{v:.1%}" for v in row] for row in z],
            texttemplate="%{text}",
            hovertemplate="block %{y}, branch %{x} zeroed<br>P = %{z:.2%}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category", side="bottom")
    return layout(
        fig,
        f"P({class_name}) with one branch zeroed (intact network: {base_prob:.1%})",
        "branch zeroed",
        "block",
        height=440,
    )
