"""Lab 6: the GoogLeNet inception explorer — a real deep network on your own photo."""

from __future__ import annotations

import dataclasses
import hashlib

import streamlit as st

import ui
from lab import featurevis as FV
from lab import gradcam as G
from lab import inception as I
from lab import inception_image as II
from lab import inception_overview as OV
from lab import inception_paper as IP
from lab import limits
from lab import weights as W
from lab.figures import colorize, heatmap, line_chart
from lab.images import load_sample
from lab.params import Param

PAGE = "inception"
LAYER_LABELS = {name: name.removeprefix("inception") for name in I.FEATURE_LAYERS}
BRANCH_OPTIONS = ("all", *I.BRANCHES)
BRANCH_NAMES = {"all": "all four (concatenated)", **{b: f"{b}: {I.BRANCH_LABELS[b]}" for b in I.BRANCHES}}
IMAGE_SPECS = (
    Param("layer", "Layer", "inception4c", kind="choice", options=I.FEATURE_LAYERS, labels=LAYER_LABELS),
    Param(
        "branch",
        "Branch",
        "all",
        kind="choice",
        options=BRANCH_OPTIONS,
        labels=BRANCH_NAMES,
        help="Blocks only: one branch's output, or the whole concatenated output.",
    ),
    Param(
        "stage",
        "Activation",
        "post",
        kind="choice",
        options=("post", "pre"),
        labels={"post": "after ReLU", "pre": "before ReLU (BN output)"},
    ),
)
CAM_SPECS = (
    Param(
        "cam_layer",
        "Grad-CAM target layer",
        G.DEFAULT_LAYER,
        kind="choice",
        options=I.FEATURE_LAYERS,
        labels=LAYER_LABELS,
        help="inception5b is the usual choice: the last spatial layer, 7×7 at 224².",
    ),
    Param("ko_block", "Knock-out block", "inception4c", kind="choice", options=I.BLOCKS, labels=LAYER_LABELS),
    Param("ko_branch", "Knock-out branch", "branch2", kind="choice", options=I.BRANCHES, labels=BRANCH_NAMES),
)
FV_SPECS = (
    Param("fv_layer", "Layer to excite", "inception4c", kind="choice", options=I.FEATURE_LAYERS, labels=LAYER_LABELS),
    *FV.SPECS,
)
ALL_SPECS = (*I.SPECS, *IMAGE_SPECS, *CAM_SPECS, *FV_SPECS)
#: The tabs, by the short name the link uses (``?tab=overview``); short labels: all seven fit the tab bar at
#: 1000 px with the sidebar open.
TABS = {
    "photo": "Your photo",
    "overview": "Overview",
    "block": "Block",
    "layers": "Layers",
    "paper": "Paper",
    "gradcam": "Grad-CAM",
    "featurevis": "Feature vis",
}


# --- cached resources (shared by all sessions: read-only models, never hooked or trained) --------------


#: Sample photos the weights are judged on ("these weights look untrained" = near-uniform on all of them).
CHECK_SAMPLES = ("cat", "coffee", "rocket")


@st.cache_resource(max_entries=4, show_spinner="Building GoogLeNet…")
def _model(key: str, device: str, kind: str, path: str, seed: int, _data: bytes | None = None):
    """``key`` names the weights (path+mtime, upload digest, or untrained-seed); the rest says how to get them."""
    if kind == "untrained":
        return I.build_googlenet(seed=seed, device=device), W.untrained_info(seed)
    if kind == "upload":
        state, info = W.load_state_dict_bytes(_data or b"", digest=key.removeprefix("upload-"))
    else:
        state, info = W.load_state_dict_file(path, kind)
    model = W.model_from_state_dict(state, device)
    samples = [II.preprocess(load_sample(n).image).X.to(device) for n in CHECK_SAMPLES]
    return model, W.assess(info, model, samples)


@st.cache_data(show_spinner=False)
def _categories() -> list[str]:
    return W.categories()


@st.cache_data(max_entries=16, show_spinner=False)
def _preprocess(digest: str, _image) -> II.Preprocessed:
    return II.preprocess(_image)


@st.cache_data(max_entries=32, show_spinner=False)
def _inspect(digest: str, weights_key: str, device: str, layer: str, branch: str, stage: str, _model, _X):
    return II.inspect(_model, _X, _categories(), layer=layer, branch=branch, stage=stage, device=device)


@st.cache_data(max_entries=16, show_spinner=False)
def _cam(digest: str, weights_key: str, device: str, layer: str, class_index: int, _model, _X):
    return G.grad_cam(_model, _X, layer=layer, class_index=class_index, device=device)


@st.cache_data(max_entries=16, show_spinner=False)
def _knock(digest: str, weights_key: str, device: str, block: str, branch: str, _model, _X):
    return II.knock_out(_model, _X, _categories(), block, branch, device=device)


@st.cache_data(max_entries=8, show_spinner=False)
def _knock_all(digest: str, weights_key: str, device: str, _model, _X):
    return II.knock_out_all(_model, _X, device=device)


@st.cache_data(max_entries=8, show_spinner=False)
def _overview(digest: str, weights_key: str, device: str, _model, _X, _crop) -> OV.Overview:
    return OV.overview(_model, _X, _crop, _categories(), device=device)


@st.cache_data(max_entries=32, show_spinner=False)
def _table(size: int) -> I.ArchTable:
    return I.layer_table(size)


def _md(text: str, limit: int = 40) -> str:
    """User text (a file name) made inert for Markdown: cut short, every punctuation character escaped."""
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return "".join("\\" + c if (c.isascii() and not c.isalnum() and c != " ") else c for c in text)


def _upload_digest(upload) -> str:
    """SHA-256 of an upload, computed once per uploaded file (50 MB takes ~0.1 s; reruns are frequent)."""
    memo = st.session_state.setdefault(f"_{PAGE}.digests", {})
    if upload.file_id not in memo:
        memo.clear()
        memo[upload.file_id] = hashlib.sha256(upload.getvalue()).hexdigest()
    return memo[upload.file_id]


def _get_model(device: str, seed: int):
    """Pick the weights: upload › local file ($DL101_GOOGLENET_WEIGHTS, hub cache) › untrained."""
    with st.expander("Weights: ImageNet or untrained?", icon=":material/download:"):
        st.markdown(
            f"Looked for `${W.ENV_VAR}` and torchvision's `{W.WEIGHTS_FILE}` in torch's hub cache "
            "(`~/.cache/torch/hub/checkpoints/`). Nothing is downloaded unless you press the button. Files are "
            "checked before loading (a zip of uncompressed tensors, at most "
            f"{W.MAX_UNCOMPRESSED // 2**20} MB unpacked), opened with `torch.load(weights_only=True)` and checked "
            "key by key against the architecture. **Verified ImageNet weights** means the file's SHA-256 starts "
            f"with `{W.HASH_PREFIX}`, the hash torchvision publishes in the file name; any other file is "
            "*custom weights*."
        )
        upload, server_mb = None, int(st.get_option("server.maxUploadSize"))
        if W.upload_allowed(server_mb):
            upload = st.file_uploader(
                f"Upload a GoogLeNet state_dict (.pth, up to {W.MAX_MB} MB)",
                type=["pth", "pt"],
                key=f"{PAGE}.weights",
                max_upload_size=W.MAX_MB,
                help=f"torchvision's {W.WEIGHTS_FILE} is about 50 MB. A larger file is refused by the browser: "
                f"instead, {W.HOW_TO_LOAD_LARGE}.",
            )
            st.caption(
                f"Limit: **{W.MAX_MB} MB** per file. A file over the limit is refused by the browser before it "
                f"reaches the app (a red mark on the file). To load one anyway, {W.HOW_TO_LOAD_LARGE}, and reload "
                "the page."
            )
        else:  # a public server's upload cap (photos, CSVs, WAVs) is below a weights file's ~50 MB
            st.caption(
                f"Uploading weights is off on this server: it accepts uploads of up to {server_mb} MB, and "
                f"torchvision's {W.WEIGHTS_FILE} is about 50 MB. On your own machine (`streamlit run app.py`) you "
                f"can upload a state_dict of up to {W.MAX_MB} MB."
            )
        if limits.public_mode():  # a hosted demo's image is read-only; its weights were fetched at build time
            st.caption("This public server cannot download weights; its administrator installs them (see the README).")
        elif st.button("Download ImageNet weights (≈50 MB) from download.pytorch.org", key=f"{PAGE}.download"):
            try:
                with st.spinner("Downloading…"):
                    W.download_weights()
                st.success("Downloaded into the hub cache.")
            except W.WeightsError as err:
                st.error(str(err))
    if upload is not None:
        digest = _upload_digest(upload)
        try:
            if W.refused_before(digest) is not None:  # refused once: say so without reading it again
                raise W.WeightsError(W.refused_before(digest))
            return _model(f"upload-{digest}", device, "upload", "", seed, _data=upload.getvalue())
        except W.WeightsError as err:
            st.error(f"{err}\n\nUsing the other weights instead.", icon=":material/gpp_bad:")
    found = W.find_weights()
    if found is not None:
        path, kind = found
        try:
            mtime = path.stat().st_mtime_ns if path.exists() else 0
            return _model(f"{kind}-{path}-{mtime}", device, kind, str(path), seed)
        except W.WeightsError as err:
            st.error(f"{err}\n\nFalling back to the untrained network.", icon=":material/gpp_bad:")
    return _model(f"untrained-{seed}", device, "untrained", "", seed)


def caveat(what: str) -> None:
    """The inline caveat every interpreting view carries while the network is untrained."""
    if not winfo.trustworthy:
        reason = "untrained network" if not winfo.pretrained else "these weights look untrained"
        st.warning(f"**{reason.capitalize()}:** {what}", icon=":material/warning:")


# --- page ---------------------------------------------------------------------------------------------------

info = ui.page_header(
    "6. GoogLeNet inception explorer",
    "GoogLeNet (Szegedy et al., 2014) stacks nine **inception blocks**: four branches side by side — 1×1, "
    '1×1→3×3, 1×1→"5×5", 3×3 max-pool→1×1 — concatenated along channels. The 1×1 convolutions shrink the '
    "channels before the expensive convolutions; that is what makes a 22-layer network affordable.",
)
device, seed = info.device, ui.current_seed()
model, winfo = _get_model(device, seed)
if not winfo.pretrained:
    st.warning(
        "**Untrained network — no ImageNet weights found.** What changes: **predictions are meaningless** "
        "(random filters, near-uniform probabilities); the **architecture, shape and cost views are still exact**; "
        "**feature maps come from random filters** (He-initialised), not learned ones. "
        + (
            "This public server has no weights installed; its administrator installs them when building it (see "
            "the README's *Host it for a class*)"
            + (
                f", or upload torchvision's `{W.WEIGHTS_FILE}` under *Weights* above."
                if W.upload_allowed(int(st.get_option("server.maxUploadSize")))
                else "."
            )
            if limits.public_mode()
            else f"Open *Weights* above to download, upload or point `${W.ENV_VAR}` at torchvision's "
            f"`{W.WEIGHTS_FILE}`."
        ),
        icon=":material/warning:",
    )
elif winfo.untrained_look:
    st.warning(
        f"**Custom weights, loaded ({winfo.label}) — these weights look untrained:** their predictions on the "
        f"sample photos ({', '.join(CHECK_SAMPLES)}) are near-uniform over the 1000 classes. Predictions, Grad-CAM, "
        "knock-outs and feature visualisations mean little; shapes and costs are exact. " + " ".join(winfo.notes),
        icon=":material/warning:",
    )
elif winfo.verified:
    st.success(
        f"**Verified ImageNet weights** ({winfo.label}): the SHA-256 matches torchvision's published "
        f"`{W.WEIGHTS_FILE}`. " + " ".join(winfo.notes),
        icon=":material/verified:",
    )
else:
    st.info(
        f"**Custom weights, loaded** ({winfo.label}). Their SHA-256 is not that of torchvision's `{W.WEIGHTS_FILE}`, "
        "so this page does not call them ImageNet weights; their predictions on the sample photos are not "
        "near-uniform. " + " ".join(winfo.notes),
        icon=":material/info:",
    )

SELECT_KEYS = {  # what a click in the overview sets, per kind of target
    "layer": f"{PAGE}.layer",
    "branch": f"{PAGE}.branch",
    "cam_layer": f"{PAGE}.cam.cam_layer",
    "ko_block": f"{PAGE}.cam.ko_block",
    "ko_branch": f"{PAGE}.cam.ko_branch",
    "block": f"{PAGE}.block.block",
    "fv_layer": f"{PAGE}.fv.fv_layer",
}


def select_target(target: str) -> None:
    """Make ``target`` (a layer, or ``block.branch``) the selection of every tab that can show it."""
    layer, _, branch = target.partition(".")
    if layer not in I.FEATURE_LAYERS:
        st.session_state[f"_{PAGE}.select_note"] = f"{layer} has no channels of its own to inspect; nothing changed."
        return
    st.session_state.pop(f"_{PAGE}.select_note", None)
    st.session_state[SELECT_KEYS["layer"]] = layer
    st.session_state[SELECT_KEYS["branch"]] = branch or "all"
    st.session_state[SELECT_KEYS["cam_layer"]] = layer
    st.session_state[SELECT_KEYS["fv_layer"]] = layer
    if layer in I.BLOCKS:
        st.session_state[SELECT_KEYS["ko_block"]] = layer
        st.session_state[SELECT_KEYS["block"]] = layer
        if branch:
            st.session_state[SELECT_KEYS["ko_branch"]] = branch


# --- the photo every tab works on (above the tabs: an upload must survive switching tabs) --------------------
photo_left, photo_right = st.columns([1, 1], vertical_alignment="center")
with photo_left:
    loaded = ui.image_input(PAGE, min_side=32)
photo_right.caption(
    f"Working on **{_md(loaded.name)}** ({loaded.size[0]}×{loaded.size[1]} px): *Your photo*, the *Overview* and "
    "*Grad-CAM* all use it."
)
img_digest = hashlib.sha256(loaded.image.tobytes() + repr(loaded.image.size).encode()).hexdigest()[:16]
pre = _preprocess(img_digest, loaded.image)

# --- tabs: only the open one is built and sent; the active one is kept in the link (?tab=) ------------------------
(tab_img, tab_over, tab_block, tab_arch, tab_paper, tab_cam, tab_fv), active = ui.linked_tabs(TABS, f"{PAGE}.tab")
# A closed tab's settings come from the session (or the link) for the link and the other tabs; its widgets
# get them back when it opens (ui.kept, ui.sticky).
image_values = ui.kept(IMAGE_SPECS, PAGE)
arch_values = ui.kept(I.SPECS[1:], f"{PAGE}.block")
arch_size = ui.kept(I.SPECS[:1], f"{PAGE}.arch")["input_size"]
cam_values = ui.kept(CAM_SPECS, f"{PAGE}.cam")
fv_values = ui.kept(FV_SPECS, f"{PAGE}.fv")
layer = image_values["layer"]
branch = image_values["branch"] if layer in I.BLOCKS else "all"
sel = layer if branch == "all" else f"{layer}.{branch}"

# --- on your image ---------------------------------------------------------------------------------------------
if tab_img.open:
    with tab_img:
        left, right = st.columns([1, 2])
        with left:
            image_values = ui.controls(IMAGE_SPECS, page=PAGE)
        layer = image_values["layer"]
        branch = image_values["branch"] if layer in I.BLOCKS else "all"
        if layer not in I.BLOCKS and image_values["branch"] != "all":
            left.caption(f"{layer} is a plain convolution: no branches, showing its whole output.")
        insp = _inspect(img_digest, winfo.key, device, layer, branch, image_values["stage"], model, pre.X)
        with right:
            st.subheader("Preprocessing")
            c1, c2, c3 = st.columns(3)
            c1.image(loaded.image, caption=f"your photo {loaded.size[0]}×{loaded.size[1]}", width="stretch")
            c2.image(
                pre.resized,
                caption=f"resize shorter side → {II.RESIZE}: {pre.resized.shape[1]}×{pre.resized.shape[0]}",
                width="stretch",
            )
            c3.image(pre.crop, caption=f"centre crop {II.CROP}×{II.CROP} — what the network sees", width="stretch")
            st.caption(
                "Then pixels/255 → [0, 1], normalise per channel with ImageNet mean (0.485, 0.456, 0.406) and std "
                "(0.229, 0.224, 0.225); inside the model `transform_input=True` turns that back into (pixel − 0.5)/0.5, "
                "the range Google's original weights expect. Value ranges: "
                + "; ".join(f"{k}: {lo:.2f}…{hi:.2f}" for k, (lo, hi) in pre.stats.items())
            )
            st.subheader("Top-5 predictions")
            caveat(
                "these five classes are what random (or untrained-looking) weights output, not what the photo shows."
            )
            st.dataframe(
                [{"class": p.name, "probability": p.prob, "ImageNet index": p.index} for p in insp.top],
                column_config={
                    "probability": st.column_config.ProgressColumn(format="percent", min_value=0.0, max_value=1.0)
                },
                hide_index=True,
            )
        sel = layer if branch == "all" else f"{layer}.{branch}"
        h, w = insp.maps.shape[1:]
        st.subheader(f"Strongest channels of {sel} ({'after' if insp.stage == 'post' else 'before'} ReLU, {h}×{w})")
        st.caption(
            "Ranked by energy (mean of a²). Each map is scaled on its own. Channel numbers are within the selection "
            "and, in brackets, in the block's concatenated output. The **theoretical receptive field** of one cell is "
            f"{insp.field.size}×{insp.field.size} input pixels (every pixel that *can* affect it; "
            + ("larger than the 224×224 crop, so it is clipped to the image; " if insp.field.size > II.CROP else "")
            + "the *effective* field is centre-weighted: pixels near its centre matter far more than those at its edge). "
            f"Neighbouring cells are {insp.field.jump} px apart."
        )
        tiles = colorize(insp.maps)
        st.image(
            tiles,
            caption=[f"ch {c} [{g}]" for c, g in zip(insp.channels, insp.concat_channels, strict=True)],
            width=110,
        )
        o1, o2 = st.columns(2)
        with o1:
            # one selectbox per selection: its options are "the k-th strongest channel of *this* selection", so a
            # widget kept across layers would keep showing the previous layer's channel label
            pick = ui.sticky(
                st.selectbox,
                "Map to overlay",
                range(len(insp.channels)),
                key=f"{PAGE}.pick.{sel}.{insp.stage}",
                format_func=lambda i: f"channel {insp.channels[i]} [{insp.concat_channels[i]}]",
            )
            alpha = ui.sticky(st.slider, "Overlay opacity", 0.0, 1.0, 0.55, key=f"{PAGE}.alpha")
            st.image(
                II.overlay(pre.crop, insp.maps[pick], alpha=alpha),
                caption=f"channel {insp.channels[pick]} over the 224×224 crop",
                width="stretch",
            )
        with o2:
            row_key, col_key = f"{PAGE}.cell_row", f"{PAGE}.cell_col"
            for key, n in ((row_key, h), (col_key, w)):
                ui.restore(key)  # the tab was closed
                if key not in st.session_state or st.session_state[key] >= n:
                    st.session_state[key] = n // 2

            def _on_click() -> None:
                points = st.session_state[f"{PAGE}.map_click"].selection.get("points", [])
                if points:
                    st.session_state[col_key] = round(points[0]["x"])
                    st.session_state[row_key] = round(points[0]["y"])

            fig = heatmap(
                insp.maps[pick],
                f"channel {insp.channels[pick]} — click a cell",
                x_title="column",
                y_title="row",
                colorbar_title="",
                height=330,
            )
            fig.update_traces(colorbar={"thickness": 10})  # a narrow bar leaves the map room in a half-width column
            import plotly.graph_objects as go

            fig.add_trace(
                go.Scatter(
                    x=[j for _ in range(h) for j in range(w)],
                    y=[i for i in range(h) for _ in range(w)],
                    mode="markers",
                    marker={"size": 14, "opacity": 0.01},
                    showlegend=False,
                    hovertemplate="row %{y}, col %{x}<extra></extra>",
                )
            )
            st.plotly_chart(fig, key=f"{PAGE}.map_click", on_select=_on_click, selection_mode="points")
            r1, r2 = st.columns(2)
            i = r1.slider("cell row", 0, h - 1, key=row_key) if h > 1 else 0
            j = r2.slider("cell column", 0, w - 1, key=col_key) if w > 1 else 0
            st.session_state[f"_keep.{row_key}"], st.session_state[f"_keep.{col_key}"] = i, j
            st.image(
                II.draw_field(pre.crop, insp.field, i, j),
                caption=f"theoretical receptive field of cell ({i}, {j}): {insp.field.size}×{insp.field.size} px, "
                "clipped to the crop; the effective field is centre-weighted",
                width="stretch",
            )
        st.plotly_chart(I.energy_chart(insp.energy, insp.widths), key=f"{PAGE}.energy")
        st.caption(
            "Bars: each branch's share of Σa² over its output (after ReLU). Black ticks: where the bar would end if "
            "energy were proportional to the number of channels."
        )
        ui.show_code(II.snippet(layer if layer in I.BLOCKS else "inception4c", seed), filename="googlenet_top5.py")

# --- overview ---------------------------------------------------------------------------------------------------
if tab_over.open:
    with tab_over:
        ov = _overview(img_digest, winfo.key, device, model, pre.X, pre.crop)
        selected = sel  # a click sets the layer/branch widgets, so the current selection is the clicked one

        def _on_overview_click() -> None:
            points = st.session_state[f"{PAGE}.overview"].selection.get("points", [])
            if points and points[0].get("curve_number", 0) == 0:
                k = int(points[0]["point_index"])
                if 0 <= k < len(ov.targets):
                    select_target(ov.targets[k])

        st.caption(
            f"Photo: **{_md(loaded.name)}** (change it above the tabs). Each column is one stage, left to right "
            "and then on the second row: a few of its strongest channels (or, for an inception block, the strongest "
            "channel of each of its four branches) and the tensor shape under it. **Click a thumbnail** to select that "
            "layer or branch in the other tabs."
        )
        caveat("the maps come from random filters and the class under *fc* means nothing.")
        st.plotly_chart(
            OV.overview_figure(ov, selected=selected),
            key=f"{PAGE}.overview",
            on_select=_on_overview_click,
            selection_mode="points",
            config={"displayModeBar": False},
        )
        note = st.session_state.get(f"_{PAGE}.select_note")
        if note:
            st.info(note, icon=":material/info:")
        else:
            st.caption(
                f"Selected: **{selected}** — shown in *Your photo*; Grad-CAM, the knock-out, *Block* and "
                "feature visualisation follow where they can."
            )

# --- inside a block -------------------------------------------------------------------------------------------
if tab_block.open:
    with tab_block:
        arch_values = ui.controls(I.SPECS[1:], page=f"{PAGE}.block")
        size = int(arch_size) if int(arch_size) >= I.MIN_SIZE else 224
        anat = I.block_anatomy(arch_values["block"], size)
        st.plotly_chart(I.block_figure(anat), key=f"{PAGE}.blockfig")
        st.dataframe(
            [
                {
                    "branch": b.name,
                    "what": b.label,
                    "layers": b.layers,
                    "channels": b.channels,
                    "output channels": f"{b.channel_range[0]}…{b.channel_range[1] - 1}",
                    "params": b.params,
                    "MACs": b.macs,
                }
                for b in anat.branches
            ]
            + [
                {
                    "branch": "block",
                    "what": "concat",
                    "layers": "",
                    "channels": anat.out_channels,
                    "output channels": f"0…{anat.out_channels - 1}",
                    "params": anat.params,
                    "MACs": anat.macs,
                }
            ],
            hide_index=True,
            column_config={c: st.column_config.NumberColumn(format="localized") for c in ("params", "MACs")},
        )
        sp_params, sp_macs = anat.saving_paper
        tv_params, tv_macs = anat.saving_tv
        m1, m2, m3 = st.columns(3)
        m1.metric(
            "block params", f"{anat.params:,}", help="This block as torchvision builds it (3×3 third branch, BN)."
        )
        m2.metric(
            "naive ÷ reduced, 5×5",
            f"×{sp_macs:.2f} MACs",
            help="Both blocks with the paper's 5×5 third branch: the naive block (Fig. 2a) against the block with 1×1 "
            "reductions (Fig. 2b).",
        )
        m3.metric(
            "naive ÷ reduced, 3×3",
            f"×{tv_macs:.2f} MACs",
            help="Both blocks with torchvision's 3×3 third branch: the naive block against torchvision's real block.",
        )
        st.markdown(
            f"**The 1×1 reductions are the paper's key idea.** A *naive* block with the same widths — a 1×1, a 3×3 and "
            f"a 5×5 convolution straight on all {anat.in_channels} input channels, plus an unprojected max-pool — needs "
            f"{anat.naive.params:,} parameters and {I.format_count(anat.naive.macs)} multiply-adds. Compared like with "
            f"like: the paper's block with reductions and a real 5×5 needs {anat.paper_params:,} and "
            f"{I.format_count(anat.paper_macs)} (×{sp_macs:.2f} fewer multiply-adds). With torchvision's 3×3 in place "
            f"of the 5×5 on both sides, the naive block needs {anat.naive_tv.params:,} and "
            f"{I.format_count(anat.naive_tv.macs)}, ×{tv_macs:.2f} this block's {I.format_count(anat.macs)}. Either "
            f"way the naive output would grow to {anat.naive.out_channels} channels (the pool passes all "
            f"{anat.in_channels} through), making the next block dearer still."
        )

# --- architecture ---------------------------------------------------------------------------------------------
if tab_arch.open:
    with tab_arch:
        arch_size = ui.controls(I.SPECS[:1], page=f"{PAGE}.arch")["input_size"]
        table = _table(arch_size)
        if not table.ok:
            st.error(f"**{arch_size}×{arch_size} is too small.** {table.problem}", icon=":material/block:")
        a1, a2, a3, a4 = st.columns(4)
        a1.metric("parameters (without aux heads)", f"{table.total_params:,}")
        a2.metric(f"multiply-adds at {arch_size}²", f"{table.total_macs / 1e9:.3f} G" if table.ok else "—")
        a3.metric(
            "activation memory",
            I.format_bytes(table.total_act_bytes) if table.ok else "—",
            help="Sum of every layer's output for one image in float32, as torchinfo's forward-pass size counts it "
            "(what training keeps for the backward pass; inference frees most as it goes). Intermediates inside a "
            "block — the 1×1 reductions' outputs — are not in it.",
        )
        a4.metric("layers with weights (deepest path)", "22")
        st.dataframe(
            I.table_records(table),
            hide_index=True,
            height=560,
            column_config={c: st.column_config.NumberColumn(format="localized") for c in ("params", "MACs")},
        )
        beyond = I.first_field_beyond_input(table)
        st.caption(
            "MACs count convolutions and the final linear layer (BN, ReLU and pooling are cheap element-wise work), as "
            "torchvision's `_ops` and `torch.utils.flop_counter` (FLOPs = 2 × MACs) do. Activation memory: the layer's "
            "output for one image in float32. **Theoretical receptive field**: the input square that *can* affect one "
            "output cell (for a block the widest branch decides); "
            + (
                f"from {beyond.name} on ({beyond.rf}×{beyond.rf}) it is larger than the {arch_size}×{arch_size} input"
                if beyond is not None
                else f"no layer's field is larger than the {arch_size}×{arch_size} input"
            )
            + ", and the *effective* field is centre-weighted — pixels near the centre matter far more. "
            "Aux classifiers (AUX) run only in training."
        )
        if table.rows:
            st.plotly_chart(I.cost_chart(table), key=f"{PAGE}.cost")

# --- paper vs torchvision -------------------------------------------------------------------------------------
if tab_paper.open:
    with tab_paper:
        paper_widths, paper_params, paper_macs = IP.paper_records(I.paper_vs_torchvision())
        fit = IP.k_fit()
        st.markdown("**Widths per block** (#1×1 · #3×3 reduce · #3×3 · #5×5 reduce · #5×5 · pool proj)")
        st.dataframe(paper_widths, hide_index=True)
        st.markdown("**Parameters per block** (conv weights; torchvision adds BN, 2 per channel, and drops the biases)")
        st.dataframe(paper_params, hide_index=True)
        st.markdown("**Multiply-adds per block at 224×224**")
        st.dataframe(paper_macs, hide_index=True)
        st.caption(
            "Computed = from Table 1's widths (#1×1 · #3×3 reduce · #3×3 · #5×5 reduce · #5×5 · pool proj) with a real "
            "5×5 kernel. torchvision's widths are identical; its counts differ because branch3 uses 3×3 and every conv "
            'has BN. Table 1 prints params in "K" without defining it: reading K as 1024 is **our inference** — the '
            f"computed counts are a median {fit[1024]:.1%} from the printed ones with K = 1024 and {fit[1000]:.1%} with "
            "K = 1000. A few printed numbers do not follow from the table's own widths (e.g. 4c, 5a)."
        )
        st.subheader("Every deviation, flagged")
        for d in IP.deviations():
            st.markdown(
                f"- :red-badge[{d.what}] **paper:** {d.paper} · **torchvision:** {d.torchvision} — {d.consequence}"
                + (f" ({d.reference})" if d.reference else "")
            )

# --- Grad-CAM & knock-out -------------------------------------------------------------------------------------
if tab_cam.open:
    with tab_cam:
        caveat(
            "Grad-CAM shows where the evidence for a class came from *in this network*; with untrained weights the "
            "class is arbitrary and the heat map explains nothing about the photo, however confident it looks."
        )
        c_layer, c_class = st.columns(2)  # what Grad-CAM explains, side by side; the knock-out's own pair below
        cam_values = ui.controls(CAM_SPECS[:1], page=f"{PAGE}.cam", container=c_layer)
        names = _categories()
        insp = _inspect(img_digest, winfo.key, device, layer, branch, image_values["stage"], model, pre.X)  # cached
        top_rank = {p.index: k for k, p in enumerate(insp.top)}
        # the top-5 first, then every other class by name; typing in the box searches all 1000
        class_options = [p.index for p in insp.top] + sorted(
            (i for i in range(len(names)) if i not in top_rank), key=lambda i: names[i].lower()
        )
        target = ui.sticky(
            c_class.selectbox,
            "Class to explain (type to search all 1000)",
            class_options,
            key=f"{PAGE}.cam_class.{img_digest}.{winfo.key}",  # a new photo or new weights start at their top-1
            format_func=lambda i: (
                f"{names[i]} (top-{top_rank[i] + 1}, {insp.top[top_rank[i]].prob:.1%})"
                if i in top_rank
                else f"{names[i]} (#{i})"
            ),
        )
        cam = _cam(img_digest, winfo.key, device, cam_values["cam_layer"], int(target), model, pre.X)
        g1, g2 = st.columns(2)
        g1.image(
            II.overlay(pre.crop, cam.cam, alpha=0.5),
            width="stretch",
            caption=f"Grad-CAM at {cam.layer} for “{names[cam.class_index]}” (P = {cam.class_prob:.2%})",
        )
        cam_fig = heatmap(
            cam.coarse,
            f"ReLU(Σ αₖ Aₖ) at {cam.layer} ({cam.coarse.shape[0]}×{cam.coarse.shape[1]})",
            x_title="column",
            y_title="row",
            colorbar_title="",
            height=330,
        )
        cam_fig.update_traces(colorbar={"thickness": 10})
        g2.plotly_chart(cam_fig, key=f"{PAGE}.camfig")
        st.caption(f"αₖ = mean gradient of the class logit over channel k's map; took {cam.seconds * 1000:.0f} ms.")
        st.subheader("Branch knock-out")
        caveat("a branch that matters to random weights tells nothing about what GoogLeNet learned.")
        c_block, c_branch = st.columns(2)
        cam_values |= ui.controls(CAM_SPECS[1:2], page=f"{PAGE}.cam", container=c_block)
        cam_values |= ui.controls(CAM_SPECS[2:], page=f"{PAGE}.cam", container=c_branch)
        ko = _knock(img_digest, winfo.key, device, cam_values["ko_block"], cam_values["ko_branch"], model, pre.X)
        k1, k2 = st.columns(2)
        k1.markdown("**before**")
        k1.dataframe([{"class": p.name, "probability": f"{p.prob:.2%}"} for p in ko.before], hide_index=True)
        k2.markdown(f"**{ko.block}.{ko.branch} zeroed**")
        k2.dataframe([{"class": p.name, "probability": f"{p.prob:.2%}"} for p in ko.after], hide_index=True)
        st.caption(
            f"The original top class goes from {ko.top1_prob_before:.2%} to {ko.top1_prob_after:.2%}; "
            f"KL(before‖after) = {ko.kl:.3f} nats. The branch is zeroed inside the forward pass; the model is unchanged."
        )
        if st.button("Rank all 36 branches (36 forward passes)", key=f"{PAGE}.ko_all"):
            st.session_state[f"{PAGE}.ko_all_key"] = (img_digest, winfo.key, device)
            with ui.heavy_job("Lab 6: rank all 36 branches", key=f"{PAGE}.ko_all"):  # fills the cache in turn
                _knock_all(img_digest, winfo.key, device, model, pre.X)
        if st.session_state.get(f"{PAGE}.ko_all_key") == (img_digest, winfo.key, device):
            grid = _knock_all(img_digest, winfo.key, device, model, pre.X)
            st.plotly_chart(I.knockout_figure(grid, insp.top[0].name, insp.top[0].prob), key=f"{PAGE}.koall")

# --- feature visualisation --------------------------------------------------------------------------------------
if tab_fv.open:
    with tab_fv:
        caveat("the image shows what *random* filters respond to, not a feature GoogLeNet learned from ImageNet.")
        f1, f2, f3 = st.columns(3)  # six settings in two rows, not six full-width rows
        fv_values = ui.controls(FV_SPECS[:1], page=f"{PAGE}.fv", container=f1)
        n_channels = next(r.shape[0] for r in _table(224).rows if r.name == fv_values["fv_layer"])
        ui.restore(f"{PAGE}.fv_channel")  # the tab was closed
        if st.session_state.get(f"{PAGE}.fv_channel", 0) >= n_channels:  # a narrower layer was chosen
            st.session_state[f"{PAGE}.fv_channel"] = 0
        channel = f1.number_input(f"Channel (0…{n_channels - 1})", 0, n_channels - 1, 0, key=f"{PAGE}.fv_channel")
        st.session_state[f"_keep.{PAGE}.fv_channel"] = channel
        fv_values |= ui.controls(FV_SPECS[1:3], page=f"{PAGE}.fv", container=f2)
        fv_values |= ui.controls(FV_SPECS[3:], page=f"{PAGE}.fv", container=f3)
        cfg = FV.FeatureVisConfig(
            layer=fv_values["fv_layer"],
            channel=int(channel),
            seed=seed,
            **{k: v for k, v in fv_values.items() if k.startswith("fv_") and k != "fv_layer"},
        )
        st.caption(
            "Gradient ascent on the pixels to maximise the channel's mean pre-ReLU activation, with random jitter. "
            "Click any button (e.g. *Stop*) to cancel; the last preview stays, marked as unfinished."
        )
        with st.container(horizontal=True):
            run = st.button("Visualise this channel", key=f"{PAGE}.fv_run", type="primary")
            st.button("Stop", key=f"{PAGE}.fv_stop")
        fv_key, pending_key = f"{PAGE}.fv_result", f"{PAGE}.fv_pending"
        if run:
            # forget the previous result first: if this run is stopped, nothing older may pass for its result
            st.session_state[fv_key] = None
            st.session_state[pending_key] = cfg
            bar = st.progress(0.0, text="Optimising…")

            def _progress(p) -> None:
                bar.progress(
                    min(1.0, p.fraction),
                    text=f"step {p.step}/{p.num_steps} · activation "
                    f"{p.metrics.get('activation', 0):.3f} · {p.elapsed:.1f} s",
                )

            def _keep_preview(partial: FV.FeatureVis) -> None:
                st.session_state[fv_key] = partial

            steps = int(ui.apply_cap("inception.featurevis_steps", cfg.fv_steps))  # a public server caps the steps
            cfg = dataclasses.replace(cfg, fv_steps=steps)
            st.session_state[pending_key] = cfg
            with ui.heavy_job("Lab 6: feature visualisation", key=f"{PAGE}.fv") as ticket:
                result = FV.visualise_channel(
                    model,
                    cfg,
                    device=device,
                    on_progress=_progress,
                    should_stop=ticket.should_stop,  # a pause point; a newer heavy job of this session replaces this one
                    on_preview=_keep_preview,
                    preview_every=10,
                )
            st.session_state[fv_key] = result
            st.session_state.pop(pending_key, None)
            bar.empty()
        result = st.session_state.get(fv_key)
        pending = st.session_state.get(pending_key)
        if result is None and pending is not None:
            st.warning(
                f"The last run ({pending.layer} channel {pending.channel}) was stopped before its first preview; "
                "there is no image to show. Press *Visualise this channel* to run it again.",
                icon=":material/stop_circle:",
            )
        if result is not None:
            done, total = result.history.completed_steps, result.config.fv_steps
            if result.partial:
                st.warning(
                    f"**Stopped after {done} of {total} steps.** The image below is the last preview of that unfinished "
                    "run, not a finished visualisation.",
                    icon=":material/stop_circle:",
                )
            if result.config != cfg:
                c = result.config
                st.caption(
                    f"Shown: the result for **earlier settings** ({c.layer} channel {c.channel}, {c.fv_steps} steps, "
                    f"{c.fv_size} px); press *Visualise this channel* for the current ones."
                )
            f1, f2 = st.columns(2)
            status = f"stopped at step {done}/{total} — partial" if result.partial else f"finished, {done} steps"
            f1.image(
                result.image, caption=f"{result.config.layer} channel {result.config.channel} ({status})", width=300
            )
            h_ = result.history
            f2.plotly_chart(
                line_chart(
                    {"activation": (h_.steps, h_.metrics.get("activation", []))},
                    "Mean pre-ReLU activation of the channel",
                    y_title="activation",
                ),
                key=f"{PAGE}.fvcurve",
            )

ui.sync_url(
    ALL_SPECS,
    {**image_values, **arch_values, "input_size": arch_size, **cam_values, **fv_values},
    extra={"tab": active} if active != "photo" else None,
)
