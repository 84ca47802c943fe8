"""Lab 3: convolution and pooling on your own photos.

Thin page: widgets → ``lab.conv`` / ``lab.pooling`` / ``lab.architecture`` → ``lab.conv_figures`` → render.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import streamlit as st
import torch

import ui
from lab import architecture as arch
from lab import conv, conv_figures, pooling
from lab.figures import colorize, is_signed
from lab.params import Param

PAGE = "convolution"
DISPLAY_SIDE = 480  # feature maps are sent to the browser at most this many pixels a side

IMAGE_SPECS = (
    Param(
        "res",
        "Compute resolution (long side, px)",
        512,
        kind="choice",
        options=(128, 256, 512, 1024),
        help="The photo is downscaled to this before convolving; larger is sharper and slower.",
    ),
)
KERNEL_SPECS = (
    Param(
        "kernel",
        "Kernel",
        "edge",
        kind="choice",
        options=tuple(conv.KERNELS),
        labels={k: v.label for k, v in conv.KERNELS.items()},
    ),
    Param("size", "Kernel size k (blurs, custom)", 3, kind="int", lo=3, hi=7, help="k×k, from 3×3 to 7×7."),
    Param(
        "normalise",
        "Normalise the kernel",
        False,
        kind="bool",
        help="Weights sum to 1 (keeps brightness); zero-sum kernels: positive weights sum to 1.",
    ),
    Param("mode", "Channels", "gray", kind="choice", options=conv.MODES, labels=conv.MODE_LABELS),
)
BANK_SPEC = Param(
    "bank",
    "Filters in the bank (each 3×k×k)",
    ("sobel_x", "sobel_y", "edge", "emboss"),
    kind="multi",
    options=tuple(k for k in conv.KERNELS if k != "custom"),
    labels={k: v.label.split(" [")[0] for k, v in conv.KERNELS.items()},
)
VIEW_SPECS = (
    Param("zoom_y", "Zoom centre: rows (fraction of height)", 0.5, kind="float", lo=0.0, hi=1.0, step=0.01),
    Param("zoom_x", "Zoom centre: columns (fraction of width)", 0.5, kind="float", lo=0.0, hi=1.0, step=0.01),
)
STEP_SPECS = (
    Param(
        "ex_source",
        "Stepper input",
        "lecture",
        kind="choice",
        options=("lecture", "photo"),
        labels={"lecture": "The lecture's 5×5 image and 3×3 kernel", "photo": "A 7×7 crop of your photo"},
    ),
    Param("ex_stride", "Stepper stride", 1, kind="int", lo=1, hi=3),
    Param("ex_padding", "Stepper padding (zeros)", 0, kind="int", lo=0, hi=2),
    Param("ex_dilation", "Stepper dilation", 1, kind="int", lo=1, hi=3),
    Param("ex_top", "Crop position: top", 0.5, kind="float", lo=0.0, hi=1.0, step=0.01),
    Param("ex_left", "Crop position: left", 0.5, kind="float", lo=0.0, hi=1.0, step=0.01),
)
ALL_SPECS = (
    *IMAGE_SPECS,
    *KERNEL_SPECS,
    BANK_SPEC,
    *conv.GEOMETRY_SPECS,
    *VIEW_SPECS,
    *pooling.POOL_SPECS,
    *STEP_SPECS,
)


def _display(img: np.ndarray) -> np.ndarray:
    """Nearest-neighbour downscale to DISPLAY_SIDE (keeps pixel-sharp maps small on the wire)."""
    H, W = img.shape[:2]
    step = max(1, -(-max(H, W) // DISPLAY_SIDE))
    return img[::step, ::step]


def _map_caption(name: str, m: torch.Tensor) -> str:
    lo, hi = float(m.min()), float(m.max())
    scale = "blue < 0 < red" if is_signed(m.numpy()) else "viridis, min→max"
    return f"{name} · {m.shape[-2]}×{m.shape[-1]} · [{lo:.3g}, {hi:.3g}] · {scale}"


# --- header and photo -------------------------------------------------------------------------------------------

info = ui.page_header(
    "3. Convolution & pooling",
    "A convolution slides **the same small grid of weights** over every patch of the image and writes one "
    "number per patch: *how edge-like (or blur-like, or cat-like) is this square?* Pick a kernel, change the "
    "geometry, step through the lecture's example, pool, and size up a whole network.",
)
device = info.device

top_left, top_right = st.columns([1, 1], gap="large")
with top_left:
    loaded = ui.image_input("conv")
    image_values = ui.controls(IMAGE_SPECS, f"{PAGE}.image")
X = conv.image_tensor(loaded.to_array(), long_side=int(image_values["res"]))  # (1, 3, H, W)
H, W = X.shape[-2:]
with top_right:
    kernel_values = ui.controls(KERNEL_SPECS, f"{PAGE}.kernel")
    bank_values = ui.controls((BANK_SPEC,), f"{PAGE}.bank") if kernel_values["mode"] == "bank" else {}
    geo_cols = st.columns(2)
    geo_values = ui.controls(conv.GEOMETRY_SPECS[:2], f"{PAGE}.geo1", container=geo_cols[0])
    geo_values |= ui.controls(conv.GEOMETRY_SPECS[2:], f"{PAGE}.geo2", container=geo_cols[1])
st.caption(
    f"Photo **{loaded.name}**: {loaded.original_size[0]}×{loaded.original_size[1]} as uploaded; "
    f"**computing at {W}×{H} px** (choose the compute resolution above); maps are shown at most "
    f"{DISPLAY_SIDE} px a side."
)

# --- the custom kernel grid --------------------------------------------------------------------------------------

size = int(kernel_values["size"])
if "conv.custom_text" not in st.session_state:
    st.session_state["conv.custom_text"] = st.query_params.get("custom", "")
    st.session_state["conv.custom_version"] = 0
custom_text = st.session_state["conv.custom_text"]
if kernel_values["kernel"] == "custom":
    try:
        start = conv.parse_kernel(custom_text) if custom_text else None
    except ValueError as err:
        st.warning(f"Ignored the custom kernel from the link ({err}).")
        start = None
    if start is None or start.shape[-1] != size:
        start = conv.kernel_preset("custom", size)
    editor_key = f"conv.custom_editor.{size}.{st.session_state['conv.custom_version']}"
    if f"{editor_key}.init" not in st.session_state:
        st.session_state[f"{editor_key}.init"] = pd.DataFrame(start.numpy(), columns=[str(c) for c in range(size)])
    with top_right:
        st.markdown(f"**Custom {size}×{size} kernel** — edit the weights (rows top to bottom):")
        edited = st.data_editor(st.session_state[f"{editor_key}.init"], key=editor_key, hide_index=True)
        preset_cols = st.columns([2, 1])
        seed_from = preset_cols[0].selectbox(
            "Start from a preset",
            [k for k in conv.KERNELS if k != "custom"],
            format_func=lambda k: conv.KERNELS[k].label,
            key="conv.custom_seed",
        )
        if preset_cols[1].button("Load it", key="conv.custom_load"):
            P = conv.kernel_preset(seed_from, size)
            if P.shape[-1] != size:  # a fixed 3×3 preset inside a bigger grid
                P = torch.nn.functional.pad(P, conv._centre_pad(size - P.shape[-1]))
            st.session_state["conv.custom_text"] = conv.format_kernel(P)
            st.session_state["conv.custom_version"] += 1
            st.rerun()
    values = np.nan_to_num(edited.to_numpy(dtype=np.float64), nan=0.0)
    custom_text = conv.format_kernel(torch.tensor(values, dtype=torch.float32))
    st.session_state["conv.custom_text"] = custom_text

cfg = conv.ConvConfig(
    kernel=kernel_values["kernel"],
    size=size,
    normalise=bool(kernel_values["normalise"]),
    mode=kernel_values["mode"],
    bank=tuple(bank_values.get("bank", BANK_SPEC.default)),
    geometry=conv.Geometry(**geo_values),
    custom=custom_text if kernel_values["kernel"] == "custom" else "",
)

tab_photo, tab_steps, tab_pool, tab_arch = st.tabs(
    ["Kernels on your photo", "Worked example, step by step", "Pooling & the shift test", "Architecture & quiz"]
)

# --- tab 1: feature maps ------------------------------------------------------------------------------------------

result: conv.ConvResult | None = None
with tab_photo:
    st.markdown(f"**{conv.KERNELS[cfg.kernel].label}** — {conv.KERNELS[cfg.kernel].what}")
    try:
        result = conv.apply(X, cfg, device=device)
    except conv.ConvGeometryError as err:
        st.error(str(err), icon=":material/block:")
    except ValueError as err:
        st.error(f"This kernel cannot be used: {err}", icon=":material/block:")
    k = conv.build_weight(cfg)[0].shape[-1] if result is None else result.weight.shape[-1]
    g = cfg.geometry
    st.markdown(
        "**Output size** ⌊(n + 2p − d(k − 1) − 1)/s⌋ + 1, with "
        f"k = {k}, s = {g.stride}, p = {g.padding}, d = {g.dilation} "
        f"(the kernel spans d(k−1)+1 = {conv.receptive_span(k, g.dilation)} pixels):"
    )
    st.code(f"{conv.formula_text(H, k, g, 'H')}\n{conv.formula_text(W, k, g, 'W')}", language=None)
    if result is not None:
        maps = result.maps
        st.caption(
            f"{len(result.names)} map(s) of {maps.shape[-2]}×{maps.shape[-1]} from a {H}×{W} input: "
            f"{maps.shape[-2] * maps.shape[-1]:,} output cells, each the sum of "
            f"{result.weight.shape[1] * k * k} products with the **same** {result.weight[0].numel()} weights. "
            "Signed maps use blue (negative) – white (0) – red (positive), scaled per map "
            "(the brightest 0.5 % of cells are clipped for display)."
        )
        cols = st.columns([1, 2], gap="medium")
        with cols[0]:
            st.image(_display(loaded.to_array()), caption="input", width="stretch")
            shown_k = result.weight[0, 0].numpy() if cfg.mode != "bank" else result.weight[0].sum(0).numpy()
            st.plotly_chart(
                conv_figures.kernel_figure(
                    shown_k, "Kernel weights" + (" (filter 1, R+G+B)" if cfg.mode == "bank" else "")
                ),
                key="conv.kernel_fig",
            )
        with cols[1]:
            pictures = [_display(p) for p in colorize(conv.clip_for_display(maps))]
            st.image(
                pictures,
                caption=[_map_caption(n, m) for n, m in zip(result.names, maps, strict=True)],
                width=DISPLAY_SIDE if len(pictures) == 1 else 300,
            )

        st.subheader("Zoom in: hover a cell to see its patch and sum", anchor=False)
        zc = st.columns([1, 1, 1])
        channel = zc[0].selectbox(
            "Feature map", range(len(result.names)), format_func=lambda i: result.names[i], key="conv.zoom_map"
        )
        view_values = ui.controls(VIEW_SPECS[:1], f"{PAGE}.zy", container=zc[1])
        view_values |= ui.controls(VIEW_SPECS[1:], f"{PAGE}.zx", container=zc[2])
        region = conv.zoom_region(maps.shape[-2], maps.shape[-1], view_values["zoom_y"], view_values["zoom_x"])
        values, hover = conv.patch_hover(result.X_in, result.weight, g, channel, result.groups, region)
        st.plotly_chart(
            conv_figures.zoom_figure(
                values,
                hover,
                region,
                f"{result.names[channel]}: output rows {region[0]}–{region[1] - 1}, cols {region[2]}–{region[3] - 1}",
                signed=is_signed(maps[channel].numpy()),
            ),
            key="conv.zoom_fig",
        )
    else:
        view_values = {
            p.name: st.session_state.get(f"_keep.{PAGE}.z{p.name[-1]}.{p.name}", p.default) for p in VIEW_SPECS
        }

# --- tab 2: the worked example ------------------------------------------------------------------------------------

with tab_steps:
    sc = st.columns(3)
    step_values = ui.controls(STEP_SPECS[:1], f"{PAGE}.ex1", container=sc[0])
    step_values |= ui.controls(STEP_SPECS[1:4], f"{PAGE}.ex2", container=sc[1])
    if step_values["ex_source"] == "photo":
        step_values |= ui.controls(STEP_SPECS[4:], f"{PAGE}.ex3", container=sc[2])
        X_small = conv.crop_gray(X, step_values["ex_top"], step_values["ex_left"], 7)
        K_small = conv.build_weight(dataclasses.replace(cfg, mode="gray"))[0][0, 0]
        sc[2].caption(f"Crop of the grayscale photo (values 0–1), kernel: {conv.KERNELS[cfg.kernel].label}.")
    else:
        step_values |= {p.name: p.default for p in STEP_SPECS[4:]}
        X_small, K_small = conv.LECTURE_IMAGE, conv.LECTURE_KERNEL
        sc[2].caption("The lecture's binary image and its [[1,0,1],[0,1,0],[1,0,1]] kernel.")
    step_geo = conv.Geometry(
        stride=step_values["ex_stride"], padding=step_values["ex_padding"], dilation=step_values["ex_dilation"]
    )
    try:
        steps = conv.conv_steps(X_small, K_small, step_geo)
    except conv.ConvGeometryError as err:
        st.error(str(err), icon=":material/block:")
        steps = None
    if steps is not None:
        n_steps = len(steps.steps)
        index = (
            st.slider("Output cell (reading order)", 1, n_steps, 1, key=f"conv.step.{n_steps}") - 1
            if n_steps > 1
            else 0
        )
        step = steps.steps[index]
        st.plotly_chart(conv_figures.stepper_figure(steps, index), key="conv.stepper_fig")
        st.markdown(f"**out[{step.row}, {step.col}]** = Σ patch ⊙ kernel = `{step.sum_text()}`")
        done = ", ".join(f"{s.total:.3g}" for s in steps.steps[: index + 1])
        st.caption(f"Filled so far: {done}. The same {K_small.numel()} weights are used at every position.")

# --- tab 3: pooling and the shift test -----------------------------------------------------------------------------

with tab_pool:
    pc = st.columns(4)
    pool_values: dict = {}
    for spec, col in zip(pooling.POOL_SPECS, pc, strict=True):
        pool_values |= ui.controls((spec,), f"{PAGE}.{spec.name}", container=col)
    if result is None:
        st.info("Fix the convolution settings first (see the first tab).")
    else:
        features = result.maps[None].clamp(min=0) if pool_values["relu"] else result.maps[None]
        pk, ps = int(pool_values["pool_k"]), int(pool_values["pool_s"])
        try:
            pooled = pooling.pool(features, pool_values["pool"], pk, ps, device=device)[0]
        except pooling.PoolingError as err:
            st.error(str(err), icon=":material/block:")
            pooled = None
        if pooled is not None:
            Hf, Wf = features.shape[-2:]
            Hp, Wp, factor = pooling.size_reduction(Hf, Wf, pk, ps)
            st.markdown(
                f"**{pool_values['pool']} pooling {pk}×{pk}, stride {ps}:** {Hf}×{Wf} → "
                f"(⌊({Hf} − {pk})/{ps}⌋ + 1) × (⌊({Wf} − {pk})/{ps}⌋ + 1) = **{Hp}×{Wp}** "
                f"({factor:.1f}× fewer cells, no weights to learn)."
            )
            pcols = st.columns(2)
            pcols[0].image(
                _display(colorize(conv.clip_for_display(features[0, :1]))[0]),
                caption=_map_caption(result.names[0] + (" after ReLU" if pool_values["relu"] else ""), features[0, 0]),
                width="stretch",
            )
            pcols[1].image(
                _display(np.kron(colorize(conv.clip_for_display(pooled[:1]))[0], np.ones((ps, ps, 1), dtype=np.uint8))),
                caption=_map_caption(f"{pool_values['pool']}-pooled (drawn at the same scale)", pooled[0]),
                width="stretch",
            )

        st.subheader("Shift test: does pooling make the map less sensitive to small shifts?", anchor=False)
        st.markdown(
            "The photo is moved by 1–4 pixels (right and down; new content enters at the edge). We compare the "
            "feature map of the first filter with the map of the moved photo **at the same positions**, before and "
            "after pooling. Relative change = mean |difference| / mean |map|."
        )
        shown = st.select_slider("Shift shown below (px)", options=[1, 2, 3, 4], value=1, key="conv.shift_shown")
        try:
            shift = pooling.shift_test(
                X if cfg.mode != "gray" else result.X_in,
                result.weight,
                cfg.geometry,
                kind=pool_values["pool"],
                kernel=pk,
                stride=ps,
                relu=bool(pool_values["relu"]),
                shown=shown,
                groups=result.groups,
                device=device,
            )
        except (pooling.PoolingError, conv.ConvGeometryError) as err:
            st.warning(f"The shift test cannot run with these settings: {err}")
            shift = None
        if shift is not None:
            table = pd.DataFrame(pooling.shift_table(shift))
            scol = st.columns([3, 2])
            metric = scol[1].radio(
                "Chart",
                ["change", "correlation"],
                horizontal=True,
                key="conv.shift_metric",
                label_visibility="collapsed",
            )
            scol[0].plotly_chart(conv_figures.shift_figure(shift, metric), key="conv.shift_fig")
            scol[1].dataframe(table.round(3), hide_index=True)
            row = next(r for r in shift.rows if r.shift == shift.shown)
            scol[1].markdown(
                f"Shift {shift.shown} px: the map changes by **{row.change_conv:.0%}** before pooling and "
                f"**{row.change_pool:.0%}** after. Shifts smaller than the pooling window mostly stay inside it; "
                f"a shift of exactly the stride ({ps}) moves the pooled map by one whole cell."
            )
            diff = colorize(np.stack([(shift.conv - shift.conv_shifted).numpy()]), signed=True)[0]
            pdiff = colorize(np.stack([(shift.pooled - shift.pooled_shifted).numpy()]), signed=True)[0]
            dcols = st.columns(2)
            dcols[0].image(_display(diff), caption=f"map − map of the photo moved {shift.shown} px", width="stretch")
            dcols[1].image(
                _display(np.kron(pdiff, np.ones((ps, ps, 1), dtype=np.uint8))),
                caption=f"pooled − pooled of the moved photo ({shift.shown} px)",
                width="stretch",
            )

# --- tab 4: the architecture calculator ------------------------------------------------------------------------------

with tab_arch:
    st.markdown(
        "The lecture's quiz: a **3×100×100** image, **100 filters of 3×5×5**, then conv → pool → conv → pool. "
        "Edit the stack (add or delete rows) and the input; every number below is recomputed."
    )
    if "conv.stack_text" not in st.session_state:
        st.session_state["conv.stack_text"] = st.query_params.get("stack", arch.format_stack(arch.LECTURE_STACK))
        st.session_state["conv.stack_version"] = 0
    try:
        stack = arch.parse_stack(st.session_state["conv.stack_text"])
    except arch.ArchitectureError as err:
        st.warning(f"Ignored the stack from the link: {err}")
        stack = arch.LECTURE_STACK
    ic = st.columns(4)
    C0 = ic[0].number_input("Input channels", 1, 512, 3, key="conv.arch_c")
    H0 = ic[1].number_input("Input height", 1, 1024, 100, key="conv.arch_h")
    W0 = ic[2].number_input("Input width", 1, 1024, 100, key="conv.arch_w")
    if ic[3].button("Reset to the lecture's stack", key="conv.arch_reset"):
        st.session_state["conv.stack_text"] = arch.format_stack(arch.LECTURE_STACK)
        st.session_state["conv.stack_version"] += 1
        st.rerun()
    editor_key = f"conv.stack_editor.{st.session_state['conv.stack_version']}"
    if f"{editor_key}.init" not in st.session_state:
        st.session_state[f"{editor_key}.init"] = pd.DataFrame(
            [
                {
                    "layer": L.kind,
                    "filters": L.filters or None,
                    "kernel": L.kernel,
                    "stride": L.stride,
                    "padding": L.padding,
                }
                for L in stack
            ]
        )
    edited = st.data_editor(
        st.session_state[f"{editor_key}.init"],
        key=editor_key,
        num_rows="dynamic",
        hide_index=True,
        column_config={
            "layer": st.column_config.SelectboxColumn("layer", options=list(arch.LAYER_KINDS), required=True),
            "filters": st.column_config.NumberColumn("filters (conv)", min_value=1, max_value=1024, step=1),
            "kernel": st.column_config.NumberColumn("kernel k", min_value=1, max_value=15, step=1, required=True),
            "stride": st.column_config.NumberColumn("stride s", min_value=1, max_value=8, step=1, required=True),
            "padding": st.column_config.NumberColumn("padding p (conv)", min_value=0, max_value=7, step=1),
        },
    )
    layers, problems = [], []
    for n, row in enumerate(edited.to_dict("records"), start=1):
        try:
            kind = row.get("layer") or "conv"
            num = lambda v, d: int(v) if v is not None and not pd.isna(v) else d  # noqa: E731
            layers.append(
                arch.validate_layer(
                    arch.Layer(
                        kind,
                        num(row.get("kernel"), 3),
                        num(row.get("stride"), 1),
                        num(row.get("padding"), 0) if kind == "conv" else 0,
                        num(row.get("filters"), 16) if kind == "conv" else 0,
                    )
                )
            )
        except (arch.ArchitectureError, ValueError, TypeError) as err:
            problems.append(f"row {n}: {err}")
    for p in problems:
        st.warning(f"Skipped {p}")
    st.session_state["conv.stack_text"] = arch.format_stack(layers)
    analysis = arch.analyse((int(C0), int(H0), int(W0)), layers)
    heavy, most = analysis.heaviest(), analysis.most_params()
    table = pd.DataFrame(
        [
            {
                "#": r.index,
                "layer": r.layer.label(),
                "output shape (C×H×W)": "×".join(map(str, r.out_shape)),
                "receptive field (px)": f"{r.receptive_field}×{r.receptive_field}",
                "parameters": r.params,
                "multiply-adds": r.macs,
            }
            for r in analysis.rows
        ]
    )
    if len(table):

        def _highlight(row: pd.Series) -> list[str]:
            idx = int(row["#"])
            style = ""
            if heavy is not None and heavy.macs and idx == heavy.index:
                style += "background-color: #ffd6e4;"
            if most is not None and most.params and idx == most.index:
                style += "font-weight: bold; border: 2px solid #d6336c;"
            return [style] * len(row)

        st.dataframe(
            table.style.apply(_highlight, axis=1).format({"parameters": "{:,}", "multiply-adds": "{:,}"}),
            hide_index=True,
        )
        st.caption(
            f"Input {C0}×{H0}×{W0}. Total: {analysis.total_params:,} parameters, {analysis.total_macs:,} multiply-adds. "
            "Pink row: most multiply-adds; outlined row: most parameters. Receptive field: one output cell depends "
            "on r×r input pixels (in every channel), ignoring the image border."
        )
        st.plotly_chart(conv_figures.cost_figure(analysis), key="conv.cost_fig")
    if analysis.problem:
        st.error(analysis.problem, icon=":material/block:")

    st.subheader("The quiz", anchor=False)
    for n, qa in enumerate(arch.quiz(analysis)):
        with st.container(border=True):
            st.markdown(f"**Q{n + 1}. {qa.question}**")
            if st.session_state.get(f"conv.quiz.{n}") or st.button("Reveal the answer", key=f"conv.quiz_btn.{n}"):
                st.session_state[f"conv.quiz.{n}"] = True
                st.success(f"**{qa.answer}**")
                st.caption(qa.why)
    if layers and not analysis.problem and st.button("Check with a real nn.Sequential", key="conv.arch_check"):
        model = arch.build_sequential(int(C0), layers)
        with torch.inference_mode():
            shapes, Y = [], torch.zeros(1, int(C0), int(H0), int(W0))
            for module in model:
                Y = module(Y)
                shapes.append("×".join(map(str, Y.shape[1:])))
        st.code(str(model), language=None)
        ok = shapes == ["×".join(map(str, r.out_shape)) for r in analysis.rows]
        n_params = sum(p.numel() for p in model.parameters())
        (st.success if ok and n_params == analysis.total_params else st.error)(
            f"PyTorch's shapes: {' → '.join(shapes)}; parameters: {n_params:,} "
            f"({'matches' if ok and n_params == analysis.total_params else 'differs from'} the calculator)."
        )

# --- code and URL ----------------------------------------------------------------------------------------------------

if result is not None:
    ui.show_code(
        conv.snippet(
            cfg,
            pool_kind=pool_values["pool"],
            pool_k=int(pool_values["pool_k"]),
            pool_s=int(pool_values["pool_s"]),
            relu=bool(pool_values["relu"]),
        ),
        filename="convolution.py",
    )

values = {**image_values, **kernel_values, **bank_values, **geo_values, **view_values, **pool_values, **step_values}
extra = {}
if cfg.kernel == "custom" and custom_text:
    extra["custom"] = custom_text
if st.session_state["conv.stack_text"] != arch.format_stack(arch.LECTURE_STACK):
    extra["stack"] = st.session_state["conv.stack_text"]
ui.sync_url(ALL_SPECS, values, extra=extra)
