"""Lab 2: an MLP on nonlinear data — TensorFlow Playground in PyTorch, and beyond.

Thin page: widgets → configs → ``lab.mlp.Trainer`` (kept per session in
``st.session_state``) → ``lab.mlp_figures`` / ``lab.figures`` → render.
"""

from __future__ import annotations

import hashlib
import time

import streamlit as st

import ui
from lab import data2d, mlp
from lab import mlp_figures as mf
from lab.figures import decision_map, loss_curves
from lab.init import INIT_LABELS, INIT_SPECS
from lab.params import make_config

PAGE = "mlp"
TRAINER_KEY = "mlp.trainer"
LIVE_SECONDS = 0.5  # redraw the output map at most this often while training
CSV_MAX_CLASSES = 6
TRAIN_SPECS = tuple(p for p in mlp.TRAIN_SPECS if p.name not in ("l1", "l1_clip", "l2"))
REG_SPECS = tuple(p for p in mlp.TRAIN_SPECS if p.name in ("l1", "l1_clip", "l2"))
INIT_NEEDS = {"sigma": "normal", "constant": "constant"}  # init setting → the scheme that uses it

info = ui.page_header(
    "2. MLP on nonlinear data",
    "A hidden layer **learns the features** a linear model needs. Pick a dataset, shape the network, press "
    "**▶ Train** and watch every neuron's picture of the plane change. Then break it: set every activation to "
    "*identity* (the layers collapse into one straight line) or initialise with *zeros* (every hidden unit stays "
    "identical).",
)
seed = ui.current_seed()
st.markdown(
    "Try: "
    + " · ".join(
        f"[{name}]({PAGE}?{query})"
        for name, query in (
            (
                "the spiral (2×8 tanh, Adam)",
                "dataset=spiral&noise=0.02&n=600&w1=8&w2=8&optimizer=adam&lr=0.02&batch_size=16",
            ),
            ("linear collapse", "dataset=xor&a1=identity&a2=identity&w1=8&w2=8&lr=0.1"),
            ("zero init", "dataset=circles&init=zeros&a1=sigmoid&a2=sigmoid&lr=0.5"),
            (
                "3-class spiral",
                "dataset=spiral&num_classes=3&noise=0.02&n=600&w1=8&w2=8&optimizer=adam&lr=0.02&batch_size=16&num_epochs=400",
            ),
            ("too high α", "dataset=circles&lr=10"),
            ("regression", "dataset=multi_gaussian&w1=8&w2=8&optimizer=adam&lr=0.01"),
        )
    )
    + " — each link opens the experiment with its settings; press **Train**."
)

# --- settings ----------------------------------------------------------------------------
# A teacher's link can open with the settings folded away (…&settings=closed): the class sees the pictures.
if f"{PAGE}.settings_closed" not in st.session_state:
    st.session_state[f"{PAGE}.settings_closed"] = st.query_params.get("settings") == "closed"
settings_closed = st.session_state[f"{PAGE}.settings_closed"]
with st.expander("Settings — data, network, training", expanded=not settings_closed, icon=":material/tune:"):
    c_data, c_net, c_train, c_init = st.columns(4)
    with c_data:
        st.markdown("**Data**")
        data_values = ui.controls(mlp.DATA_SPECS, f"{PAGE}.data", container=c_data)
        upload = st.file_uploader(
            "…or upload a CSV (x1, x2, label)",
            type=["csv"],
            key=f"{PAGE}.csv",
            help=f"Two numeric columns and a class label 0 … {CSV_MAX_CLASSES - 1}; at most {data2d.MAX_ROWS:,} rows.",
        )
    with c_net:
        st.markdown("**Network**")
        net_values = ui.controls(mlp.FEATURE_SPECS, f"{PAGE}.net", container=c_net)
        layer_specs = [spec for i in range(1, int(net_values["layers"]) + 1) for spec in mlp.layer_specs(i)]
        layer_values = ui.controls(layer_specs, f"{PAGE}.layers", container=c_net) if layer_specs else {}
    with c_train:
        st.markdown("**Training**")
        train_values = ui.controls(TRAIN_SPECS, f"{PAGE}.train", container=c_train)
    with c_init:
        st.markdown("**Initialisation & regularisation**")
        init_values = ui.controls(INIT_SPECS[:1], f"{PAGE}.init", container=c_init)
        init_specs = [*INIT_SPECS[:1], *(p for p in INIT_SPECS[1:] if INIT_NEEDS[p.name] == init_values["init"])]
        if len(init_specs) > 1:  # σ for the normal init, c for the constant init
            init_values |= ui.controls(init_specs[1:], f"{PAGE}.init.{init_values['init']}", container=c_init)
        train_values |= ui.controls(REG_SPECS, f"{PAGE}.reg", container=c_init)
        discretize = st.toggle(
            "Discretize output", key=f"{PAGE}.discretize", help="Hard class regions instead of probabilities."
        )
        show_test = st.toggle("Show test points", value=True, key=f"{PAGE}.show_test")

all_specs = (*mlp.DATA_SPECS, *mlp.FEATURE_SPECS, *layer_specs, *mlp.TRAIN_SPECS, *init_specs)
ui.sync_url(
    all_specs,
    {**data_values, **net_values, **layer_values, **train_values, **init_values},
    extra={"settings": "closed"} if settings_closed else None,
)

# --- configs -------------------------------------------------------------------------------
data_cfg = make_config(mlp.DataConfig, data_values, seed=seed)
dataset, data_key, csv_name = None, data_cfg, ""
if upload is not None:
    raw = upload.getvalue()
    try:
        X, y = data2d.parse_csv(raw, upload.name, max_classes=CSV_MAX_CLASSES)
        dataset = data2d.split(X, y, data_cfg.train_fraction, seed, upload.name)
        data_key, csv_name = (hashlib.sha256(raw).hexdigest(), data_cfg.train_fraction, seed), upload.name
        st.info(
            f"Using **{upload.name}**: {len(X):,} points, {dataset.num_classes} classes.", icon=":material/upload_file:"
        )
    except data2d.DataInputError as err:
        st.error(f"{err}\n\nUsing the generated dataset instead.", icon=":material/error:")
if dataset is None:
    dataset = mlp.make_data(data_cfg)

features = tuple(net_values["features"])
if not features:
    st.warning("Choose at least one input feature — using X₁ and X₂.")
    features = ("x1", "x2")
n_layers = int(net_values["layers"])
net_cfg = mlp.NetConfig(
    features=features,
    hidden=tuple(int(layer_values[f"w{i}"]) for i in range(1, n_layers + 1)),
    activations=tuple(layer_values[f"a{i}"] for i in range(1, n_layers + 1)),
    init=init_values["init"],
    sigma=float(init_values.get("sigma", INIT_SPECS[1].default)),
    constant=float(init_values.get("constant", INIT_SPECS[2].default)),
)
train_cfg = make_config(mlp.TrainConfig, train_values)
if dataset.task == "regression" and train_cfg.loss != "mse":
    st.caption("Regression data: the loss is the squared error (MSE).")

# --- the per-session run ----------------------------------------------------------------------
run_key = (data_key, net_cfg, seed, info.device)
trainer: mlp.Trainer | None = st.session_state.get(TRAINER_KEY)
if trainer is None or st.session_state.get(f"{TRAINER_KEY}.key") != run_key:
    if trainer is not None:
        st.toast("Data or network changed: a fresh network starts at epoch 0.", icon=":material/restart_alt:")
    trainer = mlp.Trainer.create(dataset, net_cfg, train_cfg, seed=seed, device=info.device)
    st.session_state[TRAINER_KEY], st.session_state[f"{TRAINER_KEY}.key"] = trainer, run_key
elif trainer.cfg != train_cfg and trainer.update(train_cfg) and trainer.epoch:
    st.toast("New optimiser settings: training continues from the current weights.", icon=":material/tune:")

# --- controls: reset / step / train / pause --------------------------------------------------
b_reset, b_step, b_train, b_pause, m_epoch = st.columns([1, 1, 1.6, 1, 1.2], vertical_alignment="center")
reset = b_reset.button(
    "Reset", icon=":material/restart_alt:", help="New random weights (same seed), epoch 0.", width="stretch"
)
step = b_step.button("Step", icon=":material/skip_next:", help="Train one epoch.", width="stretch")
train = b_train.button(
    f"Train {train_cfg.num_epochs} epochs",
    icon=":material/play_arrow:",
    type="primary",
    key=f"{PAGE}.train_button",
    width="stretch",
)
b_pause.button("Pause", icon=":material/pause:", help="Stop training now; Train continues from here.", width="stretch")
epoch_ph = m_epoch.empty()
progress_ph = st.empty()
if reset:
    trainer = mlp.Trainer.create(dataset, net_cfg, train_cfg, seed=seed, device=info.device)
    st.session_state[TRAINER_KEY] = trainer


def show_numbers() -> None:
    h = trainer.history
    epoch_ph.metric("Epoch", f"{trainer.epoch:,}")
    start = trainer.initial
    cells = [
        ("Train loss", h.last("loss", start.get("loss", float("nan"))), "{:.4f}"),
        ("Test loss", h.last("test_loss", start.get("test_loss", float("nan"))), "{:.4f}"),
    ]
    if dataset.task == "classification":
        cells += [
            ("Train accuracy", h.last("accuracy", start.get("accuracy", float("nan"))), "{:.1%}"),
            ("Test accuracy", h.last("test_accuracy", start.get("test_accuracy", float("nan"))), "{:.1%}"),
        ]
    numbers_ph.markdown(" · ".join(f"{name} **{fmt.format(value)}**" for name, value, fmt in cells))


# --- pictures ----------------------------------------------------------------------------------
col_net, col_out = st.columns([1.25, 1])
net_ph = col_net.empty()
with col_net.expander("Edit a weight by hand", icon=":material/edit:"):
    linears_now = mlp.linear_layers(trainer.model)
    e1, e2, e3, e4 = st.columns(4)
    layer_no = e1.selectbox(
        "Into layer",
        range(len(linears_now)),
        format_func=lambda i: "output" if i == len(linears_now) - 1 else f"hidden {i + 1}",
    )
    W_now = linears_now[layer_no].weight.detach()
    to = e2.number_input("to neuron", 1, W_now.shape[0], 1) - 1
    src = e3.number_input("from unit", 1, W_now.shape[1], 1) - 1
    value = e4.number_input("new w", -10.0, 10.0, float(W_now[to, src]), step=0.1, format="%.3f")
    if st.button("Set this weight", key=f"{PAGE}.set_weight"):
        old = trainer.set_weight(layer_no, to, src, value)
        st.caption(f"w changed from {old:+.4f} to {value:+.4f}: see the maps change (training continues from here).")
numbers_ph = col_out.empty()
out_ph = col_out.empty()


def output_figure(grid: mlp.GridOutputs):
    return mf.legend_below(_output_figure(grid))


def _output_figure(grid: mlp.GridOutputs):
    d = dataset
    X_test, y_test = (d.X_test, d.y_test) if show_test else (None, None)
    title = f"Output after {trainer.epoch:,} epochs"
    if d.task == "regression":
        return mf.regression_map(grid.xs, grid.ys, grid.output[0], d.X_train, d.y_train, X_test, y_test, title=title)
    if grid.output.shape[0] == 1:
        return decision_map(
            grid.xs, grid.ys, grid.output[0], d.X_train, d.y_train, X_test, y_test, title=title, discretize=discretize
        )
    return mf.class_map(
        grid.xs, grid.ys, grid.output, d.X_train, d.y_train, X_test, y_test, discretize=discretize, title=title
    )


def draw_network(grid: mlp.GridOutputs):
    linears = mlp.linear_layers(trainer.model)
    thumbs = [mf.neuron_images(grid.inputs, size=40)] + [mf.neuron_images(h, size=40) for h in grid.hidden]
    out = grid.output - 0.5 if grid.output.shape[0] == 1 and dataset.task == "classification" else grid.output
    thumbs.append(mf.neuron_images(out, size=40))
    return mf.network_figure(
        [layer.weight.detach().cpu().numpy() for layer in linears],
        [layer.bias.detach().cpu().numpy() for layer in linears],
        input_labels=[mlp.FEATURE_LABELS[f] for f in net_cfg.features],
        thumbnails=thumbs,
        title="The network: links blue < 0 < red, width ∝ |w| (hover for values)",
    )


if step or train:
    num = 1 if step else train_cfg.num_epochs
    bar = progress_ph.progress(0.0, text="Training…")
    last_draw = [time.perf_counter()]

    start = trainer.epoch

    def progress_for_click(p) -> None:
        done = p.step - start
        bar.progress(
            min(1.0, done / max(1, num)), text=f"Training: epoch {p.step:,} ({done:,}/{num:,}) · {p.elapsed:.1f} s"
        )
        show_numbers()
        if time.perf_counter() - last_draw[0] >= LIVE_SECONDS:
            live = trainer.grid_outputs(40)
            out_ph.image(
                mf.output_preview(live.output, dataset.bounds(), dataset.X_train, dataset.y_train, task=dataset.task),
                caption=f"Live: output after {p.step:,} epochs (train points)",
                width=420,
            )
            last_draw[0] = time.perf_counter()

    trainer.train(num, on_progress=progress_for_click, progress_seconds=0.2)
    progress_ph.empty()

show_numbers()
problem = trainer.diagnosis()
if problem:
    st.error(problem, icon=":material/warning:")

grid = trainer.grid_outputs(60)
out_ph.plotly_chart(output_figure(grid), width="stretch")
net_ph.plotly_chart(draw_network(grid), width="stretch")

# --- curves ------------------------------------------------------------------------------------
h = trainer.history
if h.steps:
    c1, c2 = st.columns(2)
    c1.plotly_chart(
        loss_curves(h.steps, h.metrics["loss"], h.metrics.get("test_loss"), x_title="epoch", title="Loss"),
        width="stretch",
    )
    if dataset.task == "classification":
        c2.plotly_chart(
            loss_curves(
                h.steps,
                h.metrics["accuracy"],
                h.metrics.get("test_accuracy"),
                x_title="epoch",
                y_title="accuracy",
                title="Accuracy",
            ),
            width="stretch",
        )
    else:
        c2.plotly_chart(
            loss_curves(
                h.steps, h.metrics["lr"], None, x_title="epoch", y_title="learning rate", title="Learning rate"
            ),
            width="stretch",
        )
else:
    st.caption("Press **▶ Train** or **⏭ Step**: loss and accuracy curves appear here.")

# --- deeper looks ----------------------------------------------------------------------------------
tab_neurons, tab_replay, tab_collapse, tab_sym, tab_backprop, tab_export = st.tabs(
    [
        "Every neuron",
        "Replay training",
        "Linear collapse",
        "Symmetry meter",
        "Backprop = chain rule",
        "Export weights & code",
    ]
)

with tab_replay:
    if len(trainer.replay) < 2:
        st.caption("Train first: the weights are kept at up to 120 epochs along the way to replay here.")
    else:
        epochs_kept = [snap.epoch for snap in trainer.replay]
        chosen = st.select_slider("Epoch", epochs_kept, value=epochs_kept[-1], help="Weights saved during training.")
        snap = next(s for s in trainer.replay if s.epoch == chosen)
        then = trainer.grid_outputs(60, state=snap.state)
        fig = output_figure(then)
        fig.update_layout(title={"text": f"Output at epoch {chosen:,}"})
        st.plotly_chart(fig, width="stretch")

with tab_neurons:
    st.caption(
        "What each unit computes over the plane (blue < 0 < red; one-signed maps in Viridis), each on its own scale."
    )
    rows = [("Inputs", grid.inputs, [mlp.FEATURE_LABELS[f] for f in net_cfg.features])]
    for i, hmap in enumerate(grid.hidden, start=1):
        rows.append(
            (f"Hidden layer {i} ({net_cfg.activations[i - 1]})", hmap, [f"neuron {j + 1}" for j in range(len(hmap))])
        )
    if dataset.task == "regression":
        rows.append(("Output ŷ", grid.output, ["ŷ"]))
    elif grid.output.shape[0] == 1:
        rows.append(("Output P(y = 1)", grid.output, ["P(y=1)"]))
    else:
        rows.append(
            ("Output: one map per class (softmax)", grid.output, [f"P(class {k})" for k in range(len(grid.output))])
        )
    for label, maps, captions in rows:
        st.markdown(f"**{label}**")
        st.image(mf.neuron_images(maps, size=96), caption=captions, width=96)

with tab_collapse:
    col = trainer.collapse()
    st.markdown(
        "With identity activations, layers multiply out into **one** linear layer: "
        r"$w'_i = \sum_j w^o_j\, w^h_{ij}$ and $b' = \sum_j w^o_j\, b^h_j + b^o$ (for deeper nets, keep multiplying). "
        "Below: w′ and b′ computed from the current weights, and how far the single layer's logits are from the network's "
        "(on every data point and a grid)."
    )
    names = [mlp.FEATURE_LABELS[f] for f in net_cfg.features]
    st.dataframe(
        {"output": [f"logit {k}" for k in range(col.weight.shape[0])]}
        | {f"w′ for {n}": col.weight[:, i] for i, n in enumerate(names)}
        | {"b′": col.bias},
        hide_index=True,
    )
    if col.linear:
        st.success(
            f"All activations are the identity: max |network − single layer| = **{col.max_diff:.2e}** (rounding only). "
            + (
                "With inputs X₁, X₂ the boundary w′·x + b′ = 0 is a **straight line**, however many layers you stack."
                if set(net_cfg.features) <= {"x1", "x2"}
                else "The model is linear in the chosen *features* (curved features give a curved boundary in the plane)."
            ),
            icon=":material/straighten:",
        )
    else:
        st.info(
            f"With nonlinear activations the layers do **not** collapse: max |network − single layer| = "
            f"**{col.max_diff:.3g}**. Set every hidden activation to *identity* to see the difference vanish.",
            icon=":material/moving:",
        )

with tab_sym:
    epochs = [e for e, _ in h.snapshots]
    gaps = [g for _, g in h.snapshots]
    if net_cfg.hidden:
        st.plotly_chart(mf.symmetry_chart(epochs, gaps), width="stretch")
        now = gaps[-1] if gaps else []
        st.markdown(
            "The meter is the largest difference between two hidden units' incoming weights (and biases) in each layer. "
            "**0 means every unit in the layer is the same function** — they get the same gradient and stay identical "
            f"forever. Now: {', '.join(f'layer {i + 1}: {g:.3g}' for i, g in enumerate(now))}. "
            f"Initialisation: *{INIT_LABELS[net_cfg.init]}*."
        )
        if net_cfg.init in ("zeros", "constant"):
            st.warning(
                "Symmetric start: whatever you train, the units in each layer stay identical — the network is only as "
                "expressive as one unit per layer. (With zeros and tanh/ReLU even less moves: only the output bias.) "
                "Pick a random initialisation to break the symmetry.",
                icon=":material/content_copy:",
            )
    else:
        st.caption("Add a hidden layer: the symmetry meter compares hidden units.")

with tab_backprop:
    checks = mlp.gradient_check(trainer)
    st.markdown(
        "Backpropagation is the chain rule, layer by layer from the output: δ = ∂L/∂z = (ŷ − y)/N at the output, then "
        r"$\partial L/\partial W_l = \delta_l^\top a_{l-1}$, $\partial L/\partial b_l = \sum_n \delta_l$, "
        r"$\delta_{l-1} = (\delta_l W_l) \odot f'(z_{l-1})$. `lab.mlp.manual_gradients` does exactly this by hand; "
        "here it is compared with PyTorch's autograd at the current weights (whole training set, no L1/L2)."
    )
    if checks is None:
        st.info("The by-hand version covers cross-entropy and regression; switch the loss to cross-entropy to compare.")
    else:
        st.dataframe(
            {
                "parameter": [c.name for c in checks],
                "max |by hand − autograd|": [f"{c.max_abs_diff:.2e}" for c in checks],
                "max |gradient|": [f"{c.max_abs_grad:.3g}" for c in checks],
            },
            hide_index=True,
        )

with tab_export:
    st.download_button(
        "Download weights (state_dict .pt)",
        trainer.state_dict_bytes(),
        file_name=f"mlp_epoch{trainer.epoch}.pt",
        mime="application/octet-stream",
        key=f"{PAGE}.download",
        help="torch.load(path, weights_only=True) and model.load_state_dict(...) with the nn.Sequential from the code.",
    )
    source = mlp.code_snippet(
        None if csv_name else data_cfg,
        net_cfg,
        train_cfg,
        seed=seed,
        num_epochs=max(trainer.epoch, 1),
        num_outputs=trainer.num_outputs,
        task=dataset.task,
        csv_name=csv_name,
        train_fraction=data_cfg.train_fraction,
    )
    st.caption(
        f"The code trains {max(trainer.epoch, 1):,} epochs from scratch with the settings on screen; on the CPU it gives "
        "bit-identical weights when the settings were not changed mid-run."
    )
    if trainer.edited:
        st.warning("You set a weight by hand during this run: the code reproduces the run without that edit.")
    ui.show_code(source, filename="mlp_playground.py")
    st.caption(f"Link state: every setting and the seed ({seed}) are in the URL — share it to reproduce this run.")
