"""Lab 1: logistic regression trained by gradient descent (thin page over ``lab.logistic``)."""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np
import streamlit as st

import ui
from lab import data2d, features, figures, logistic
from lab.params import make_config

PAGE = "logistic-regression"
STEP_KEY = f"{PAGE}.step"
RUNS_KEY = "_logistic.runs"  # per-session LRU of trained trajectories (never shared between sessions)
MAX_RUNS = 12

info = ui.page_header(
    "1. Logistic regression & gradient descent",
    "A straight line through the plane, learned one step at a time: **P(y=1|x) = σ(w·x + b)**, the "
    "cross-entropy loss, and the update **θ ← θ − α ∂L/∂θ**. Change the learning rate, scrub through "
    "training with the step slider, watch the optimiser walk down the loss landscape — then try the "
    "circles and fix them with hand-made features.",
)
seed = ui.current_seed()

# --- controls (sidebar), built from the specs in lab.logistic -------------------------------------
with st.sidebar:
    st.divider()
    st.markdown("#### Data")
    data_values = ui.controls(logistic.DATA_SPECS, page=f"{PAGE}/data")
    upload = st.file_uploader(
        "…or upload a CSV (x1, x2, label 0/1)",
        type=["csv", "txt"],
        key=f"{PAGE}.csv",
        help="Two numeric feature columns and a 0/1 label column named label/y/class/target (or the last column).",
    )
    st.markdown("#### Features")
    feature_values = ui.controls(logistic.FEATURE_SPECS, page=f"{PAGE}/features")
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


# --- data: generated, or an uploaded CSV (a bad file keeps the generated data) --------------------
@st.cache_data(max_entries=16, show_spinner=False)
def generated(name: str, n: int, noise: float, train_fraction: float, seed: int) -> data2d.Dataset2D:
    return data2d.make_dataset(name, n, noise, train_fraction, seed)


@st.cache_data(max_entries=8, show_spinner=False)
def uploaded(digest: str, _raw: bytes, name: str, train_fraction: float, seed: int) -> data2d.Dataset2D:
    X, y = data2d.parse_csv(_raw, name)  # raises DataInputError with a message for the student
    return data2d.split(X, y, train_fraction, seed, name)


data = generated(values["dataset"], values["n"], values["noise"], values["train_fraction"], seed)
data_key = f"gen:{values['dataset']}:{values['n']}:{values['noise']}:{values['train_fraction']}:{seed}"
csv_name = None
if upload is not None:
    raw = upload.getvalue()
    digest = hashlib.sha256(raw).hexdigest()
    try:
        data = uploaded(digest, raw, upload.name, values["train_fraction"], seed)
        data_key, csv_name = f"csv:{digest}:{values['train_fraction']}:{seed}", upload.name
        st.info(
            f"Using your upload **{upload.name}**: {len(data.X_train)} training and {len(data.X_test)} test points. "
            "Remove the file to go back to generated data.",
            icon=":material/upload_file:",
        )
    except data2d.DataInputError as err:
        st.error(
            f"{err}\n\nStill using the generated **{data2d.LABELS[values['dataset']]}** data.",
            icon=":material/error:",
        )

ui.sync_url(logistic.SPECS, values)


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
run_id = (data_key, feature_names, config)
if st.session_state.get("_logistic.run_id") != run_id:  # a new run: show its end
    st.session_state["_logistic.run_id"] = run_id
    st.session_state[STEP_KEY] = T
st.session_state[STEP_KEY] = int(min(max(st.session_state.get(STEP_KEY, T), 0), T))

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


# --- the step slider: scrub through training without retraining ----------------------------------
def _move(delta: int | None) -> None:
    last = st.session_state.get("_logistic.T", 0)
    st.session_state[STEP_KEY] = last if delta is None else min(max(st.session_state[STEP_KEY] + delta, 0), last)


st.session_state["_logistic.T"] = T
# Horizontal containers wrap on narrow screens instead of truncating the labels and numbers.
with st.container(horizontal=True, vertical_alignment="bottom", gap="small"):
    st.button("◀ step", on_click=_move, args=(-1,), help="One update back")
    st.button("step ▶", on_click=_move, args=(1,), help="One update forward")
    st.button("end ▶▶", on_click=_move, args=(None,), help="Jump to the last step")
    if T > 0:
        step = st.slider("Step (state after this many updates)", 0, T, key=STEP_KEY)
    else:
        step = 0
        st.caption("Training stopped before the first update.")

with st.container(horizontal=True, gap="large"):
    st.metric("Step", f"{step} / {config.num_steps}", width="content")
    st.metric("Train loss (BCE)", f"{run.train_loss[step]:.4f}", width="content")
    st.metric("Test loss", f"{run.test_loss[step]:.4f}", width="content")
    st.metric("Train accuracy", f"{run.train_acc[step]:.1%}", width="content")
    st.metric("Test accuracy", f"{run.test_acc[step]:.1%}", width="content")

# --- optimiser comparison (same start, same α) ---------------------------------------------------
others: dict[str, logistic.Trajectory] = {}
if compare:
    for name in logistic.OPTIMIZERS:
        cfg = (
            config if name == config.optimizer else make_config(logistic.TrainConfig, values, seed=seed, optimizer=name)
        )
        others[name] = trained(cfg)

# --- (a) data + boundary, (b) landscape ----------------------------------------------------------
w_now, b_now = run.w[step], float(run.b[step])
left, right = st.columns(2)
with left:
    xs, ys, prob = logistic.probability_map(w_now, b_now, feature_names, data.bounds(), resolution=80)
    fig = figures.decision_map(
        xs, ys, prob, data.X_train, data.y_train, data.X_test, data.y_test, title=f"(a) P(y=1|x) at step {step}"
    )
    st.plotly_chart(fig, width="stretch")
with right:
    paths = {name: r.w[:, :2] for name, r in others.items()} if others else {config.optimizer: run.w[:, :2]}
    if others:  # the main run first: its arrow and its b
        paths = {config.optimizer: paths.pop(config.optimizer), **paths}
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
    arrow = run.update(step)[:2] if step < T else None
    fig = logistic.landscape_figure(land, paths, step=step, update=arrow, title=f"(b) Loss landscape at step {step}")
    st.plotly_chart(fig, width="stretch")
    extra = " and the hand-made features' weights" if feature_names else ""
    st.caption(
        f"A slice of the loss: b = {b_now:.3g}{extra} held at their step-{step} values, only w₁ and w₂ vary "
        "(100 × 100 grid, one tensor op). The path is drawn in the same two weights"
        + (" — with hand-made features the model has more weights than this plot shows." if feature_names else ".")
        + (" The yellow arrow is the next update." if arrow is not None else "")
    )

# --- (c) curves, (d) the current update -----------------------------------------------------------
left, right = st.columns(2)
curve_runs = others if others else {config.optimizer: run}
with left:
    tab_loss, tab_acc = st.tabs(["(c) Loss", "Accuracy"])
    with tab_loss:
        st.plotly_chart(
            logistic.curves_figure(curve_runs, "loss", step=step, title="(c) Train / test loss"),
            width="stretch",
        )
    with tab_acc:
        st.plotly_chart(
            logistic.curves_figure(curve_runs, "acc", step=step, title="Train / test accuracy"),
            width="stretch",
        )
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
        st.caption(
            f"The gradient g is computed on {batch_note} (loss there: {run.batch_loss[step]:.4f}). "
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
st.markdown(f"**Loss** — cross-entropy {how} over the N = {n_train} training points{' plus the L2 term' if l2 else ''}")
st.latex(
    r"L = -"
    + avg
    + r"\sum_{i=1}^{N} \Big[y_i \log p_i + (1-y_i)\log(1-p_i)\Big]"
    + l2
    + rf" = {logistic.latex_number(check.loss, 4)}"
)
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
