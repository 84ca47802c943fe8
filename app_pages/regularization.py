"""Lab 4 — Dropout & batch norm: regularisation and normalisation trained side by side."""

from __future__ import annotations

import dataclasses

import streamlit as st

import ui
from lab import batchnorm, digits, params
from lab import dropout as drop
from lab import regularization as reg
from lab.params import make_config
from ui.catalog import LABS

PAGE = "regularization"
RESULT_KEY = f"{PAGE}.result"
TAB_KEY = f"{PAGE}.tab"
#: The tabs, by their short name in the link (``?tab=bn``); the first one is the default.
TABS = {
    "curves": "Curves",
    "table": "Table & code",
    "activations": "Activations",
    "gradients": "Gradients",
    "weights": "Weights: L1 vs L2",
    "bn": "BN statistics",
    "dropout": "Dropout",
    "bias": "Bias before BN",
    "vanishing": "Vanishing gradients",
}
SPEC = {p.name: p for p in reg.SPECS}
#: Controls that belong to one model only: hidden in the sidebar while the other model is chosen.
MODEL_ONLY = {"mlp": "width", "cnn": "channels"}

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
        st.session_state[f"_keep.{PAGE}.{key}"] = value  # also for a control hidden right now (width / channels)
    st.session_state[f"{PAGE}.autorun"] = True
    st.session_state[TAB_KEY] = "curves"


def _dedupe_variants() -> None:
    """A link or an old session may repeat a configuration (``?variants=baseline,baseline,…``): keep each once.

    Runs before the multiselect is drawn, so the widget never holds a repeated entry.
    """
    key = f"{PAGE}.variants"
    current = st.session_state.get(key)
    if current is None and f"_keep.{key}" not in st.session_state and "variants" in st.query_params:
        # first visit from a link: read it here (controls() would put the repeats into the widget)
        raw = st.query_params.get_all("variants")
        parts = [p for p in (raw[-1] if raw else "").split(",") if p]
        current = [p for p in parts if p in reg.VARIANTS]
        if len(current) < len(parts):
            st.warning("The link's **variants** named configurations this lab does not have; they were left out.")
        if not current:
            current = list(SPEC["variants"].default)
    if current is not None:
        unique = list(dict.fromkeys(current))[: len(reg.VARIANTS)]
        if unique != list(current):
            st.session_state[key] = unique


def _hidden_value(name: str):
    """The value of a control that is hidden right now: the kept one, else the link's, else the default."""
    for key in (f"{PAGE}.{name}", f"_keep.{PAGE}.{name}"):
        if key in st.session_state:
            return st.session_state[key]
    linked, _ = params.from_query([SPEC[name]], st.query_params.to_dict())
    return linked[name]


_dedupe_variants()
with st.sidebar:
    st.markdown("### Lab 4 settings")
    values = ui.controls([SPEC["dataset"], SPEC["model"]], page=PAGE)
    model_shown = "mlp" if values["dataset"] == "spiral" else values["model"]
    hidden = MODEL_ONLY["cnn" if model_shown == "mlp" else "mlp"]
    values |= ui.controls([p for p in reg.SPECS if p.name not in ("dataset", "model", hidden)], page=PAGE)
values[hidden] = _hidden_value(hidden)
values["variants"] = tuple(dict.fromkeys(values["variants"]))

# the view (a row of tabs that wraps at narrow widths): kept in the session and in the link (?tab=…),
# so a rerun, a training run or a shared link shows the same one; only the chosen view is computed
if TAB_KEY not in st.session_state:
    linked_tab = st.query_params.get("tab")
    kept = st.session_state.get(f"_keep.{TAB_KEY}")
    st.session_state[TAB_KEY] = kept if kept in TABS else (linked_tab if linked_tab in TABS else "curves")
    if linked_tab is not None and linked_tab not in TABS:
        st.warning(f"The link's **tab** is not one of this page's views ({', '.join(TABS)}); showing the curves.")
tab_slug = st.session_state[TAB_KEY]
ui.sync_url(reg.SPECS, values, extra={"tab": tab_slug} if tab_slug != "curves" else None)
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
if config.model == "cnn":
    side = split.image_side
    arch = f"CNN {side}×{side} → {config.depth} × (conv 3×3, {config.channels} ch → act → pool) → {split.num_classes}"
else:
    arch = f"MLP {split.num_features}-" + "-".join([str(config.width)] * config.depth) + f"-{split.num_classes}"
optimiser = {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD + momentum"}[config.optimizer]
st.markdown(
    f"**{len(config.variants)} configuration(s) × {config.num_seeds} seed(s) × {config.num_epochs} epochs** · "
    f"{arch}, {config.activation}, {optimiser} lr {config.lr:g}, batch {config.batch_size}."
)
buttons = st.container(horizontal=True)  # wraps at narrow widths: no truncated button labels
start = buttons.button("Train & compare", type="primary", key=f"{PAGE}.train", icon=":material/play_arrow:")
buttons.button(
    "Stop",
    key=f"{PAGE}.stop",
    icon=":material/stop:",
    help="Stops the run; every epoch that all configurations finished is kept.",
)
buttons.button(
    reg.PRESET_LABEL["overfit_dropout"],
    key=f"{PAGE}.preset",
    icon=":material/auto_fix_high:",
    on_click=apply_preset,
    args=("overfit_dropout",),
    help=reg.PRESET_HELP["overfit_dropout"],
)
preset_note = st.empty()  # always drawn: the elements below keep their places whether or not a preset ran
if st.session_state.pop(f"{PAGE}.autorun", False):
    start = True
    preset_note.info(reg.PRESET_TEXT["overfit_dropout"], icon=":material/school:")

# Two slots, always drawn so the elements below keep their places: `notice` holds the progress bar while a
# run trains, then that run's notices; `live` the live curves. The bar is a single element, so it replaces
# an older run's notice block at once (that notice used to stay up, stale, while the next run trained), and
# the notices that follow are a fresh block (a block drawn over a block in the same run keeps its children).
notice = st.empty()
live_chart = st.empty()
n_runs = len(config.variants) * config.num_seeds
# A public server caps configurations × seeds × epochs (lab.limits): fewer epochs, and the page says so.
work = int(ui.apply_cap("regularization.work", n_runs * config.num_epochs))
if work < n_runs * config.num_epochs:
    config = dataclasses.replace(config, num_epochs=max(1, work // n_runs))
if start:
    bar = notice.progress(0.0, text="Building the models…")

    def on_tick(comparison: reg.Comparison) -> None:
        # called after every model built and every epoch of every run: the comparison is stored at once,
        # so Stop (which ends the script at the next st call, e.g. this progress bar) keeps what is done
        st.session_state[RESULT_KEY] = comparison
        done = sum(len(r.epochs) - 1 for r in comparison.runs)
        total = max(1, n_runs * config.num_epochs)
        text = (
            f"Building the models… {len(comparison.runs)}/{n_runs}"
            if len(comparison.runs) < n_runs and done == 0
            else f"Training: {done}/{total} run-epochs"
        )
        bar.progress(min(1.0, done / total), text=text)

    def on_epoch(comparison: reg.Comparison, progress) -> None:
        # a key per epoch: the last live figure equals the Curves tab's one (duplicate-ID error otherwise)
        live_chart.plotly_chart(reg.curves_figure(comparison, "acc"), key=f"{PAGE}.live.{progress.step}")

    # Training is heavy work: it waits for a free core in the process-wide queue (ui.jobs); a newer
    # Train & compare of this session stops this one between epochs.
    with ui.heavy_job("Lab 4: train & compare", key=f"{PAGE}.train") as ticket:
        result = reg.compare(
            config,
            split,
            device=device,
            on_epoch=on_epoch,
            on_tick=on_tick,
            should_stop=ticket.should_stop,
            pause=ui.give_way,  # before every mini-batch: other sessions' light reruns go first
        )
    st.session_state[RESULT_KEY] = result
    live_chart.empty()
    notice.empty()

comparison: reg.Comparison | None = st.session_state.get(RESULT_KEY)
if comparison is not None and comparison.status == "running":  # the script was stopped mid-run
    reg.finalize_partial(comparison)
if comparison is not None:
    with notice.container():
        if comparison.history is not None and comparison.history.status == "cancelled":
            st.warning(comparison.history.reason, icon=":material/stop_circle:")
        diverged = [r.label for r in comparison.runs if r.status == "diverged"]
        if diverged:
            st.error(
                f"Diverged (loss became NaN/inf — learning rate too high for them): {', '.join(diverged)}. "
                "Lower the learning rate and train again."
            )
        num_classes = (
            split.num_classes if comparison.dataset == split.name else (3 if comparison.dataset == "spiral" else 10)
        )
        stuck = reg.stuck_at_chance(comparison, num_classes)
        if stuck:
            st.warning(
                f"**{', '.join(reg.VARIANTS[k].label for k in stuck)}** still classif"
                f"{'ies' if len(stuck) == 1 else 'y'} the *training* set at about chance "
                f"({100 / num_classes:.0f} %). That is an optimisation problem, not overfitting: try a larger "
                "learning rate (or a smaller one if the loss jumps around), ReLU instead of sigmoid in a deep "
                "network, batch norm, or less dropout — and more epochs.",
                icon=":material/trending_flat:",
            )
        if comparison.config != config:
            st.caption("The settings changed since this run — press **Train & compare** to update.")

view = st.segmented_control(
    "View", list(TABS), format_func=TABS.get, key=TAB_KEY, required=True, label_visibility="collapsed"
)
st.session_state[f"_keep.{TAB_KEY}"] = view


def formulas(keys: list[str]) -> None:
    """What each chosen configuration computes: a formula and one sentence each (checked against torch in tests)."""
    shown = set(keys)
    if shown & {"dropout", "bn_dropout"}:
        st.markdown("**Dropout** (training; eval: the identity) — each unit is kept with probability 1 − p:")
        st.latex(r"\tilde h_j = \frac{m_j\, h_j}{1-p},\qquad m_j \sim \mathrm{Bernoulli}(1-p)")
    if shown & {"batchnorm", "bn_dropout"}:
        st.markdown(
            "**Batch norm** — per unit, with the mini-batch's mean and *biased* variance (see *BN statistics*):"
        )
        st.latex(r"\hat x = \frac{x-\mu_B}{\sqrt{\sigma_B^2+\varepsilon}},\qquad y = \gamma\,\hat x + \beta")
    if "layernorm" in shown:
        st.markdown(
            "**Layer norm** — the same normalisation, but over the units of *one sample* (no batch statistics, "
            "so training and evaluation compute the same thing):"
        )
        st.latex(r"\mu = \tfrac1C\textstyle\sum_{c} x_c,\qquad \sigma^2 = \tfrac1C\sum_c (x_c-\mu)^2")
        st.latex(r"y_c = \gamma_c\,\frac{x_c-\mu}{\sqrt{\sigma^2+\varepsilon}} + \beta_c")
    if "weightnorm" in shown:
        st.markdown("**Weight norm** — every weight vector is learned as a length g and a direction v:")
        st.latex(r"\mathbf w = g\,\frac{\mathbf v}{\lVert \mathbf v\rVert}")
    if "dropconnect" in shown:
        st.markdown(
            "**DropConnect** (training) — drops single *weights* (links) instead of units, a fresh mask per batch. "
            "In evaluation this lab uses the full W (the masks' mean), a simplification: Wan et al. (2013) sample "
            "each unit's input from a Gaussian matched to its mean and variance over masks."
        )
        st.latex(r"\mathbf y = \frac{(M\odot W)\,\mathbf x}{1-p} + \mathbf b")
        st.latex(r"M_{ij}\sim\mathrm{Bernoulli}(1-p)")
    if "l2" in shown:
        st.markdown(
            "**L2** — adds (λ₂/2)·‖W‖² to the loss; its gradient λ₂·W is exactly the optimiser's "
            "`weight_decay = λ₂`. On every Linear weight and, in CNN mode, every Conv2d kernel; not on biases or "
            "BN/LN γ, β. Under Adam this *coupled* L2 is divided by Adam's per-weight scale like any gradient, so "
            "it is not plain weight decay; **AdamW** (optimiser choice) decays the weights directly, "
            "w ← w − lr·λ₂·w."
        )
        st.latex(r"L = L_{\text{data}} + \frac{\lambda_2}{2}\lVert W\rVert^2")
        st.latex(r"\nabla_W L = \nabla_W L_{\text{data}} + \lambda_2 W")
    if "l1" in shown:
        st.markdown(
            "**L1** — adds λ₁·Σ|w| over the same weights; its (sub)gradient λ₁·sign(w) pulls every weight toward 0 by the same amount:"
        )
        st.latex(r"L = L_{\text{data}} + \lambda_1 \textstyle\sum |w|")


if view == "curves":
    if comparison is None:
        st.info("Press **Train & compare** to train the configurations chosen in the sidebar side by side.")
    else:
        st.markdown(
            "**How to read it:** a configuration is better when its **validation accuracy** is higher and its "
            "**validation loss** lower — that is the headline. The gap (train − val) comes second: a smaller "
            "gap only counts as a win when validation did not get worse, because a model that fits the "
            "training set *worse* also has a smaller gap."
        )
        rows = reg.summary(comparison)
        base = next((r for r in rows if r["configuration"] == reg.VARIANTS["baseline"].label), None)
        per_row = 3
        for i in range(0, len(rows), per_row):  # every configuration gets a card, in rows of three
            cols = st.columns(per_row)
            for col, row in zip(cols, rows[i : i + per_row], strict=False):
                card = col.container(border=True)
                card.markdown(f"**{row['configuration']}**")
                delta = None
                if base is not None and row is not base:
                    delta = f"{row['final val acc %'] - base['final val acc %']:+.1f} pts vs baseline"
                card.metric(
                    "validation accuracy (final)",
                    f"{row['final val acc %']:.1f} %",
                    delta,
                    help="Accuracy on the held-out validation samples after the last epoch (mean over seeds).",
                )
                card.caption(
                    f"val loss **{row['final val loss']:.3f}** (best {row['best val loss']:.3f} at epoch "
                    f"{row['best loss epoch']}) · best val acc {row['best val acc %']:.1f} % at epoch "
                    f"{row['best acc epoch']}  \n"
                    f"gap train − val: {row['gap (train − val) %']:.1f} pts, loss "
                    f"{row['loss gap (val − train)']:.3f}"
                )
        shade = "gap"
        if comparison.config.num_seeds > 1:
            shade = st.radio(
                "Shading",
                ["gap", "spread"],
                horizontal=True,
                key=f"{PAGE}.shade",
                format_func=lambda s: {"gap": "generalisation gap", "spread": "mean ± std over seeds"}[s],
            )
        st.plotly_chart(reg.curves_figure(comparison, "acc", shade=shade), key=f"{PAGE}.curves.acc")
        st.plotly_chart(reg.curves_figure(comparison, "loss", shade=shade), key=f"{PAGE}.curves.loss")
        st.markdown(
            "Train curves are measured in **eval mode** (dropout off, BN with running statistics) on the whole "
            "training subset, so the shaded area is the true generalisation gap. A validation *loss* that rises "
            "while the train loss keeps falling is overfitting."
        )
        with st.expander("What each configuration computes", icon=":material/functions:"):
            formulas(list(comparison.by_variant()))

if view == "table":
    if comparison is None:
        st.info("No results yet.")
    else:
        st.dataframe(reg.summary(comparison), hide_index=True, key=f"{PAGE}.summary")
        st.download_button(
            "Download curves (CSV)",
            reg.curves_csv(comparison),
            file_name="regularization_curves.csv",
            mime="text/csv",
            key=f"{PAGE}.csv",
            icon=":material/download:",
        )
    ui.show_code(reg.snippet(config), filename="regularization.py")
    if split.name != "digits":
        st.caption(
            "The snippet trains on the 8×8 digits (it needs only scikit-learn's bundled copy); with them it "
            "prints the page's numbers. The page's other datasets work the same way."
        )

if view == "activations":
    if comparison is None:
        st.info("No results yet.")
    else:
        keys = list(comparison.by_variant())
        st.markdown(
            "Quantile bands of every hidden layer's **pre-activation** (the input of the nonlinearity) on 128 "
            "validation samples after each epoch. Without normalisation the distribution drifts as the layers "
            "below change — the lecture calls this *internal covariate shift*, the explanation BN was proposed "
            "with (Ioffe & Szegedy 2015); later work (Santurkar et al. 2018) argues BN helps mainly by making "
            "the optimisation better behaved. Either way, BN/LN keep the distribution centred with a stable spread."
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

if view == "gradients":
    if comparison is None:
        st.info("No results yet.")
    else:
        last = max((len(r.grad_norms) for r in comparison.runs), default=0)
        if last == 0:
            st.info("No finished epoch yet.")
        else:
            epoch = st.slider("Epoch", 1, last, last, key=f"{PAGE}.grad.epoch") if last > 1 else 1
            st.plotly_chart(reg.grad_norm_figure(comparison, epoch), key=f"{PAGE}.grad.fig")
            st.caption(
                "‖∂L/∂W‖ of each layer on the last mini-batch of the chosen epoch (mean over seeds). With deep "
                "sigmoid networks the input-side layers get far smaller gradients — see *Vanishing gradients*."
            )

if view == "weights":
    if comparison is None:
        st.info("No results yet — train **+ L1** and **+ L2** next to the baseline to compare their weights.")
    else:
        keys = list(comparison.by_variant())
        st.plotly_chart(reg.weight_histogram_figure(comparison, keys), key=f"{PAGE}.weights.fig")
        near = {
            reg.VARIANTS[k].label: reg.near_zero_fraction(runs[0].first_weights)
            for k, runs in comparison.by_variant().items()
            if runs[0].first_weights is not None
        }
        st.markdown(
            "Share of layer 1's weights with |w| < 10⁻³: "
            + ", ".join(f"**{share:.0%}** ({label})" for label, share in near.items())
            + ". **L1** (λ₁·Σ|w|) adds λ₁·sign(w) to every weight's gradient, the same size whatever |w| (a step "
            "of lr·λ₁ under SGD; Adam rescales it per weight), so weights that do not help pile up near 0 while "
            "the useful ones stay large; with plain (sub)gradient steps they hover around 0 rather than landing "
            "exactly on it (exact zeros need a proximal / clipping step). **L2** ((λ₂/2)·‖W‖², gradient λ₂·W) "
            "shrinks every weight in proportion to its size: a narrower bell. Pixels that are always or almost "
            "always blank (the digits' border) get little or no data gradient, so any penalty decays their "
            "weights toward 0 — most of L2's share above. How far depends on the optimiser: Adam rescales λ₂·W "
            "per weight, so such a weight moves ≈ lr per step, as under L1; with SGD or AdamW the same λ₂ leaves "
            "about as few near 0 as no penalty."
        )
        if not {"l1", "l2"} & set(keys):
            st.caption("Add **+ L1** and **+ L2** to the configurations to see the difference.")

if view == "bn":
    bn_name = "BatchNorm2d" if (comparison.config.model if comparison else config.model) == "cnn" else "BatchNorm1d"
    st.markdown(
        f"**Training mode** — `nn.{bn_name}` normalises every unit"
        + (" (CNN: every channel, over the batch *and* all positions)" if bn_name == "BatchNorm2d" else "")
        + " with the mini-batch's own mean and **biased** variance (÷B), then scales and shifts with the "
        "learned γ, β:"
    )
    # one short formula per line: a long KaTeX line is cut off in a narrow column
    st.latex(r"\mu_B = \frac1B\sum_{i=1}^{B} x_i,\qquad \sigma_B^2 = \frac1B\sum_{i=1}^{B}(x_i-\mu_B)^2")
    st.latex(r"\hat x_i = \frac{x_i-\mu_B}{\sqrt{\sigma_B^2+\varepsilon}},\qquad y_i = \gamma\,\hat x_i + \beta")
    st.markdown(
        "**Running averages** for evaluation — the lecture's form with α, and PyTorch's, where `momentum` "
        "(m below) *is* α (the weight of the new batch; default 0.1). The running variance takes the **unbiased** batch "
        "variance (÷(B − 1)):"
    )
    st.latex(r"\text{lecture:}\quad \mu \leftarrow \alpha\,\mu_B + (1-\alpha)\,\mu")
    st.latex(r"\text{PyTorch:}\quad \mu_{\text{run}} \leftarrow (1-m)\,\mu_{\text{run}} + m\,\mu_B,\quad m = \alpha")
    ex = batchnorm.worked_example(6, seed=seed)
    st.dataframe(
        {
            "x (one unit, batch of 6)": ex.x,
            "x − μ_B": ex.x - ex.mean,
            "x̂": ex.x_hat,
            f"y = {ex.gamma:g}·x̂ + {ex.beta:g}": ex.y,
        },
        hide_index=True,
        key=f"{PAGE}.bn.example",
    )
    st.caption(
        f"The formula on numbers: μ_B = {ex.mean:.4g}, σ²_B = {ex.var:.4g} (÷B, used above; the running variance "
        f"would take {ex.var_unbiased:.4g}, ÷(B − 1)), ε = {ex.eps:g}, γ = {ex.gamma:g}, β = {ex.beta:g}. "
        f"`nn.BatchNorm1d` in training mode gives the same y (tests check it)."
    )
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
        fig = reg.bn_stats_figure(bn_runs[run_index], unit, alpha, comparison.config.bn_momentum, module_name=bn_name)
        st.plotly_chart(fig, key=f"{PAGE}.bn.fig")
        st.markdown(
            "Grey dots: the mean and the **unbiased** variance (÷(B − 1)) of this unit in each mini-batch — "
            "what the running averages are fed with (the batch itself is normalised with the biased one, "
            f"÷B, as above). Blue: the running value (used in eval mode). Black diamonds: `nn.{bn_name}`'s "
            "own buffers read at the end of each epoch — they sit on the blue line. A small α averages over "
            "many batches (smooth, but lags while the weights change); α = 1 just keeps the last batch."
        )

if view == "dropout":
    c1, c2 = st.columns([1, 2])
    p = c1.slider("Drop probability p", 0.0, 0.9, float(config.dropout_p), 0.05, key=f"{PAGE}.drop.p")
    batch0 = c1.number_input("First batch", 0, 10_000, 0, key=f"{PAGE}.drop.batch")
    frac, mean = drop.dropout_stats(p, seed=seed)
    c1.metric("Fraction zeroed (100,000 units)", f"{frac:.3f}", help=f"Expected: p = {p:g}")
    c1.metric("Mean output for input 1", f"{mean:.3f}", help="Inverted dropout keeps the expectation: ≈ 1")
    c2.plotly_chart(drop.train_eval_figure(drop.train_vs_eval(p, seed=seed + int(batch0))), key=f"{PAGE}.drop.te")
    demo = drop.mask_demo((6, 8, 8, 3), p, num_batches=3, seed=seed * 10_007 + int(batch0))
    cols = st.columns(3)
    for i, (col, masks) in enumerate(zip(cols, demo.masks, strict=True)):
        fig = drop.network_figure(demo.layer_sizes, masks, f"Batch {int(batch0) + i + 1} (train mode)")
        col.plotly_chart(fig.update_layout(showlegend=i == 0), key=f"{PAGE}.drop.net.{i}")
    st.markdown(
        f"Each mini-batch trains a different thinned network: a fresh mask keeps every hidden unit with "
        f"probability 1 − p and multiplies the kept ones by **1/(1 − p) = {1 / (1 - p):.3g}** so the expected "
        "activation is unchanged. In **eval mode** dropout is the identity — all units, no scaling "
        "(`model.eval()`)."
    )
    formulas(["dropout", "dropconnect"])


@st.cache_data(max_entries=8, show_spinner=False)
def bias_experiment(dataset: str, n_train: int, n_val: int, seed: int, device: str) -> batchnorm.BiasExperiment:
    data = digits.make_split(dataset, n_train, n_val, seed)
    return batchnorm.bias_before_bn(
        data.X_train, data.y_train, data.X_val, num_classes=data.num_classes, seed=seed, device=device
    )


if view == "bias":
    exp = bias_experiment(split.name, config.n_train, config.n_val, seed, device)
    st.plotly_chart(reg.bias_figure(exp), key=f"{PAGE}.bias.fig")
    st.markdown(
        "Linear(bias=True) → BN → ReLU → Linear vs the same network without the first bias (same weights, "
        "same batches, SGD). BN subtracts the batch mean, so a constant bias cancels: the loss curves overlap, "
        f"‖∂L/∂b‖ stays ≈ 0 (largest {max(exp.bias_grad_norm):.1e} vs ‖∂L/∂W‖ ≈ {exp.weight_grad_norm[0]:.2g}), "
        f"and after 150 steps the two models' validation logits differ by at most {exp.max_logit_gap:.1e} "
        "(float rounding, amplified by training) "
        f"({exp.eval_logit_gap:.1e} in eval mode, where the running mean has absorbed b). "
        "That is why conv/linear layers followed by BN are built with `bias=False`; BN's β does the job."
    )


@st.cache_data(max_entries=16, show_spinner=False)
def profiles(dataset: str, depth: int, activation: str, init: str, seed: int, device: str) -> dict:
    data = digits.make_split(dataset, 128, 1, seed)
    kwargs = {"depth": depth, "width": 64, "activation": activation, "num_classes": data.num_classes, "seed": seed}
    name = init if init != "default" else "default init"
    out = {
        f"{name}, no BN": reg.gradient_profile(data.X_train, data.y_train, init=init, device=device, **kwargs),
        f"{name} + BN": reg.gradient_profile(
            data.X_train, data.y_train, init=init, batch_norm=True, device=device, **kwargs
        ),
    }
    if init != "he":
        out["he, no BN"] = reg.gradient_profile(data.X_train, data.y_train, init="he", device=device, **kwargs)
    return out


if view == "vanishing":
    c1, c2, c3 = st.columns(3)
    depth = c1.slider("Hidden layers", 2, 12, 8, key=f"{PAGE}.vg.depth")
    act = c2.selectbox("Activation", ["sigmoid", "tanh", "relu"], key=f"{PAGE}.vg.act")
    init = c3.selectbox("Initialisation", list(reg.INITS), key=f"{PAGE}.vg.init", format_func=lambda k: reg.INITS[k])
    prof = profiles(split.name, depth, act, init, seed, device)
    st.plotly_chart(
        reg.gradient_profile_figure(prof, f"{depth}-layer {act} MLP, at initialisation: ‖∂L/∂W‖ per layer"),
        key=f"{PAGE}.vg.fig",
    )
    ratios = {name: float(v[0] / v[-1]) for name, v in prof.items()}
    st.markdown(
        "Measured **at initialisation** — one forward and backward pass on 128 digits, before any training — "
        "as first layer ÷ output layer: "
        + ", ".join(f"**{r:.1e}** ({name})" for name, r in ratios.items())
        + ". With sigmoid, σ′(z) ≤ 1/4, so every layer shrinks the backward signal and the first layers "
        "barely learn (*vanishing gradients*). BN (training mode) rescales every pre-activation to unit "
        "variance, which keeps the signal alive *here*. It is not the only fix and not a guarantee later in "
        "training: for ReLU, an initialisation scaled to the fan-in with ReLU's gain √2 (**He**, N(0, 2/fan_in)) "
        "keeps it alive without BN, while PyTorch's default U(±1/√fan_in) shrinks a ReLU signal layer by layer. "
        "For sigmoid none of these three inits does: σ′ ≤ 1/4 caps each layer's factor; weights several times "
        "larger offset part of it at initialisation, at the risk of saturating units (where σ′ ≈ 0)."
    )
