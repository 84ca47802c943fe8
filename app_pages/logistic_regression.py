"""Lab 1: logistic regression trained by gradient descent (thin page over ``lab.logistic``)."""

from __future__ import annotations

import functools
import hashlib
from collections import OrderedDict
from typing import Any

import numpy as np
import streamlit as st

import ui
from lab import data2d, features, logistic
from lab.params import make_config

PAGE = "logistic-regression"
STEP_KEY = f"{PAGE}.step"
TAB_KEY = f"{PAGE}.tab"
RUNS_KEY = "_logistic.runs"  # per-session LRU of trained trajectories (never shared between sessions)
MAX_RUNS = 12
CSV_KEY = "_logistic.last_csv"  # the last upload that parsed: (digest, bytes, file name)
SCRUB_KEY = "_logistic.scrub"  # (key, figure): the scrubbing figure of the current runs, moved in place


class _Disabled:
    """A container whose widgets are drawn disabled (for ``ui.controls``' ``container=``)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return functools.partial(getattr(self._inner, name), disabled=True)


info = ui.page_header(
    "1. Logistic regression & gradient descent",
    "A straight line through the plane, learned one step at a time: **P(y=1|x) = σ(w·x + b)**, the "
    "cross-entropy loss, and the update **θ ← θ − α ∂L/∂θ**. Here σ is the sigmoid, **σ(a) = 1/(1 + e⁻ᵃ)**: it "
    "squashes any number into (0, 1), with σ(0) = 1/2. Change the learning rate, scrub through "
    "training with the step slider, watch the optimiser walk down the loss landscape — then try the "
    "circles and fix them with hand-made features.",
)
seed = ui.current_seed()

# Links from before Lab 1 took Lab 2's feature keys (?features=x1^2,sin_x1) still open.
if (upgraded := logistic.upgrade_link(st.query_params.to_dict())) is not None:
    st.query_params.from_dict(upgraded)


# --- data: an uploaded CSV (the last good one survives a bad one) or generated points ----------------
@st.cache_data(max_entries=16, show_spinner=False)
def generated(name: str, n: int, noise: float, train_fraction: float, seed: int) -> data2d.Dataset2D:
    return data2d.make_dataset(name, n, noise, train_fraction, seed)


@st.cache_data(max_entries=8, show_spinner=False)
def parsed(digest: str, _raw: bytes, label: str) -> tuple[np.ndarray, np.ndarray]:
    return data2d.parse_csv(_raw, label)  # raises DataInputError with a message for the student


# --- controls (sidebar), built from the specs in lab.logistic -------------------------------------
with st.sidebar:
    st.divider()
    st.markdown("#### Data")
    data_box = st.container()  # filled below, once we know whether a CSV is in use
    upload = st.file_uploader(
        "…or upload a CSV (x1, x2, label 0/1)",
        type=["csv", "txt"],
        key=f"{PAGE}.csv",
        help="Two numeric feature columns and a 0/1 label column named label/y/class/target (or the last column).",
        max_upload_size=20,  # MB; the loader re-checks it on the server (widget limits are browser-side)
    )
    csv, csv_error = None, None  # csv: (digest, raw bytes, file name) of the upload in use
    if upload is not None:
        raw = upload.getvalue()
        digest = hashlib.sha256(raw).hexdigest()
        try:
            parsed(digest, raw, logistic.display_name(upload.name))
            csv = st.session_state[CSV_KEY] = (digest, raw, upload.name)
        except data2d.DataInputError as err:
            csv_error = str(err)
            csv = st.session_state.get(CSV_KEY)  # a bad file never replaces the last good one
    with data_box:
        generator_specs = [p for p in logistic.DATA_SPECS if p.name in logistic.GENERATOR_PARAMS]
        data_values = ui.controls(generator_specs, page=f"{PAGE}/data", container=_Disabled(st) if csv else None)
        if csv:
            st.caption("Dataset, points and noise are off while your CSV is in use: remove the file to use them.")
        data_values |= ui.controls(
            [p for p in logistic.DATA_SPECS if p.name not in logistic.GENERATOR_PARAMS], page=f"{PAGE}/data"
        )
    st.markdown("#### Features")
    feature_values = ui.controls(logistic.FEATURE_SPECS, page=f"{PAGE}/features")
    feature_values["features"] = tuple(feature_values["features"])  # a cleared multiselect is (), the default
    st.markdown("#### Training")
    train_values = ui.controls(logistic.TRAIN_SPECS, page=f"{PAGE}/train")
    with st.expander("Start point", expanded=False):
        start_values = ui.controls(logistic.START_SPECS, page=f"{PAGE}/start")
    view_values = ui.controls(logistic.VIEW_SPECS, page=f"{PAGE}/view")
    b1, b2 = logistic.ADAM_BETAS
    ignored = {
        "gd": "Batch size and momentum β",
        "sgd": "Momentum β",
        "adam": f"Momentum β (Adam's are {b1:g}, {b2:g})",
    }
    if (opt := train_values["optimizer"]) in ignored and not view_values["compare"]:
        st.caption(f"{ignored[opt]}: not used by {logistic.OPTIMIZER_LABELS[opt]}.")
values = {**data_values, **feature_values, **train_values, **start_values, **view_values}
compare = values["compare"]
config = make_config(logistic.TrainConfig, values, seed=seed)
feature_names = features.check_names(values["features"])

generated_label = data2d.LABELS[values["dataset"]]
if csv is not None:
    digest, raw, csv_name = csv
    X_csv, y_csv = parsed(digest, raw, logistic.display_name(csv_name))
    data = data2d.split(X_csv, y_csv, values["train_fraction"], seed, csv_name)
    data_key = f"csv:{digest}:{values['train_fraction']}:{seed}"
    shown = logistic.display_name(csv_name)
    if csv_error:
        st.error(f"{csv_error}\n\nStill using your last good upload, **{shown}**.", icon=":material/error:")
    else:
        st.info(
            f"Using your upload **{shown}**: {len(data.X_train)} training and {len(data.X_test)} test points. "
            "Remove the file to go back to generated data.",
            icon=":material/upload_file:",
        )
else:
    csv_name = None
    data = generated(values["dataset"], values["n"], values["noise"], values["train_fraction"], seed)
    data_key = f"gen:{values['dataset']}:{values['n']}:{values['noise']}:{values['train_fraction']}:{seed}"
    if csv_error:
        st.error(f"{csv_error}\n\nStill using the generated **{generated_label}** data.", icon=":material/error:")


# --- training, cached per session by an explicit key ---------------------------------------------
def trained(cfg: logistic.TrainConfig) -> logistic.Trajectory:
    """The trajectory for ``cfg`` on the current data; trains (with a progress bar) only when new."""
    runs: OrderedDict = st.session_state.setdefault(RUNS_KEY, OrderedDict())
    key = (data_key, feature_names, cfg, info.device)
    if key in runs:
        runs.move_to_end(key)
        return runs[key]
    slot = st.empty()
    with slot.container():
        on_progress = ui.progress_reporter(f"Training with {logistic.OPTIMIZER_LABELS[cfg.optimizer]}")
    run = logistic.train_dataset(data, feature_names, cfg, device=info.device, on_progress=on_progress)
    slot.empty()
    runs[key] = run
    while len(runs) > MAX_RUNS:
        runs.popitem(last=False)
    return run


run = trained(config)
T = run.num_steps
opening = logistic.opening_step(T)
run_id = (data_key, feature_names, config)
if st.session_state.get("_logistic.run_id") != run_id:  # a new run opens at its opening step…
    first_visit = "_logistic.run_id" not in st.session_state
    st.session_state["_logistic.run_id"] = run_id
    step_now = opening
    if first_visit:  # …unless this session's link names a step
        linked, problem = logistic.step_from_link(st.query_params.get(logistic.STEP_QUERY_KEY), T)
        if problem:
            st.warning(problem, icon=":material/link:")
        step_now = opening if linked is None else linked
    st.session_state["_logistic.step"] = st.session_state[STEP_KEY] = step_now
elif STEP_KEY in st.session_state:  # the slider's value (Streamlit forgets it while another page is shown)
    st.session_state["_logistic.step"] = st.session_state[STEP_KEY]
step = st.session_state[STEP_KEY] = int(min(max(st.session_state.get("_logistic.step", opening), 0), T))

if run.status == "diverged":
    st.error(f"{run.reason}\n\n{logistic.divergence_hint(config)}", icon=":material/warning:")
elif hint := logistic.oscillation_hint(run):
    st.warning(hint, icon=":material/ssid_chart:")
if run.status != "diverged" and run.train_acc[-1] == 1.0 and config.weight_decay == 0 and T >= 50:
    st.info(
        "Every training point is classified correctly, so the loss can keep falling by making ‖w‖ larger: "
        "on separable data there is no finite minimum and the weights grow forever. An L2 term (λ > 0) "
        "gives the loss a bottom.",
        icon=":material/all_inclusive:",
    )

# --- optimiser comparison (same start, same α) ---------------------------------------------------
others: dict[str, logistic.Trajectory] = {}
if compare:
    for name in logistic.OPTIMIZERS:
        cfg = (
            config if name == config.optimizer else make_config(logistic.TrainConfig, values, seed=seed, optimizer=name)
        )
        others[name] = trained(cfg)
paths = {name: r.w[:, :2] for name, r in others.items()} if others else {config.optimizer: run.w[:, :2]}
if others:  # the main run first: its arrow and its map
    paths = {config.optimizer: paths.pop(config.optimizer), **paths}

# --- (a) data + boundary and (b) landscape: one figure that scrubs in the browser ------------------
w_now, b_now = run.w[step], float(run.b[step])
land = logistic.landscape_around(
    data.X_train,
    data.y_train,
    w_now,
    b_now,
    list(paths.values()),
    feature_names=feature_names,
    weight_decay=config.weight_decay,
    reduction=config.reduction,
    resolution=100,
    device=info.device,
)
scrub_key = (run_id, compare, info.device)
cached = st.session_state.get(SCRUB_KEY)
if cached is not None and cached[0] == scrub_key:  # same runs: only move the figure to this step
    scrub = logistic.move_to_step(cached[1], run, land, paths, step=step)
else:  # new runs: build the frames once
    scrub = logistic.scrub_figure(run, data, land, paths, step=step)
    st.session_state[SCRUB_KEY] = (scrub_key, scrub)
st.plotly_chart(scrub, width="stretch")
extra = " and the hand-made features' weights" if feature_names else ""
st.caption(
    logistic.key_text(list(paths))
    + " **Drag the figure's slider or press ▶ Play**: the boundary on the data (a), the position on the landscape "
    "and the next update (b) redraw in your browser, without re-running the page. "
    f"The landscape is one slice of L: b = {b_now:.3g}{extra} held at their step-{step} values, only w₁ and "
    "w₂ vary (100 × 100 grid, one tensor op)"
    + ("; with hand-made features the model has more weights than this plot shows." if feature_names else ".")
    + " The figure cannot write the page's link: the step below (the table, the maths and the link) is where "
    "the figure opens when the page loads."
)


# --- the page's step: table, maths and link ----------------------------------------------------------
def _move(delta: int | None) -> None:
    last = st.session_state.get("_logistic.T", 0)
    st.session_state[STEP_KEY] = last if delta is None else min(max(st.session_state[STEP_KEY] + delta, 0), last)


@ui.fragment
def step_panel() -> None:
    """The page's step and everything that follows it: a step click reruns only this part (the
    scrubbing figure above, ~0.3 MB, is not sent again; it opens at this step on the next full run)."""
    st.session_state["_logistic.T"] = T
    # Horizontal containers wrap on narrow screens instead of truncating the labels and numbers.
    with st.container(horizontal=True, vertical_alignment="bottom", gap="small"):
        st.button("◀ step", on_click=_move, args=(-1,), help="One update back")
        st.button("step ▶", on_click=_move, args=(1,), help="One update forward")
        st.button("end ▶▶", on_click=_move, args=(None,), help="Jump to the last step")
        if T > 0:
            step = st.slider("Step for the table, the maths and the link", 0, T, key=STEP_KEY)
        else:
            step = 0
            st.caption("Training stopped before the first update.")
    st.session_state["_logistic.step"] = step
    w_now, b_now = run.w[step], float(run.b[step])

    with st.container(horizontal=True, gap="large"):
        st.metric("Step", f"{step} / {config.num_steps}", width="content")
        st.metric("Train loss (mean BCE)", f"{run.train_loss[step]:.4f}", width="content")
        st.metric("Test loss (mean BCE)", f"{run.test_loss[step]:.4f}", width="content")
        st.metric("Train accuracy", f"{run.train_acc[step]:.1%}", width="content")
        st.metric("Test accuracy", f"{run.test_acc[step]:.1%}", width="content")

    # --- (c) curves, (d) the current update -----------------------------------------------------------
    if TAB_KEY not in st.session_state:  # the tab widget was dropped while another page was shown, or a new session
        kept = st.session_state.get("_logistic.tab")
        if kept is None:
            linked = st.query_params.get(logistic.TAB_QUERY_KEY)
            if linked is not None and linked not in logistic.CURVE_TABS:
                st.warning(
                    f"The link's {logistic.TAB_QUERY_KEY} is not one of {', '.join(logistic.CURVE_TABS)}; showing the loss.",
                    icon=":material/link:",
                )
            kept = logistic.CURVE_TABS.get(linked, logistic.CURVE_TABS["loss"])
        st.session_state[TAB_KEY] = kept
    curve_runs = others if others else {config.optimizer: run}
    left, right = st.columns(2)
    with left:
        tab_loss, tab_acc = st.tabs(list(logistic.CURVE_TABS.values()), key=TAB_KEY, on_change="rerun")
        st.session_state["_logistic.tab"] = st.session_state[TAB_KEY]
        if tab_loss.open:
            with tab_loss:
                st.plotly_chart(
                    logistic.curves_figure(curve_runs, "loss", step=step, title="(c) Train / test loss (mean BCE)"),
                    width="stretch",
                )
        if tab_acc.open:
            with tab_acc:
                st.plotly_chart(
                    logistic.curves_figure(curve_runs, "acc", step=step, title="Train / test accuracy"),
                    width="stretch",
                )
    tab_now = next(k for k, label in logistic.CURVE_TABS.items() if label == st.session_state[TAB_KEY])
    link_extra = {}
    if step != opening:
        link_extra[logistic.STEP_QUERY_KEY] = str(step)
    if tab_now != "loss":
        link_extra[logistic.TAB_QUERY_KEY] = tab_now
    ui.sync_url(logistic.SPECS, values, extra=link_extra)

    with right:
        st.markdown(f"**(d) The update at step {step}**")
        names = [*run.feature_labels, "b"]
        if step < T:
            g = np.append(run.grad_w[step], run.grad_b[step])
            delta = run.update(step)
            theta = np.append(run.w[step], run.b[step])
            batch_note = (
                "all training points"
                if config.optimizer == "gd" or config.batch_size >= len(data.X_train)
                else f"a mini-batch of {config.batch_size} points"
            )
            st.dataframe(
                {
                    "parameter": names,
                    "θ now": theta,
                    "gradient ∂L/∂θ": g,
                    "update Δθ": delta,
                    "θ next": theta + delta,
                },
                hide_index=True,
                width="stretch",
                column_config={
                    c: st.column_config.NumberColumn(format="%.4g")
                    for c in ("θ now", "gradient ∂L/∂θ", "update Δθ", "θ next")
                },
            )
            rule = {
                "gd": r"\theta_{t+1} = \theta_t - \alpha\, g_t",
                "sgd": r"\theta_{t+1} = \theta_t - \alpha\, g_t",
                "momentum": r"v_t = \beta v_{t-1} + g_t,\quad \theta_{t+1} = \theta_t - \alpha\, v_t",
                "adam": r"\theta_{t+1} = \theta_t - \alpha\,\hat m_t / (\sqrt{\hat s_t} + \epsilon)",
            }[config.optimizer]
            st.latex(rule + rf"\qquad \alpha = {logistic.latex_number(config.lr)}")
            batch_sum = "mean" if config.reduction == "mean" else "sum"
            st.caption(
                f"The gradient g is computed on {batch_note}: it is the gradient of L on that batch "
                f"(the {batch_sum} of its cross-entropies{' + λ/2‖w‖²' if config.weight_decay else ''}), "
                f"which is {run.batch_loss[step]:.4f} here. "
                + (
                    "For gradient descent Δθ = −α·g exactly."
                    if config.optimizer in ("gd", "sgd")
                    else "Momentum and Adam turn the gradient history into the step, so Δθ is not just −α·g."
                )
            )
        else:
            st.info("This is the last state: there is no next update. Step back to see one.", icon=":material/flag:")

    # --- the maths, with the current numbers; the gradient by hand vs autograd ----------------------------
    st.subheader("The maths, with the numbers at this step")
    check = logistic.check_gradient_on(data, feature_names, w_now, b_now, config.weight_decay, config.reduction)
    n_train = len(data.X_train)
    l2 = r" + \frac{\lambda}{2}\lVert w \rVert^2" if config.weight_decay else ""
    l2_grad = r" + \lambda w" if config.weight_decay else ""
    avg = r"\frac{1}{N}" if config.reduction == "mean" else ""
    how = "averaged" if config.reduction == "mean" else "summed"
    st.markdown("**Model** — the probability of class 1 is a squashed weighted sum of the inputs")
    st.latex(logistic.latex_model(w_now, b_now, feature_names))
    st.markdown(
        f"**Loss L**, the number gradient descent lowers — cross-entropy {how} over the N = {n_train} training points"
        + (" (the slide's form)" if config.reduction == "sum" else " (PyTorch's default)")
        + (" plus the L2 term" if l2 else "")
    )
    st.latex(
        r"L = -"
        + avg
        + r"\sum_{i=1}^{N} \Big[y_i \log p_i + (1-y_i)\log(1-p_i)\Big]"
        + l2
        + rf" = {logistic.latex_number(check.loss, 4)}"
    )
    parts = logistic.loss_parts(run, step, n_train)
    st.markdown(
        "**Three losses, one quantity** — the *Train loss* metric and the curves (c) show the **mean** "
        "cross-entropy ℓ̄ = (1/N) Σ ℓᵢ, so that training and test sets of different sizes compare; "
        + (
            "L sums the same terms, so L = N × ℓ̄"
            if config.reduction == "sum"
            else "with the mean reduction L is that mean"
        )
        + (" plus the L2 term" if l2 else "")
        + ". The caption of (d) shows L on the batch that one update used."
    )
    st.latex(logistic.latex_loss_relation(parts))
    st.markdown(f"**Gradient, by hand** — p − y times the input, {how} (all training points, this step's weights)")
    grad_l, grad_r = st.columns([3, 2])
    grad_l.latex(
        r"\frac{\partial L}{\partial w} = "
        + avg
        + r"\sum_i (p_i - y_i)\,x_i"
        + l2_grad
        + " = "
        + logistic.latex_vector(check.manual_w)
    )
    grad_r.latex(
        r"\frac{\partial L}{\partial b} = " + avg + r"\sum_i (p_i - y_i) = " + logistic.latex_number(check.manual_b)
    )
    st.markdown("**Checked against autograd** (`loss.backward()` through `F.binary_cross_entropy_with_logits`)")
    st.dataframe(
        {
            "parameter": names,
            "by hand": [*check.manual_w, check.manual_b],
            "autograd": [*check.autograd_w, check.autograd_b],
            "difference": [*(check.manual_w - check.autograd_w), check.manual_b - check.autograd_b],
        },
        hide_index=True,
        width="stretch",
        column_config={name: st.column_config.NumberColumn(format="%.6g") for name in ("by hand", "autograd")}
        | {"difference": st.column_config.NumberColumn(format="%.1e")},
    )
    verdict = "agree" if check.max_abs_diff < 1e-6 else "DISAGREE"
    st.caption(f"Largest difference: {check.max_abs_diff:.1e} — the two {verdict} (float64, all training points).")
    if config.weight_decay:
        st.caption(
            f"scikit-learn's `LogisticRegression(C=…)` minimises C·Σ logloss + ½‖w‖²; the same minimum as ours needs "
            f"C = {'1/λ' if config.reduction == 'sum' else '1/(Nλ)'} = "
            f"{logistic.sklearn_C(config.weight_decay, n_train, config.reduction):.4g}."
        )


step_panel()

# --- show me the code, and the data -------------------------------------------------------------------
ui.show_code(
    logistic.snippet(
        config,
        feature_names,
        dataset=values["dataset"],
        n=values["n"],
        noise=values["noise"],
        train_fraction=values["train_fraction"],
        csv_name=csv_name,
    ),
    filename="logistic_regression.py",
)
st.download_button(
    "Download these points as CSV",
    data2d.to_csv(data.X, np.concatenate([data.y_train, data.y_test])),
    file_name=f"{data.name}.csv",
    mime="text/csv",
    help="Edit them and upload the file again.",
)
