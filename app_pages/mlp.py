"""Lab 2: an MLP on nonlinear data — TensorFlow Playground in PyTorch, and beyond.

Thin page: widgets → configs → ``lab.mlp.Trainer`` (kept per session in
``st.session_state``) → ``lab.mlp_live`` / ``lab.mlp_figures`` → render.

**Play** trains until Pause: the live panel (a fragment at the end of the
script, drawn into a container near the top) alternates a time slice of
training with a cheap frame (network with every neuron's map, output map,
curves, epoch counter). Any click outside the panel interrupts the loop
between frames; the trainer lives in session state, so nothing is lost, and
the rerun resumes playing with the new settings (learning rate, regularisation)
or restarts the network when the architecture changed.
"""

from __future__ import annotations

import hashlib
import math
import time

import streamlit as st

import ui
from lab import data2d, mlp
from lab import mlp_figures as mf
from lab import mlp_live as live
from lab.figures import loss_curves
from lab.init import INIT_SPECS
from lab.params import from_query, make_config, safe_text
from ui import mlp_views

PAGE = "mlp"
TRAINER_KEY = "mlp.trainer"
PLAY_KEY = "mlp.playing"
UNTIL_KEY = "mlp.play_until"  # set by "Train N epochs": play stops at this epoch
PLAY_LIMIT_KEY = "mlp.play_limit_s"  # tests shorten it; Play pauses itself after this long
PLAY_LIMIT_S = 600.0
CSV_MAX_CLASSES = 6
LR_SPEC = next(p for p in mlp.TRAIN_SPECS if p.name == "lr")
TRAIN_SPECS = tuple(p for p in mlp.TRAIN_SPECS if p.name not in ("lr", "l1", "l1_clip", "l2"))
REG_SPECS = tuple(p for p in mlp.TRAIN_SPECS if p.name in ("l1", "l1_clip", "l2"))
INIT_NEEDS = {"sigma": "normal", "constant": "constant"}  # init setting → the scheme that uses it
VIEWS = mlp_views.VIEWS

info = ui.page_header(
    "2. MLP on nonlinear data",
    "A hidden layer **learns the features** a linear model needs. Pick a dataset, shape the network, press "
    "**:material/play_arrow: Play** and watch every neuron's picture of the plane change. Then break it: set every "
    "activation to *identity* (the layers collapse into one straight line) or initialise with *zeros* (every hidden "
    "unit stays identical).",
)
seed = ui.current_seed()
st.markdown(
    "Try: "
    + " · ".join(
        f"[{name}]({PAGE}?{query})"
        for name, query in (
            (
                "the spiral (2×8 tanh, Adam)",
                "dataset=spiral&noise=0.02&n=600&w1=8&w2=8&optimizer=adam&lr=0.01&batch_size=16",
            ),
            ("linear collapse", "dataset=xor&a1=identity&a2=identity&w1=8&w2=8&lr=0.1"),
            ("zero init", "dataset=circles&init=zeros&a1=sigmoid&a2=sigmoid&lr=0.3"),
            ("L1 kills links", "dataset=circles&w1=8&w2=8&l1=0.01&lr=0.1"),
            (
                "3-class spiral",
                "dataset=spiral&num_classes=3&noise=0.02&n=600&w1=8&w2=8&optimizer=adam&lr=0.01&batch_size=16&num_epochs=400",
            ),
            ("too high α", "dataset=circles&lr=10"),
            ("regression", "dataset=multi_gaussian&w1=8&w2=8&optimizer=adam&lr=0.01"),
        )
    )
    + " — each link opens the experiment with its settings; press **Play**."
)


def ladder_control(spec, group: str, container) -> float:
    """A log slider on ``spec.options`` (Playground's learning rates), with the link/keep rules of ``ui.controls``.

    ``ui.controls`` builds log sliders from a 1-2-5 ladder, on which 0.03 does not exist.
    """
    key, keep = f"{group}.{spec.name}", f"_keep.{group}.{spec.name}"
    if key not in st.session_state:
        if keep in st.session_state:
            st.session_state[key] = st.session_state[keep]
        else:
            values, problems = from_query([spec], st.query_params.to_dict())
            st.session_state[key] = values[spec.name]
            if problems:
                st.warning("Some settings in the link were not valid:\n\n- " + "\n- ".join(problems))
    ladder = [float(o) for o in spec.options]
    value = float(st.session_state[key])
    st.session_state[key] = min(ladder, key=lambda o: abs(math.log(o) - math.log(max(value, 1e-300))))
    chosen = container.select_slider(
        spec.label, options=ladder, format_func=lambda v: f"{v:g}", key=key, help=spec.help or None
    )
    st.session_state[keep] = chosen
    return chosen


def set_sigma(value: float) -> None:
    st.session_state[f"{PAGE}.init.normal.sigma"] = value


# --- settings ----------------------------------------------------------------------------
# A teacher's link can open with the settings folded away (…&settings=closed): the class sees the pictures.
if f"{PAGE}.settings_closed" not in st.session_state:
    st.session_state[f"{PAGE}.settings_closed"] = st.query_params.get("settings") == "closed"
settings_closed = st.session_state[f"{PAGE}.settings_closed"]
with st.expander("Settings — data, network, training", expanded=not settings_closed, icon=":material/tune:"):
    c_data, c_net = st.columns(2)  # two by two: four columns truncate labels at 1000 px
    c_train, c_init = st.columns(2)
    with c_data:
        st.markdown("**Data**")
        data_values = ui.controls(mlp.DATA_SPECS, f"{PAGE}.data", container=c_data)
        upload = st.file_uploader(
            "…or upload a CSV (x1, x2, label)",
            type=["csv"],
            key=f"{PAGE}.csv",
            help=f"Two numeric columns and a class label 0 … {CSV_MAX_CLASSES - 1}; at most {data2d.MAX_ROWS:,} rows.",
            max_upload_size=20,  # MB; the loader re-checks it on the server (widget limits are browser-side)
        )
    with c_net:
        st.markdown("**Network**")
        net_values = ui.controls(mlp.FEATURE_SPECS, f"{PAGE}.net", container=c_net)
        layer_specs = [spec for i in range(1, int(net_values["layers"]) + 1) for spec in mlp.layer_specs(i)]
        layer_values = ui.controls(layer_specs, f"{PAGE}.layers", container=c_net) if layer_specs else {}
    with c_train:
        st.markdown("**Training**")
        train_values = {"lr": ladder_control(LR_SPEC, f"{PAGE}.train", c_train)}
        train_values |= ui.controls(TRAIN_SPECS, f"{PAGE}.train", container=c_train)
    with c_init:
        st.markdown("**Initialisation & regularisation**")
        init_values = ui.controls(INIT_SPECS[:1], f"{PAGE}.init", container=c_init)
        init_specs = [*INIT_SPECS[:1], *(p for p in INIT_SPECS[1:] if INIT_NEEDS[p.name] == init_values["init"])]
        if len(init_specs) > 1:  # σ for the normal init, c for the constant init
            init_values |= ui.controls(init_specs[1:], f"{PAGE}.init.{init_values['init']}", container=c_init)
        if init_values["init"] == "normal":
            st.caption("The slide's N(0, 0.01), read two ways:")
            s1, s2 = st.columns(2)
            s1.button("σ = 0.01", on_click=set_sigma, args=(0.01,), help="0.01 is the standard deviation σ.")
            s2.button("σ = 0.1", on_click=set_sigma, args=(0.1,), help="N(μ, σ²): 0.01 is the variance, σ = 0.1.")
        train_values |= ui.controls(REG_SPECS, f"{PAGE}.reg", container=c_init)
        st.caption(
            "L2 here is (λ/2)·‖W‖²: gradient λ·W — the same λ as PyTorch's `weight_decay` and Playground's L2. "
            "With Adam, coupled L2 is rescaled per weight (that is not weight decay; decoupled decay is AdamW)."
        )
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
    shown = safe_text(upload.name, 60)  # user text; the messages below (the parser's too) are Markdown
    try:
        X, y = data2d.parse_csv(raw, shown, max_classes=CSV_MAX_CLASSES)
        dataset = data2d.split(X, y, data_cfg.train_fraction, seed, upload.name)
        data_key, csv_name = (hashlib.sha256(raw).hexdigest(), data_cfg.train_fraction, seed), upload.name
        st.info(f"Using **{shown}**: {len(X):,} points, {dataset.num_classes} classes.", icon=":material/upload_file:")
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


def fresh_trainer() -> mlp.Trainer:
    trainer = mlp.Trainer.create(dataset, net_cfg, train_cfg, seed=seed, device=info.device)
    st.session_state[TRAINER_KEY], st.session_state[f"{TRAINER_KEY}.key"] = trainer, run_key
    return trainer


trainer: mlp.Trainer | None = st.session_state.get(TRAINER_KEY)
if trainer is None or st.session_state.get(f"{TRAINER_KEY}.key") != run_key:
    if trainer is not None:
        st.toast("Data or network changed: a fresh network starts at epoch 0.", icon=":material/restart_alt:")
    trainer = fresh_trainer()
elif trainer.cfg != train_cfg and trainer.update(train_cfg) and trainer.epoch:
    st.toast("New optimiser settings: training continues from the current weights.", icon=":material/tune:")


def on_play() -> None:
    st.session_state[PLAY_KEY] = True


def on_pause() -> None:
    st.session_state[PLAY_KEY] = False
    st.session_state.pop(UNTIL_KEY, None)


def on_train_n() -> None:
    """Train N epochs = play until epoch + N (the same live frames), then pause."""
    st.session_state[PLAY_KEY] = True
    st.session_state[UNTIL_KEY] = st.session_state[TRAINER_KEY].epoch + int(
        st.session_state[f"{PAGE}.train.num_epochs"]
    )


# --- controls: reset / step / play-pause / train N ---------------------------------------------
if trainer.history.status == "diverged":  # nothing left to play: NaN weights (the page says why)
    on_pause()
playing = bool(st.session_state.get(PLAY_KEY, False))
b_reset, b_step, b_play, b_train = st.columns([1, 1, 1.1, 1.7], vertical_alignment="center")
reset = b_reset.button(
    "Reset",
    icon=":material/restart_alt:",
    help="New random weights (same seed), epoch 0.",
    width="stretch",
    on_click=on_pause,
)
step = b_step.button("Step", icon=":material/skip_next:", help="Train one epoch.", width="stretch", on_click=on_pause)
b_play.button(  # one key for both faces: the same element flips in place (no stale twin while playing)
    "Pause" if playing else "Play",
    icon=":material/pause:" if playing else ":material/play_arrow:",
    type="secondary" if playing else "primary",
    help="Stop here; Play continues."
    if playing
    else "Train until Pause, redrawing every neuron several times a second.",
    width="stretch",
    on_click=on_pause if playing else on_play,
    key=f"{PAGE}.play_pause",
)
train = b_train.button(
    f"Train {train_cfg.num_epochs} epochs",
    icon=":material/fast_forward:",
    key=f"{PAGE}.train_button",
    width="stretch",
    on_click=on_train_n,
)
if reset:
    trainer = fresh_trainer()
live_box = st.container()
view = st.radio("Look deeper", VIEWS, horizontal=True, key=f"{PAGE}.view", label_visibility="collapsed")
view_box = st.container()


# --- the live panel --------------------------------------------------------------------------------
def numbers_text() -> str:
    now = trainer.metrics_now()
    cells = [("Train loss", now["loss"], "{:.4f}"), ("Test loss", now["test_loss"], "{:.4f}")]
    if dataset.task == "classification":
        cells += [("Train accuracy", now["accuracy"], "{:.1%}"), ("Test accuracy", now["test_accuracy"], "{:.1%}")]
    text = " · ".join(f"{name} **{fmt.format(value)}**" for name, value, fmt in cells)
    if train_cfg.l1:
        zeros, total = trainer.zero_weights()
        text += f" · exact zeros **{zeros} of {total}** weights"
    return text


def output_figure(grid: mlp.GridOutputs, title: str):
    d = dataset
    X_test, y_test = (d.X_test, d.y_test) if show_test else (None, None)
    if d.task == "regression":
        fig = mf.regression_map(grid.xs, grid.ys, grid.output[0], d.X_train, d.y_train, X_test, y_test, title=title)
    elif grid.output.shape[0] == 1:
        fig = mf.binary_map(
            grid.xs, grid.ys, grid.output[0], d.X_train, d.y_train, X_test, y_test, title=title, discretize=discretize
        )
    else:
        fig = mf.class_map(
            grid.xs, grid.ys, grid.output, d.X_train, d.y_train, X_test, y_test, discretize=discretize, title=title
        )
    return mf.legend_below(fig)


def curve_figures():
    h = trainer.history
    loss = loss_curves(h.steps, h.metrics["loss"], h.metrics.get("test_loss"), x_title="epoch", title="Loss")
    if dataset.task == "classification":
        second = loss_curves(
            h.steps,
            h.metrics["accuracy"],
            h.metrics.get("test_accuracy"),
            x_title="epoch",
            y_title="accuracy",
            title="Accuracy",
        )
        second.update_yaxes(range=[0, 1.02])  # never auto-zoom to 0.495…0.505
    else:
        second = loss_curves(h.steps, h.metrics["lr"], None, x_title="epoch", y_title="α", title="Learning rate")
        second.update_yaxes(range=[0, 1.15 * max(h.metrics["lr"])])
    return loss, second


def draw_frame(slots, note: str = "") -> None:
    """One cheap redraw while training (Play or Train N): pictures as data URIs, numbers, epoch."""
    f = live.frame(trainer, show_test=show_test)
    slots["epoch"].metric("Epoch", f"{trainer.epoch:,}")
    slots["numbers"].markdown(numbers_text() + note)
    slots["net"].image(f.network, caption="Playing: blue < 0 < orange, dotted = dead link (w = 0)", width="stretch")
    slots["out"].image(f.output, caption=f"Output after {trainer.epoch:,} epochs", width="stretch")
    slots["curves"].image(f.curves, caption="loss (train dark, test light)", width="stretch")


def enlarge(grid: mlp.GridOutputs, column: int, unit: int) -> None:
    """A clicked neuron, large, with its caption."""
    tiles = live.neuron_tiles(grid, dataset.task)
    if column >= len(tiles) or unit >= len(tiles[column]):
        return
    if column == 0:
        name = f"input {mlp.FEATURE_LABELS[net_cfg.features[unit]]}"
    elif column == len(tiles) - 1:
        name = f"output {unit + 1}" if len(tiles[column]) > 1 else "output"
    else:
        name = f"hidden layer {column}, neuron {unit + 1}"
    st.image(live.upscale(tiles[column][unit], 220), caption=name, width=220)


def weight_editor(selected_link: list | None) -> None:
    linears = mlp.linear_layers(trainer.model)
    if selected_link is not None:  # a click on a link picks it in the editor
        layer, to, src = (int(v) for v in selected_link[:3])
        st.session_state[f"{PAGE}.edit.layer"] = layer
        st.session_state[f"{PAGE}.edit.to"] = to + 1
        st.session_state[f"{PAGE}.edit.src"] = src + 1
    edited = st.session_state.pop(f"{PAGE}.edited", None)
    if edited is not None:  # outside the expander: visible even when it is folded
        st.caption(
            f"w changed from {edited[0]:+.4f} to {edited[1]:+.4f}: see the maps change (training continues from here)."
        )
    opened = selected_link is not None or edited is not None
    with st.expander("Edit a weight by hand (or click a link)", icon=":material/edit:", expanded=opened):
        e1, e2, e3, e4 = st.columns(4)
        layer_no = e1.selectbox(
            "Into layer",
            range(len(linears)),
            format_func=lambda i: "output" if i == len(linears) - 1 else f"hidden {i + 1}",
            key=f"{PAGE}.edit.layer",
        )
        W_now = linears[layer_no].weight.detach()
        for k, hi in (("to", W_now.shape[0]), ("src", W_now.shape[1])):
            if st.session_state.get(f"{PAGE}.edit.{k}", 1) > hi:
                st.session_state[f"{PAGE}.edit.{k}"] = 1
        to = e2.number_input("to neuron", 1, W_now.shape[0], key=f"{PAGE}.edit.to") - 1
        src = e3.number_input("from unit", 1, W_now.shape[1], key=f"{PAGE}.edit.src") - 1
        value = e4.number_input("new w", -10.0, 10.0, float(W_now[to, src]), step=0.1, format="%.3f")
        if st.button("Set this weight", key=f"{PAGE}.set_weight"):
            old = trainer.set_weight(layer_no, to, src, value)
            st.session_state[f"{PAGE}.edited"] = (old, value)
            st.rerun()  # every number and picture from the new weight


@ui.fragment
def live_panel() -> None:
    global playing
    c_epoch, c_numbers = st.columns([1, 5], vertical_alignment="center")
    epoch_ph, numbers = c_epoch.empty(), c_numbers.empty()
    # The network gets the full width (square tiles stay visible at 1000 px), output and curves share a row below.
    slots = {"epoch": epoch_ph, "numbers": numbers, "net": st.empty()}
    extra = st.container()
    col_out, col_curves = st.columns(2)
    slots |= {"out": col_out.empty(), "curves": col_curves.empty()}
    if playing and trainer.history.status != "diverged":
        # A public server bounds one press of Play (lab.limits); the page says so when it applies.
        limit = float(ui.apply_cap("mlp.play_seconds", float(st.session_state.get(PLAY_LIMIT_KEY, PLAY_LIMIT_S))))
        until = st.session_state.get(UNTIL_KEY)
        # Training is heavy work: it waits for a free core in the process-wide queue (ui.jobs).
        with ui.heavy_job("Lab 2: Play", key=f"{PAGE}.play") as ticket:
            started = time.perf_counter()
            draw_s = draw_cpu = 0.0
            while time.perf_counter() - started < limit and (until is None or trainer.epoch < until):
                left = None if until is None else until - trainer.epoch
                live.play_slice(
                    trainer, live.slice_seconds(draw_s), max_epochs=left, last_draw_cpu=draw_cpu, pause=ui.give_way
                )
                t0, c0 = time.perf_counter(), time.thread_time()
                draw_frame(slots)
                draw_s, draw_cpu = time.perf_counter() - t0, time.thread_time() - c0
                # ticket.should_stop: a pause point (light reruns of other sessions go first), then "cancelled?"
                if trainer.history.status == "diverged" or trainer.diagnosis() or ticket.should_stop():
                    break
        on_pause()
        playing = False
        st.rerun()  # the interactive pictures, and the Play button back
    epoch_ph.metric("Epoch", f"{trainer.epoch:,}")
    numbers.markdown(numbers_text())
    grid = trainer.grid_outputs(60)
    linears = mlp.linear_layers(trainer.model)
    thumbs = live.neuron_tiles(trainer.grid_outputs(32), dataset.task)
    net_fig = mf.network_figure(
        [layer.weight.detach().cpu().numpy() for layer in linears],
        [layer.bias.detach().cpu().numpy() for layer in linears],
        input_labels=[mlp.FEATURE_LABELS[f] for f in net_cfg.features],
        thumbnails=thumbs,
        title="The network: blue < 0 < orange · click a neuron or a link",
    )
    event = slots["net"].plotly_chart(
        net_fig, width="stretch", on_select="rerun", selection_mode="points", key=f"{PAGE}.net_chart"
    )
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    picked = points[0].get("customdata") if points else None
    with extra:
        if picked is not None and len(picked) == 2:
            enlarge(grid, int(picked[0]), int(picked[1]))
        weight_editor(picked if picked is not None and len(picked) == 4 else None)
    slots["out"].plotly_chart(output_figure(grid, f"Output after {trainer.epoch:,} epochs"), width="stretch")
    if trainer.history.steps:
        loss_fig, second = curve_figures()
        with slots["curves"].container():
            st.plotly_chart(loss_fig, width="stretch")
            st.plotly_chart(second, width="stretch")
    else:
        slots["curves"].caption(
            "Press :material/play_arrow: **Play** or :material/skip_next: **Step**: the loss and accuracy curves "
            "appear here."
        )


if step:
    trainer.train(1)

problem = trainer.diagnosis()
if problem:
    st.session_state[PLAY_KEY] = playing = False
    st.error(problem, icon=":material/warning:")

# --- deeper looks (only the chosen one is computed) ------------------------------------------------
with view_box:
    mlp_views.render(
        view,
        trainer=trainer,
        dataset=dataset,
        net_cfg=net_cfg,
        train_cfg=train_cfg,
        data_cfg=data_cfg,
        seed=seed,
        run_key=run_key,
        device=info.device,
        csv_name=csv_name,
        output_figure=output_figure,
    )

with live_box:
    live_panel()
