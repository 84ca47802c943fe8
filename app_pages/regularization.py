"""Lab 4 — Dropout & batch norm: regularisation and normalisation trained side by side."""

from __future__ import annotations

import streamlit as st

import ui
from lab import batchnorm, digits
from lab import dropout as drop
from lab import regularization as reg
from lab.params import make_config
from ui.catalog import LABS

PAGE = "regularization"
RESULT_KEY = f"{PAGE}.result"

lab_page = next(p for p in LABS if p.url_path == PAGE)
info = ui.page_header(
    f"{lab_page.number}. {lab_page.title}",
    "**Hardcore overfitting:** a 2×128 MLP has ~26,000 weights, a few hundred digits cannot pin them down — it "
    "memorises the training set (≈100 % train accuracy) and validation lags behind. Train several "
    "configurations of the *same* network (same data, same initial weights, same mini-batches) and compare "
    "what dropout, batch norm, L1/L2, layer norm, weight norm and DropConnect do — on an MLP or a small CNN.",
)
device = info.device
seed = ui.current_seed()


def apply_preset(name: str) -> None:
    """Button callback (runs before the widgets are drawn): load a preset into the sidebar widgets."""
    for key, value in reg.PRESETS[name].items():
        st.session_state[f"{PAGE}.{key}"] = value
    st.session_state[f"{PAGE}.autorun"] = True


with st.sidebar:
    st.markdown("### Lab 4 settings")
    values = ui.controls(reg.SPECS, page=PAGE)
ui.sync_url(reg.SPECS, values)
if not values["variants"]:
    st.warning("Pick at least one configuration in the sidebar; using the baseline.")
    values["variants"] = ("baseline",)
config = make_config(reg.CompareConfig, values, seed=seed)


@st.cache_data(max_entries=8, show_spinner=False)
def load_split(dataset: str, n_train: int, n_val: int, seed: int) -> digits.Split:
    return digits.make_split(dataset, n_train, n_val, seed)


try:
    split = load_split(config.dataset, config.n_train, config.n_val, seed)
except digits.DataUnavailableError as err:
    st.warning(str(err), icon=":material/cloud_off:")
    config = make_config(reg.CompareConfig, {**values, "dataset": "digits"}, seed=seed)
    split = load_split("digits", config.n_train, config.n_val, seed)
if config.model == "cnn" and not split.image_side:
    st.info("The 2D synthetic set has no image to convolve: it is trained with the **MLP**.", icon=":material/info:")
    config = make_config(reg.CompareConfig, {**values, "dataset": split.name, "model": "mlp"}, seed=seed)
st.caption(
    f"Data: **{digits.LABELS[split.name]}** — {len(split.X_train)} training samples, {len(split.X_val)} held-out "
    f"validation samples, {split.num_features} inputs, {split.num_classes} classes."
)

# --- train -----------------------------------------------------------------------------------------
left, right = st.columns([1, 3])
start = left.button("Train & compare", type="primary", key=f"{PAGE}.train", icon=":material/play_arrow:")
left.button("Stop", key=f"{PAGE}.stop", icon=":material/stop:", help="Stops the run after the current epoch.")
if config.model == "cnn":
    side = split.image_side
    arch = f"CNN {side}×{side} → {config.depth} × (conv 3×3, {config.channels} ch → act → pool) → {split.num_classes}"
else:
    arch = f"MLP {split.num_features}-" + "-".join([str(config.width)] * config.depth) + f"-{split.num_classes}"
right.markdown(
    f"**{len(config.variants)} configuration(s) × {config.num_seeds} seed(s) × {config.num_epochs} epochs** · "
    f"{arch}, {config.activation}, {config.optimizer} lr {config.lr:g}, batch {config.batch_size}."
)
right.button(
    "Show me overfitting, then fix it with dropout",
    key=f"{PAGE}.preset",
    icon=":material/auto_fix_high:",
    on_click=apply_preset,
    args=("overfit_dropout",),
    help="Loads a wide MLP trained for 100 epochs on 300 digits, without and with dropout, and trains it.",
)
if st.session_state.pop(f"{PAGE}.autorun", False):
    start = True
    st.info(
        "**Preset loaded:** a 2 × 256 MLP trained 100 epochs with Adam on 300 digits memorises them — the "
        "baseline's train loss (solid) falls to ≈ 0 while its validation loss (dashed) stalls and creeps up. The "
        "same network with dropout (p = 0.5 on hidden units, 0.1 on pixels) ends with a lower validation loss and "
        "a narrower gap: compare the loss gaps above the curves (≈ 0.20 → 0.14 with seed 0).",
        icon=":material/school:",
    )

if start:
    bar = st.progress(0.0, text="Training…")
    live_chart = st.empty()

    def on_epoch(comparison: reg.Comparison, progress) -> None:
        st.session_state[RESULT_KEY] = comparison  # partial results survive a click on Stop
        bar.progress(
            min(1.0, progress.fraction),
            text=f"Epoch {progress.step}/{progress.num_steps} · {progress.elapsed:.1f} s",
        )
        # a key per epoch: the last live figure equals the Curves tab's one (duplicate-ID error otherwise)
        live_chart.plotly_chart(reg.curves_figure(comparison, "acc"), key=f"{PAGE}.live.{progress.step}")

    result = reg.compare(config, split, device=device, on_epoch=on_epoch)
    st.session_state[RESULT_KEY] = result
    bar.empty()
    live_chart.empty()

comparison: reg.Comparison | None = st.session_state.get(RESULT_KEY)
if comparison is not None and comparison.status == "running":  # the script was stopped mid-run
    reg.finalize_partial(comparison)

tabs = st.tabs(
    [
        "Curves",
        "Table & export",
        "Activations",
        "Gradients",
        "BN statistics",
        "Dropout",
        "Bias before BN",
        "Vanishing gradients",
    ]
)

with tabs[0]:
    if comparison is None:
        st.info("Press **Train & compare** to train the configurations chosen in the sidebar side by side.")
    else:
        if comparison.history is not None and comparison.history.status != "finished":
            st.warning(comparison.history.reason or "The run did not finish.")
        diverged = [r.label for r in comparison.runs if r.status == "diverged"]
        if diverged:
            st.error(
                f"Diverged (loss became NaN/inf — learning rate too high for them): {', '.join(diverged)}. "
                "Lower the learning rate and train again."
            )
        if comparison.config != config:
            st.caption("The settings changed since this run — press **Train & compare** to update.")
        shade = "gap"
        if comparison.config.num_seeds > 1:
            shade = st.radio(
                "Shading",
                ["gap", "spread"],
                horizontal=True,
                key=f"{PAGE}.shade",
                format_func=lambda s: {"gap": "generalisation gap", "spread": "mean ± std over seeds"}[s],
            )
        rows = reg.summary(comparison)
        base_row = next((r for r in rows if r["configuration"] == reg.VARIANTS["baseline"].label), None)
        cols = st.columns(min(len(rows), 5))
        for col, row in zip(cols, rows[: len(cols)], strict=True):  # the gaps at the end, against the baseline
            delta = None
            if base_row is not None and row is not base_row:
                delta = f"{row['loss gap (val − train)'] - base_row['loss gap (val − train)']:+.3f} vs baseline"
            col.metric(
                f"{row['configuration']}: loss gap",
                f"{row['loss gap (val − train)']:.3f}",
                delta,
                delta_color="inverse",
                help=f"Final validation − train cross-entropy. Accuracy gap {row['gap (train − val) %']:.1f} points, "
                f"validation accuracy {row['final val acc %']:.1f} %.",
            )
        st.plotly_chart(reg.curves_figure(comparison, "acc", shade=shade))
        st.plotly_chart(reg.curves_figure(comparison, "loss", shade=shade))
        st.markdown(
            "Train curves are measured in **eval mode** (dropout off, BN with running statistics) on the whole "
            "training subset, so the shaded area is the true generalisation gap. A validation *loss* that rises "
            "while the train loss keeps falling is overfitting. L2 is the classic penalty λ₂·‖W‖² (the optimiser's "
            "`weight_decay`, on Linear weights only); under Adam its effect is weaker than under SGD + momentum."
        )

with tabs[1]:
    if comparison is None:
        st.info("No results yet.")
    else:
        st.dataframe(reg.summary(comparison), hide_index=True)
        st.download_button(
            "Download curves (CSV)",
            reg.curves_csv(comparison),
            file_name="regularization_curves.csv",
            mime="text/csv",
            key=f"{PAGE}.csv",
            icon=":material/download:",
        )
    ui.show_code(reg.snippet(config), filename="regularization.py")
    if split.name != "digits" or config.model == "cnn":
        st.caption(
            "The snippet trains the MLP on the 8×8 digits; the page's other datasets and the CNN work the same way."
        )

with tabs[2]:
    if comparison is None:
        st.info("No results yet.")
    else:
        keys = list(comparison.by_variant())
        st.markdown(
            "Quantile bands of every hidden layer's **pre-activation** (the input of the nonlinearity) on 128 "
            "validation samples after each epoch. Without normalisation the distribution drifts as the layers "
            "below change (*internal covariate shift*); BN/LN keep it centred with a stable spread."
        )
        cols = st.columns(2)
        normed = [k for k in keys if reg.VARIANTS[k].batch_norm or reg.VARIANTS[k].layer_norm]
        second = normed[0] if normed and normed[0] != keys[0] else keys[min(1, len(keys) - 1)]
        for i, (col, default) in enumerate(zip(cols, (keys[0], second), strict=True)):
            key = col.selectbox(
                "Configuration",
                keys,
                index=keys.index(default),
                key=f"{PAGE}.act.{i}",
                format_func=lambda k: reg.VARIANTS[k].label,
            )
            # a key per column: both boxes may show the same configuration (one configuration: always)
            col.plotly_chart(reg.activation_figure(comparison.by_variant()[key][0]), key=f"{PAGE}.act.fig.{i}")

with tabs[3]:
    if comparison is None:
        st.info("No results yet.")
    else:
        last = max((len(r.grad_norms) for r in comparison.runs), default=0)
        if last == 0:
            st.info("No finished epoch yet.")
        else:
            epoch = st.slider("Epoch", 1, last, last, key=f"{PAGE}.grad.epoch") if last > 1 else 1
            st.plotly_chart(reg.grad_norm_figure(comparison, epoch))
            st.caption(
                "‖∂L/∂W‖ of each layer on the last mini-batch of the chosen epoch (mean over seeds). With deep "
                "sigmoid networks the input-side layers get far smaller gradients — see *Vanishing gradients*."
            )

with tabs[4]:
    st.info(batchnorm.MOMENTUM_CONVENTION, icon=":material/functions:")
    bn_runs = [r for r in (comparison.runs if comparison else []) if r.bn_batch is not None and len(r.bn_batch)]
    if not bn_runs:
        st.info("Train a configuration with batch norm (e.g. **+ Batch norm**) to see its running statistics.")
    else:
        c1, c2, c3 = st.columns(3)
        run_index = c1.selectbox(
            "Run",
            range(len(bn_runs)),
            key=f"{PAGE}.bn.run",
            format_func=lambda i: f"{bn_runs[i].label} · seed {bn_runs[i].seed}",
        )
        unit = c2.slider("Unit (CNN: channel) of layer 1", 0, reg.BN_TRACE_UNITS - 1, 0, key=f"{PAGE}.bn.unit")
        alpha = c3.slider(
            "α (momentum) to replay",
            0.01,
            1.0,
            float(comparison.config.bn_momentum),
            0.01,
            key=f"{PAGE}.bn.alpha",
            help="Replays μ := α·mean_batch + (1 − α)·μ over the recorded batch statistics.",
        )
        st.plotly_chart(reg.bn_stats_figure(bn_runs[run_index], unit, alpha, comparison.config.bn_momentum))
        st.markdown(
            "Grey dots: the mean / unbiased variance of this unit in each mini-batch (what BN normalises with in "
            "training). Blue: the running value (used in eval mode). Black diamonds: `nn.BatchNorm1d`'s own "
            "buffers read at the end of each epoch — they sit on the blue line. A small α averages over many "
            "batches (smooth, but lags while the weights change); α = 1 just keeps the last batch."
        )

with tabs[5]:
    c1, c2 = st.columns([1, 2])
    p = c1.slider("Drop probability p", 0.0, 0.9, float(config.dropout_p), 0.05, key=f"{PAGE}.drop.p")
    batch0 = c1.number_input("First batch", 0, 10_000, 0, key=f"{PAGE}.drop.batch")
    frac, mean = drop.dropout_stats(p, seed=seed)
    c1.metric("Fraction zeroed (100,000 units)", f"{frac:.3f}", help=f"Expected: p = {p:g}")
    c1.metric("Mean output for input 1", f"{mean:.3f}", help="Inverted dropout keeps the expectation: ≈ 1")
    c2.plotly_chart(drop.train_eval_figure(drop.train_vs_eval(p, seed=seed + int(batch0))))
    demo = drop.mask_demo((6, 8, 8, 3), p, num_batches=3, seed=seed * 10_007 + int(batch0))
    cols = st.columns(3)
    for i, (col, masks) in enumerate(zip(cols, demo.masks, strict=True)):
        fig = drop.network_figure(demo.layer_sizes, masks, f"Batch {int(batch0) + i + 1} (train mode)")
        col.plotly_chart(fig.update_layout(showlegend=i == 0))
    st.markdown(
        f"Each mini-batch trains a different thinned network: a fresh mask keeps every hidden unit with "
        f"probability 1 − p and multiplies the kept ones by **1/(1 − p) = {1 / (1 - p):.3g}** so the expected "
        "activation is unchanged. In **eval mode** dropout is the identity — all units, no scaling "
        "(`model.eval()`). DropConnect drops individual weights (links) instead of units."
    )


@st.cache_data(max_entries=8, show_spinner=False)
def bias_experiment(dataset: str, n_train: int, n_val: int, seed: int, device: str) -> batchnorm.BiasExperiment:
    data = digits.make_split(dataset, n_train, n_val, seed)
    return batchnorm.bias_before_bn(
        data.X_train, data.y_train, data.X_val, num_classes=data.num_classes, seed=seed, device=device
    )


with tabs[6]:
    exp = bias_experiment(split.name, config.n_train, config.n_val, seed, device)
    st.plotly_chart(reg.bias_figure(exp))
    st.markdown(
        "Linear(bias=True) → BN → ReLU → Linear vs the same network without the first bias (same weights, same "
        "batches, SGD). BN subtracts the batch mean, so a constant bias cancels: the loss curves overlap, "
        f"‖∂L/∂b‖ stays ≈ 0 (largest {max(exp.bias_grad_norm):.1e} vs ‖∂L/∂W‖ ≈ {exp.weight_grad_norm[0]:.2g}), "
        f"and after 150 steps the two models' validation logits differ by at most {exp.max_logit_gap:.1e} (float "
        "rounding, amplified by training) "
        f"({exp.eval_logit_gap:.1e} in eval mode, where the running mean has absorbed b). "
        "That is why conv/linear layers followed by BN are built with `bias=False`; BN's β does the job."
    )


@st.cache_data(max_entries=16, show_spinner=False)
def profiles(dataset: str, depth: int, activation: str, seed: int, device: str) -> dict:
    data = digits.make_split(dataset, 128, 1, seed)
    kwargs = {"depth": depth, "width": 64, "activation": activation, "num_classes": data.num_classes, "seed": seed}
    return {
        "without BN": reg.gradient_profile(data.X_train, data.y_train, batch_norm=False, device=device, **kwargs),
        "with BN": reg.gradient_profile(data.X_train, data.y_train, batch_norm=True, device=device, **kwargs),
    }


with tabs[7]:
    c1, c2 = st.columns(2)
    depth = c1.slider("Hidden layers", 2, 12, 8, key=f"{PAGE}.vg.depth")
    act = c2.selectbox("Activation", ["sigmoid", "tanh", "relu"], key=f"{PAGE}.vg.act")
    prof = profiles(split.name, depth, act, seed, device)
    st.plotly_chart(reg.gradient_profile_figure(prof, f"{depth}-layer {act} MLP at initialisation: ‖∂L/∂W‖ per layer"))
    ratios = {name: float(v[0] / v[-1]) for name, v in prof.items()}
    st.markdown(
        f"First layer ÷ output layer: **{ratios['without BN']:.1e}** without BN, **{ratios['with BN']:.2g}** with BN. "
        "With sigmoid, σ′(z) ≤ 1/4, so every layer shrinks the backward signal and the first layers barely learn "
        "(*vanishing gradients*); tanh and ReLU suffer less. BN rescales each pre-activation to unit variance, "
        "which keeps the signal alive."
    )
