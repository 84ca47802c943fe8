"""Lab 3: convolution and pooling on your own photos.

Thin page: widgets → ``lab.conv`` / ``lab.pooling`` / ``lab.architecture`` → ``lab.conv_figures`` → render.
"""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pandas as pd
import streamlit as st
import torch

import ui
from lab import architecture as arch
from lab import conv, conv_figures, conv_transpose, params, pooling
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
    Param("zoom_y", "Window centre: rows (fraction of height)", 0.5, kind="float", lo=0.0, hi=1.0, step=0.01),
    Param("zoom_x", "Window centre: columns (fraction of width)", 0.5, kind="float", lo=0.0, hi=1.0, step=0.01),
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
    *conv_transpose.TRANSPOSE_SPECS,
)
#: The tabs, by the short name the link uses (``?tab=steps``).
TABS = {  # short labels: all four fit the tab bar at 1000 px with the sidebar open
    "photo": "Your photo",
    "steps": "Worked example",
    "pool": "Pooling & shifts",
    "quiz": "Architecture & quiz",
}
#: The architecture input (C, H, W): link key, label, range, default.
ARCH_INPUT = (
    ("arch_c", "Input channels", 1, 512, arch.LECTURE_INPUT[0]),
    ("arch_h", "Input height", 1, 1024, arch.LECTURE_INPUT[1]),
    ("arch_w", "Input width", 1, 1024, arch.LECTURE_INPUT[2]),
)

link_problems: list[str] = []  # what this run ignored from the link, shown once in one notice


def _display(img: np.ndarray) -> np.ndarray:
    """Nearest-neighbour downscale to DISPLAY_SIDE (keeps the photo small on the wire)."""
    H, W = img.shape[:2]
    step = max(1, -(-max(H, W) // DISPLAY_SIDE))
    return img[::step, ::step]


def _map_caption(name: str, m: torch.Tensor, signed: bool) -> str:
    """Caption of one map picture; ``signed`` is the scale the picture was coloured with."""
    lo, hi = float(m.min()), float(m.max())
    scale = "both signs: blue < 0 < red" if signed else "one sign: viridis, min→max"
    return f"{name} · {m.shape[-2]}×{m.shape[-1]} · [{lo:.3g}, {hi:.3g}] · {scale}"


def _linked_int(key: str, query: str, label: str, lo: int, hi: int, default: int) -> int:
    """Start value of an int widget not built by ``ui.controls``: its state, its copy kept while another page
    was shown, or (first time in a session) the link's ``?query=``; a bad link value is noted, not echoed."""
    for k in (key, f"_keep.{key}"):
        if k in st.session_state:
            return int(st.session_state[k])
    raw = st.query_params.get(query)
    if raw is None:
        return default
    values, problems = params.from_query([Param(query, label, default, kind="int", lo=lo, hi=hi)], {query: raw[:20]})
    if problems or len(raw) > 20:
        link_problems.append(f"“{query}” ({label}) must be a whole number from {lo} to {hi}; using {default}.")
        return default
    return int(values[query])


def _stack_init() -> list[arch.Layer]:
    """The architecture stack: the session's, or (first time) the link's; a bad link gets the lecture's."""
    if "conv.stack_text" not in st.session_state:
        st.session_state["conv.stack_text"] = st.query_params.get("stack", arch.format_stack(arch.LECTURE_STACK))
        st.session_state["conv.stack_version"] = 0
    try:
        return arch.parse_stack(st.session_state["conv.stack_text"])
    except arch.ArchitectureError as err:
        # Only a link can get here: replace it, so the rest of the session works with the lecture's stack.
        link_problems.append(f"the stack (“stack”) was not used: {err} Showing the lecture's stack.")
        st.session_state["conv.stack_text"] = arch.format_stack(arch.LECTURE_STACK)
        return list(arch.LECTURE_STACK)


def _arch_dims() -> list[int]:
    """The architecture input (C, H, W) while its tab is closed: kept for the link and the next visit."""
    dims = []
    for name, label, lo, hi, default in ARCH_INPUT:
        key = f"conv.{name}"
        dims.append(_linked_int(key, name, label, lo, hi, default))
        st.session_state[f"_keep.{key}"] = dims[-1]
    return dims


# --- header and photo -------------------------------------------------------------------------------------------

info = ui.page_header(
    "3. Convolution & pooling",
    "A convolution slides **the same small grid of weights** over every patch of the image and writes one "
    "number per patch: *how edge-like (or blur-like, or cat-like) is this square?* Pick a kernel, change the "
    "geometry, step through the lecture's example, pool, and size up a whole network.",
)
device = info.device
notice = st.empty()  # one notice for everything this page ignored from the link

top_left, top_right = st.columns([1, 1], gap="large")
with top_left:
    loaded = ui.image_input("conv")
    image_values = ui.controls(IMAGE_SPECS, f"{PAGE}.image")
X = conv.image_tensor(loaded.to_array(), long_side=int(image_values["res"]))  # (1, 3, H, W)
H, W = X.shape[-2:]
with top_right:
    kernel_values = ui.controls(KERNEL_SPECS[:1], f"{PAGE}.kernel")
    chosen = conv.KERNELS[kernel_values["kernel"]]
    if chosen.sizable or chosen.name == "custom":
        kernel_values |= ui.controls(KERNEL_SPECS[1:2], f"{PAGE}.kernel")
    else:  # a fixed 3×3 preset: the slider would do nothing, so it says so and keeps the student's size
        st.slider("Kernel size k: fixed 3×3 for this preset", 3, 7, 3, disabled=True, key="conv.size_fixed")
        # The student's size (or the link's) stays in the link and comes back with a sizable kernel.
        kernel_values["size"] = st.session_state.get(
            f"_keep.{PAGE}.kernel.size", params.from_query(KERNEL_SPECS[1:2], st.query_params.to_dict())[0]["size"]
        )

    kernel_values |= ui.controls(KERNEL_SPECS[2:], f"{PAGE}.kernel")
    bank_values = ui.controls((BANK_SPEC,), f"{PAGE}.bank") if kernel_values["mode"] == "bank" else {}
    geo_cols = st.columns(2)
    geo_values = ui.controls(conv.GEOMETRY_SPECS[:2], f"{PAGE}.geo1", container=geo_cols[0])
    geo_values |= ui.controls(conv.GEOMETRY_SPECS[2:], f"{PAGE}.geo2", container=geo_cols[1])
st.caption(
    f"Photo **{params.escape_markdown(loaded.name)}**: {loaded.original_size[0]}×{loaded.original_size[1]} as uploaded; "
    f"**computing at {W}×{H} px** (choose the compute resolution above); maps are shown at most "
    f"{DISPLAY_SIDE} px a side, pixel for pixel (small maps as enlarged blocks, never smoothed)."
)

# --- the custom kernel grid --------------------------------------------------------------------------------------

size = int(kernel_values["size"]) if chosen.sizable or chosen.name == "custom" else 3
if "conv.custom_text" not in st.session_state:
    linked = st.query_params.get("custom", "")
    try:
        if linked:
            conv.parse_kernel(linked)
    except ValueError as err:
        link_problems.append(f"the custom kernel (“custom”) was not used: {err}.")
        linked = ""
    st.session_state["conv.custom_text"] = linked
    st.session_state["conv.custom_version"] = 0
custom_text = st.session_state["conv.custom_text"]
if kernel_values["kernel"] == "custom":
    start = conv.parse_kernel(custom_text) if custom_text else conv.kernel_preset("custom", size)
    editor_key = f"conv.custom_editor.{size}.{st.session_state['conv.custom_version']}"
    if f"{editor_key}.init" not in st.session_state:
        dropped = 0
        if start.shape[-1] != size:  # the size slider moved: keep the weights, centred
            start, dropped = conv.resize_kernel(start, size)
        st.session_state[f"{editor_key}.init"] = pd.DataFrame(start.numpy(), columns=[str(c) for c in range(size)])
        st.session_state["conv.custom_dropped"] = dropped
    with top_right:
        st.markdown(f"**Custom {size}×{size} kernel** — edit the weights (rows top to bottom):")
        if st.session_state.get("conv.custom_dropped"):
            st.info(
                f"Shrinking the grid to {size}×{size} dropped its outer ring: "
                f"{st.session_state['conv.custom_dropped']} non-zero weight(s). A bigger size keeps every weight "
                "(new cells are 0).",
                icon=":material/info:",
            )
        edited = st.data_editor(st.session_state[f"{editor_key}.init"], key=editor_key, hide_index=True)
        preset_cols = st.columns([2, 1], vertical_alignment="bottom")
        seed_from = preset_cols[0].selectbox(
            "Start from a preset",
            [k for k in conv.KERNELS if k != "custom"],
            format_func=lambda k: conv.KERNELS[k].label,
            key="conv.custom_seed",
        )
        if preset_cols[1].button("Load it", key="conv.custom_load"):
            P, _ = conv.resize_kernel(conv.kernel_preset(seed_from, size), size)  # a 3×3 preset inside a bigger grid
            st.session_state["conv.custom_text"] = conv.format_kernel(P)
            st.session_state["conv.custom_version"] += 1
            st.session_state["conv.custom_dropped"] = 0
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

result: conv.ConvResult | None = None
conv_error = ""
try:
    result = conv.apply(X, cfg, device=device)
except conv.ConvGeometryError as err:
    conv_error = str(err)
except ValueError as err:
    conv_error = f"This kernel cannot be used: {err}"
with top_left:  # under the photo picker, beside the kernel's controls
    if result is not None:
        shown_k = result.weight[0, 0].numpy() if cfg.mode != "bank" else result.weight[0].sum(0).numpy()
        st.plotly_chart(
            conv_figures.kernel_figure(
                shown_k, "Kernel weights" + (" (filter 1, R+G+B)" if cfg.mode == "bank" else "")
            ),
            key="conv.kernel_fig",
        )

# --- tabs (the active one is kept in the link) ---------------------------------------------------------------------

(tab_photo, tab_steps, tab_pool, tab_arch), active = ui.linked_tabs(TABS, "conv.tab", report=link_problems.append)
# Only the open tab is built and sent (a closed one would cost the server its run and the browser its
# drawing on every change); a closed tab's settings still come from the session (or the link) for the link
# and the code below. Its widgets get their values back when it opens (ui.kept, ui.sticky).
stack = _stack_init()

# --- tab 1: feature maps ------------------------------------------------------------------------------------------

view_values = ui.kept(VIEW_SPECS, f"{PAGE}.view")
if tab_photo.open:
    with tab_photo:
        st.markdown(f"**{conv.KERNELS[cfg.kernel].label}** — {conv.KERNELS[cfg.kernel].what}")
        with st.expander("“Convolution” here is cross-correlation (no kernel flip): what a flip would change"):
            st.markdown(conv.CROSS_CORRELATION_NOTE)
        if conv_error:
            st.error(conv_error, icon=":material/block:")
        k = conv.build_weight(cfg)[0].shape[-1] if result is None else result.weight.shape[-1]
        g = cfg.geometry
        st.markdown(
            "**Output size** ⌊(n + 2p − d(k − 1) − 1)/s⌋ + 1, with "
            f"k = {k}, s = {g.stride}, p = {g.padding}, d = {g.dilation} "
            f"(the kernel spans d(k−1)+1 = {conv.receptive_span(k, g.dilation)} pixels):"
        )
        st.code(f"{conv.formula_text(H, k, g, 'H')}\n{conv.formula_text(W, k, g, 'W')}", language=None, wrap_lines=True)
        if result is not None:
            maps = result.maps
            st.caption(
                f"{len(result.names)} map(s) of {maps.shape[-2]}×{maps.shape[-1]} from a {H}×{W} input: "
                f"{maps.shape[-2] * maps.shape[-1]:,} output cells, each the sum of "
                f"{result.weight.shape[1] * k * k} products with the **same** {result.weight[0].numel()} weights. "
                "Each map is coloured by its own sign: maps with both signs blue (negative) – white (0) – red "
                "(positive), one-signed maps (blurs) viridis from min to max; the brightest 0.5 % of cells are clipped "
                "for display."
            )
            maps_area = st.container()  # the photo and the whole maps, drawn once the hover window is known
            st.subheader("Look closer: hover a cell for its arithmetic", anchor=False)
            names = result.names
            zc = st.columns([1, 1, 1])
            # The key follows the maps, so a mode change never leaves a stale label in the box.
            names_key = hashlib.sha1("|".join(names).encode()).hexdigest()[:10]
            channel_name = ui.sticky(zc[0].selectbox, "Feature map", names, key=f"conv.zoom_map.{names_key}")
            channel = names.index(channel_name)
            view_values = ui.controls(VIEW_SPECS[:1], f"{PAGE}.view", container=zc[1])
            view_values |= ui.controls(VIEW_SPECS[1:], f"{PAGE}.view", container=zc[2])
            region = conv.zoom_region(maps.shape[-2], maps.shape[-1], view_values["zoom_y"], view_values["zoom_x"])
            arith = conv.hover_arithmetic(result.X_in, result.weight, g, channel, result.groups, region)
            r0, r1, c0, c1 = region
            signed = is_signed(maps[channel].numpy())
            st.plotly_chart(
                conv_figures.hover_figure(
                    arith,
                    maps[channel, r0:r1, c0:c1].numpy(),
                    f"{names[channel]}: rows {r0}–{r1 - 1}, cols {c0}–{c1 - 1}",
                    signed=signed,
                ),
                key="conv.hover_fig",
            )
            st.caption(
                "Left: the input pixels under this window (what the kernel reads, padding included). Right: the same "
                "window of the feature map, one square per output cell. Hovering a cell shows its patch, the kernel, "
                "their element-wise products and the sum, which equals the map's value: all of it is in the page, so "
                "hovering needs no rerun. Move the window by clicking the whole map above (it is outlined there) or with the "
                "two sliders."
            )

            cols = maps_area.columns([2, 3], gap="medium")  # the clickable map gets the wider column
            with cols[0]:
                st.image(
                    _display(loaded.to_array()),
                    caption=f"input ({params.escape_markdown(loaded.name)})",
                    width="stretch",
                )
            with cols[1]:
                pictures = conv_figures.map_pictures(conv.clip_for_display(maps))
                H_out, W_out = maps.shape[-2:]
                # A new chart after every move (and per map): no selection left over from the last click to undo.
                click_key = f"conv.map_click.{names_key}.{channel}.{r0}.{c0}"

                def _on_map_click() -> None:
                    """Centre the window on the clicked cell: runs before the sliders exist, so it can set them."""
                    points = st.session_state[click_key].selection.get("points", [])
                    hit = conv_figures.clicked_cell(points[0], H_out, W_out) if points else None
                    if hit is not None:
                        st.session_state[f"{PAGE}.view.zoom_y"] = conv.center_fraction(hit[0], H_out)
                        st.session_state[f"{PAGE}.view.zoom_x"] = conv.center_fraction(hit[1], W_out)

                st.plotly_chart(
                    conv_figures.clickable_map_figure(
                        pictures[channel][0], region, "Click the map to move the window", max_side=DISPLAY_SIDE
                    ),
                    key=click_key,
                    on_select=_on_map_click,
                    selection_mode="points",
                    config={"displayModeBar": False},
                )
                st.caption(_map_caption(names[channel], maps[channel], pictures[channel][1]))
                others = [n for n in range(len(names)) if n != channel]
                if others:  # the other maps stay pictures; pick one under "Feature map" to click it
                    st.image(
                        [conv_figures.pixelated(pictures[n][0], max_side=DISPLAY_SIDE) for n in others],
                        caption=[_map_caption(names[n], maps[n], pictures[n][1]) for n in others],
                        width=240,
                    )

# --- tab 2: the worked example ------------------------------------------------------------------------------------

if tab_steps.open:
    with tab_steps:
        sc = st.columns(3)
        step_values = ui.controls(STEP_SPECS[:1], f"{PAGE}.ex1", container=sc[0])
        step_values |= ui.controls(STEP_SPECS[1:4], f"{PAGE}.ex2", container=sc[1])
        if step_values["ex_source"] == "photo":
            step_values |= ui.controls(STEP_SPECS[4:], f"{PAGE}.ex3", container=sc[2])
            X_small = conv.crop_gray(X, step_values["ex_top"], step_values["ex_left"], 7)
            try:
                K_small = conv.build_weight(dataclasses.replace(cfg, mode="gray"))[0][0, 0]
            except ValueError:
                K_small = conv.LECTURE_KERNEL
            sc[2].caption(f"Crop of the grayscale photo (values 0–1), kernel: {conv.KERNELS[cfg.kernel].label}.")
        else:
            step_values |= {p.name: p.default for p in STEP_SPECS[4:]}
            X_small, K_small = conv.LECTURE_IMAGE, conv.LECTURE_KERNEL
            sc[2].caption("The lecture's binary image and its [[1,0,1],[0,1,0],[1,0,1]] kernel.")
        step_geo = conv.Geometry(
            stride=step_values["ex_stride"], padding=step_values["ex_padding"], dilation=step_values["ex_dilation"]
        )
        cell = _linked_int("conv.cell", "cell", "stepper cell", 1, 10_000, 1)
        try:
            steps = conv.conv_steps(X_small, K_small, step_geo)
        except conv.ConvGeometryError as err:
            st.error(str(err), icon=":material/block:")
            steps = None
        if steps is not None:
            n_steps = len(steps.steps)
            cell = min(max(cell, 1), n_steps)
            if n_steps > 1:
                cell = st.slider("Output cell (reading order)", 1, n_steps, cell, key=f"conv.step.{n_steps}")
            index = cell - 1
            step = steps.steps[index]
            st.plotly_chart(conv_figures.stepper_figure(steps, index), key="conv.stepper_fig")
            st.caption(
                "▶ Play slides the kernel cell by cell right here in your browser; the slider under the figure scrubs. "
                "The slider above picks the cell written out below (and kept in the link)."
            )
            st.markdown(f"**out[{step.row}, {step.col}]** = Σ patch ⊙ kernel = `{step.sum_text()}`")
            done = ", ".join(f"{s.total:.3g}" for s in steps.steps[: index + 1])
            st.caption(f"Filled so far: {done}. The same {K_small.numel()} weights are used at every position.")
        st.session_state["conv.cell"] = cell
        st.session_state["_keep.conv.cell"] = cell

        st.subheader("Transposed convolution: the way back up", anchor=False)
        tc = st.columns(2)
        tr_values = ui.controls(conv_transpose.TRANSPOSE_SPECS[:1], f"{PAGE}.tr", container=tc[0])
        tr_values |= ui.controls(conv_transpose.TRANSPOSE_SPECS[1:], f"{PAGE}.tr", container=tc[1])
        ts, tp = int(tr_values["tr_stride"]), int(tr_values["tr_padding"])
        X_t, K_t = conv.LECTURE_OUTPUT, conv.LECTURE_KERNEL
        st.markdown(
            f"`nn.ConvTranspose2d` takes the lecture's 3×3 output and its kernel back up: every input cell **stamps** "
            f"a copy of the kernel scaled by its value, {ts} pixel(s) apart; where stamps overlap they add up, and "
            f"padding p cuts p pixels off every side. Its size formula runs the convolution's backwards:"
        )
        st.latex(conv_transpose.transposed_formula_latex(X_t.shape[0], K_t.shape[0], ts, tp))
        try:
            Y_t = conv_transpose.conv_transpose(X_t, K_t, ts, tp)
        except conv_transpose.TransposeGeometryError as err:
            st.error(str(err), icon=":material/block:")
        else:
            by_hand = conv_transpose.conv_transpose_by_hand(X_t, K_t, ts, tp)
            st.plotly_chart(
                conv_figures.transpose_figure(X_t.numpy(), K_t.numpy(), Y_t.numpy(), ts, tp), key="conv.transpose_fig"
            )
            st.caption(
                f"Stamping by hand gives the same {Y_t.shape[0]}×{Y_t.shape[1]} output as F.conv_transpose2d "
                f"(largest difference {float((by_hand - Y_t).abs().max()):.1g}). A transposed convolution restores "
                "the *shape* of a convolution's input (stride 1, padding 0 gives 3 → 5), not its values: it is not an "
                "inverse."
            )

else:  # closed: its settings still go into the link
    step_values = ui.kept(STEP_SPECS[:1], f"{PAGE}.ex1") | ui.kept(STEP_SPECS[1:4], f"{PAGE}.ex2")
    if step_values["ex_source"] == "photo":
        step_values |= ui.kept(STEP_SPECS[4:], f"{PAGE}.ex3")
    else:
        step_values |= {p.name: p.default for p in STEP_SPECS[4:]}
    cell = _linked_int("conv.cell", "cell", "stepper cell", 1, 10_000, 1)
    st.session_state["_keep.conv.cell"] = cell
    tr_values = ui.kept(conv_transpose.TRANSPOSE_SPECS, f"{PAGE}.tr")

# --- tab 3: pooling and the shift test -----------------------------------------------------------------------------

if tab_pool.open:
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
                (before, s_before), (after, s_after) = (
                    conv_figures.map_pictures(conv.clip_for_display(features[0, :1]))[0],
                    conv_figures.map_pictures(conv.clip_for_display(pooled[:1]))[0],
                )
                pcols = st.columns(2)
                pcols[0].image(
                    conv_figures.pixelated(before, max_side=DISPLAY_SIDE),
                    caption=_map_caption(
                        result.names[0] + (" after ReLU" if pool_values["relu"] else ""), features[0, 0], s_before
                    ),
                    width="stretch",
                )
                pcols[1].image(
                    conv_figures.pixelated(after, max_side=DISPLAY_SIDE),
                    caption=_map_caption(f"{pool_values['pool']}-pooled (each block is one cell)", pooled[0], s_after),
                    width="stretch",
                )

            st.subheader("Shift test: does pooling make the map less sensitive to small shifts?", anchor=False)
            st.markdown(
                "The crop window moves 1–4 pixels **right and down**, so the photo's content moves **up and left** "
                "inside it (new content enters at the bottom and right edges). We compare the feature map of the first "
                "filter with the map of the moved crop **at the same positions**, before and after pooling. "
                "Relative change = mean |difference| / mean |map|."
            )
            shown = ui.sticky(
                st.select_slider, "Shift shown below (px)", options=[1, 2, 3, 4], value=1, key="conv.shift_shown"
            )
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
                scol = st.columns([1, 1])
                metric = ui.sticky(
                    scol[1].radio,
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
                dcols[0].image(
                    conv_figures.pixelated(diff, max_side=DISPLAY_SIDE),
                    caption=f"map − map of the moved crop ({shift.shown} px)",
                    width="stretch",
                )
                dcols[1].image(
                    conv_figures.pixelated(pdiff, max_side=DISPLAY_SIDE),
                    caption=f"pooled − pooled of the moved crop ({shift.shown} px)",
                    width="stretch",
                )

else:  # closed: its settings still feed the code below and the link
    pool_values = {}
    for spec in pooling.POOL_SPECS:
        pool_values |= ui.kept((spec,), f"{PAGE}.{spec.name}")

# --- tab 4: the architecture calculator ------------------------------------------------------------------------------

if tab_arch.open:
    with tab_arch:
        st.markdown(
            "The lecture's quiz: a **3×100×100** image, **100 filters of 3×5×5**, then conv → pool → conv → pool. "
            "Edit the stack (add or delete rows) and the input; every number below is recomputed."
        )
        st.caption(arch.LECTURE_ASSUMPTIONS)
        ic = st.columns(4, vertical_alignment="bottom")
        dims = []
        for col, (name, label, lo, hi, default) in zip(ic, ARCH_INPUT, strict=False):
            key = f"conv.{name}"
            start = _linked_int(key, name, label, lo, hi, default)
            if key not in st.session_state:
                st.session_state[key] = start
            dims.append(int(col.number_input(label, lo, hi, key=key)))
            st.session_state[f"_keep.{key}"] = dims[-1]
        C0, H0, W0 = dims
        if ic[3].button("Lecture's stack", key="conv.arch_reset", help="Reset the stack to the lecture's quiz."):
            st.session_state["conv.stack_text"] = arch.format_stack(arch.LECTURE_STACK)
            st.session_state["conv.stack_version"] += 1
            st.rerun()
        editor_key = f"conv.stack_editor.{st.session_state['conv.stack_version']}"
        # Built from the kept stack whenever the editor has no state: first time, or after its tab was closed
        # (Streamlit then forgot the edits, which the stack text holds).
        if f"{editor_key}.init" not in st.session_state or editor_key not in st.session_state:
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
        for n, row in enumerate(edited.to_dict("records")[: arch.MAX_LAYERS], start=1):
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
        if len(edited) > arch.MAX_LAYERS:
            problems.append(f"rows after {arch.MAX_LAYERS}: at most {arch.MAX_LAYERS} layers")
        for p in problems:
            st.warning(f"Skipped {p}")
        st.session_state["conv.stack_text"] = arch.format_stack(layers)
        analysis = arch.analyse((C0, H0, W0), layers)
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
        answers = arch.quiz(analysis)
        if analysis.problem:
            st.info(
                "This stack is impossible (see the message above), so the quiz has no answers for it: a blob that "
                "shrinks below the next kernel has no size, receptive field or cost. Fix the stack, or reset it to the "
                "lecture's.",
                icon=":material/block:",
            )
        for n, qa in enumerate(answers):
            with st.container(border=True):
                st.markdown(f"**Q{n + 1}. {qa.question}**")
                if st.session_state.get(f"conv.quiz.{n}") or st.button("Reveal the answer", key=f"conv.quiz_btn.{n}"):
                    st.session_state[f"conv.quiz.{n}"] = True
                    st.success(f"**{qa.answer}**")
                    if qa.latex:
                        st.latex(qa.latex)
                    st.caption(qa.why)
        if layers and not analysis.problem and st.button("Check with a real nn.Sequential", key="conv.arch_check"):
            cost = arch.check_cost(analysis)
            run_on = "cpu" if cost.fits else "meta"
            if not cost.fits:
                st.info(
                    f"Running this stack for real would take {cost.macs:,} multiply-adds and "
                    f"{(cost.weight_bytes + cost.activation_bytes) / 2**20:,.0f} MB; the check computes at most "
                    f"{arch.CHECK_MAX_MACS:,} multiply-adds and {arch.CHECK_MAX_BYTES // 2**20} MB, so one click cannot "
                    "block the server. It runs on PyTorch's **meta** device instead: the same modules and shape rules, "
                    "no numbers computed. (The table above is arithmetic and needs no run at all.)",
                    icon=":material/speed:",
                )
            model = arch.build_sequential(C0, layers, device=run_on)
            bar = st.progress(0.0, text="Running the stack layer by layer…")
            with ui.heavy_job("Lab 3: check the stack", key="conv.arch_check"), torch.inference_mode():
                shapes, Y = [], torch.zeros(1, C0, H0, W0, device=run_on)
                for n, module in enumerate(model, start=1):
                    Y = module(Y)
                    shapes.append("×".join(map(str, Y.shape[1:])))
                    bar.progress(n / len(model), text=f"Layer {n} of {len(model)}: {shapes[-1]}")
            bar.empty()
            st.code(str(model), language=None)
            ok = shapes == ["×".join(map(str, r.out_shape)) for r in analysis.rows]
            n_params = sum(p.numel() for p in model.parameters())
            (st.success if ok and n_params == analysis.total_params else st.error)(
                f"PyTorch's shapes{' (meta device)' if run_on == 'meta' else ''}: {' → '.join(shapes)}; "
                f"parameters: {n_params:,} ({'matches' if ok and n_params == analysis.total_params else 'differs from'} "
                "the calculator)."
            )

else:  # closed: the input stays in the link
    C0, H0, W0 = _arch_dims()

# --- code, link notice and URL ------------------------------------------------------------------------------------

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
if link_problems:
    notice.warning("Some settings in the link were not used:\n\n- " + "\n- ".join(link_problems))

values = {
    **image_values,
    **kernel_values,
    **bank_values,
    **geo_values,
    **view_values,
    **pool_values,
    **step_values,
    **tr_values,
}
extra = {}
if cfg.kernel == "custom" and custom_text:
    extra["custom"] = custom_text
if st.session_state["conv.stack_text"] != arch.format_stack(arch.LECTURE_STACK):
    extra["stack"] = st.session_state["conv.stack_text"]
if cell != 1:
    extra["cell"] = str(cell)
for (name, *_, default), value in zip(ARCH_INPUT, (C0, H0, W0), strict=True):
    if value != default:
        extra[name] = str(value)
if active != "photo":
    extra["tab"] = active
ui.sync_url(ALL_SPECS, values, extra=extra)
