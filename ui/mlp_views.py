"""Lab 2's deeper views under the live panel: one is computed per rerun (the page's radio picks it).

Neurons, Replay, Activations, Formula & collapse, Initialisation (with the
symmetry meter), L1 vs L2, Backprop, Code & weights. Streamlit rendering only:
the maths and the figures come from ``lab.mlp*``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

import ui
from lab import data2d, mlp
from lab import mlp_figures as mf
from lab import mlp_formulas as fm
from lab import mlp_live as live
from lab.init import INIT_LABELS

PAGE = "mlp"
L1L2_KEY = "mlp.l1l2"
VIEWS = (
    "Neurons",
    "Replay",
    "Activations",
    "Formula & collapse",
    "Initialisation",
    "L1 vs L2",
    "Backprop",
    "Code & weights",
)


def render(
    view: str,
    *,
    trainer: mlp.Trainer,
    dataset: data2d.Dataset2D,
    net_cfg: mlp.NetConfig,
    train_cfg: mlp.TrainConfig,
    data_cfg: mlp.DataConfig,
    seed: int,
    run_key: Any,
    device: str,
    csv_name: str,
    output_figure: Callable[[mlp.GridOutputs, str], Any],
) -> None:
    """Draw the view called ``view`` (one of :data:`VIEWS`) for the page's current run."""
    h = trainer.history
    if view == "Replay":
        if len(trainer.replay) < 2:
            st.caption("Train first: the weights are kept at up to 120 epochs along the way to replay here.")
        else:
            epochs_kept = [snap.epoch for snap in trainer.replay]
            chosen = st.select_slider(
                "Epoch", epochs_kept, value=epochs_kept[-1], help="Weights saved during training."
            )
            snap = next(s for s in trainer.replay if s.epoch == chosen)
            st.plotly_chart(output_figure(trainer.grid_outputs(60, state=snap.state), f"Output at epoch {chosen:,}"))

    elif view == "Neurons":
        grid_n = trainer.grid_outputs(48)
        st.caption(
            "What each unit computes over the plane, each on its own scale: blue < 0 < orange, white = 0 "
            "(the output: P = 0.5). The same colours as the points and the links."
        )
        rows = [("Inputs", grid_n.inputs, [mlp.FEATURE_LABELS[f] for f in net_cfg.features])]
        for i, hmap in enumerate(grid_n.hidden, start=1):
            rows.append(
                (
                    f"Hidden layer {i} ({net_cfg.activations[i - 1]})",
                    hmap,
                    [f"neuron {j + 1}" for j in range(len(hmap))],
                )
            )
        out_tiles = live.neuron_tiles(grid_n, dataset.task)[-1]
        if dataset.task == "regression":
            out_caps = ["ŷ"]
        elif len(out_tiles) == 1:
            out_caps = ["P(y=1)"]
        else:
            out_caps = [f"P(class {k})" for k in range(len(out_tiles))]
        for label, maps, captions in rows:
            st.markdown(f"**{label}**")
            st.image(mf.neuron_images(maps, size=96), caption=captions, width=96)
        st.markdown("**Output**")
        st.image([live.upscale(t, 96) for t in out_tiles], caption=out_caps, width=96)

    elif view == "Activations":
        st.markdown(
            "Every hidden unit computes f(Σᵢ wᵢ xᵢ + b) = f(a). Move the point along the curve: the derivative f′(a) "
            "is what backprop multiplies by. Where f′ ≈ 0 (σ and tanh far from 0, ReLU below 0) the gradient vanishes."
        )
        a1, a2 = st.columns([1, 2])
        act = a1.radio(
            "Activation", list(fm.ACTIVATION_FORMULAS), format_func=fm.ACTIVATION_NAMES.get, key=f"{PAGE}.act_view"
        )
        a0 = a1.slider("a", -6.0, 6.0, 1.0, 0.1, key=f"{PAGE}.act_point")
        typo = a1.toggle("Show the slide's 1/(1+eᵃ)", key=f"{PAGE}.act_typo") if act == "sigmoid" else False
        f_tex, d_tex = fm.ACTIVATION_FORMULAS[act]
        a1.latex(f_tex)
        a1.latex(d_tex)
        if act == "sigmoid":
            a1.caption(
                "The slide writes σ(a) = 1/(1+eᵃ), without the minus: that curve *falls* (it is σ(−a)). "
                "The logistic sigmoid is 1/(1+e⁻ᵃ)."
            )
        a2.plotly_chart(mf.activation_figure(act, a0, show_slide_typo=typo), width="stretch")

    elif view == "Formula & collapse":
        names = [mlp.FEATURE_LABELS[f] for f in net_cfg.features]
        tex_names = [f"x_{{{i + 1}}}" for i in range(len(names))]
        st.markdown(
            "The lecture's MLP with one hidden layer (the slide uses f = σ everywhere):"
            if dataset.task != "regression"
            else "The lecture's MLP with one hidden layer, for regression: the output ŷ is the raw sum (trained with "
            "MSE), with no σ on it:"
        )
        st.latex(fm.general_formula(dataset.task))
        with_numbers = fm.mlp_formula_latex(trainer.model, net_cfg.activations, tex_names, task=dataset.task)
        if with_numbers is not None:
            st.markdown(
                "With the current weights (rounded; inputs "
                + ", ".join(f"x{i + 1} = {n}" for i, n in enumerate(names))
                + "):"
            )
            st.latex(with_numbers)
        else:
            st.caption("With one hidden layer and one output, the formula appears here with the current numbers.")
        col = trainer.collapse()
        st.markdown("Without a nonlinearity (f(a) = a) the sums multiply out into **one** linear layer:")
        st.latex(fm.collapse_formula(dataset.task))
        if col.weight.shape[0] == 1:
            st.markdown(
                "The single layer w′, b′ computed from the current weights:"
                if col.linear
                else "The single layer w′, b′ the current weights would make **if every activation were the "
                "identity** (they are not, so the network is not this layer: see below):"
            )
            st.latex(fm.collapse_latex(col.weight, col.bias, tex_names, task=dataset.task))
        st.dataframe(
            {"output": ["ŷ"] if dataset.task == "regression" else [f"logit {k}" for k in range(col.weight.shape[0])]}
            | {f"w′ for {n}": col.weight[:, i] for i, n in enumerate(names)}
            | {"b′": col.bias},
            hide_index=True,
        )
        if col.linear:
            st.success(
                f"All activations are the identity: max |network − single layer| = **{col.max_diff:.2e}** (rounding "
                "only). "
                + (
                    "With inputs X₁, X₂ the prediction ŷ = w′·x + b′ is a **flat plane**, however many layers you stack."
                    if dataset.task == "regression" and set(net_cfg.features) <= {"x1", "x2"}
                    else "With inputs X₁, X₂ the boundary w′·x + b′ = 0 is a **straight line**, however many layers you "
                    "stack."
                    if set(net_cfg.features) <= {"x1", "x2"}
                    else "The model is linear in the chosen *features* (curved features give a curved "
                    + ("surface)." if dataset.task == "regression" else "boundary).")
                ),
                icon=":material/straighten:",
            )
        elif col.max_diff < 1e-9:
            st.info(
                "The activations are nonlinear, but at these weights the network and the single layer agree exactly "
                f"(max difference {col.max_diff:.1e}): every hidden unit is constant over the plane (zero or constant "
                "init keeps them so). That is not a collapse — start from a random init to see them differ.",
                icon=":material/info:",
            )
        else:
            st.info(
                f"With nonlinear activations the layers do **not** collapse: max |network − single layer| = "
                f"**{col.max_diff:.3g}**. Set every hidden activation to *identity* to see the difference vanish.",
                icon=":material/moving:",
            )

    elif view == "Initialisation":
        st.markdown("**Scaled inits keep the signal alive.** With fan_in inputs and fan_out outputs per layer:")
        st.latex(
            r"\text{Xavier/Glorot: } W \sim U\Bigl(-g\sqrt{\tfrac{6}{\text{fan\_in} + \text{fan\_out}}},\ "
            r"g\sqrt{\tfrac{6}{\text{fan\_in} + \text{fan\_out}}}\Bigr)"
        )
        st.latex(
            r"\text{He/Kaiming: } W \sim \mathcal{N}\Bigl(0,\ \tfrac{g^2}{\text{fan\_in}}\Bigr),\quad "
            r"g = \sqrt{2} \text{ for ReLU: } \mathcal{N}\bigl(0,\ \tfrac{2}{\text{fan\_in}}\bigr)"
        )
        st.markdown(
            "A unit sums fan_in terms wᵢxᵢ, so Var(a) = fan_in · Var(w) · Var(x): choosing Var(w) ∝ 1/fan_in keeps the "
            "spread the same from layer to layer (g corrects for what the activation removes; this page uses the gain "
            "of each layer's activation). The slide's small inits do not scale: with N(0, 0.01²) each layer multiplies "
            "the spread by 0.01·√fan_in (≈ 0.06 at 32 units), so after a few layers the output is constant — "
            "**and the gradient shrinks the same way on its way back**, so training barely moves: they sit at chance "
            "accuracy while Xavier learns. U(0, 0.1) is small *and* **not zero-mean** (mean 0.05): every weight is "
            "positive, so the units' weight vectors all point the same way — they start nearly alike and pass on a "
            "shifted, not centred, signal (see the mean in the forward plot's hover)."
        )
        act_now = net_cfg.activations[0] if net_cfg.activations and net_cfg.activations[0] != "identity" else "tanh"
        s1, s2, _ = st.columns([1, 1, 2])
        act_s = s1.selectbox(
            "Activation",
            list(fm.ACTIVATION_FORMULAS),
            index=list(fm.ACTIVATION_FORMULAS).index(act_now),
            format_func=fm.ACTIVATION_NAMES.get,
            key=f"{PAGE}.spread_act",
        )
        depth = s2.slider("Layers", 2, 10, 6, key=f"{PAGE}.spread_depth")
        spreads = fm.signal_spread(act_s, width=32, depth=depth, seed=seed)
        p1, p2 = st.columns(2)
        p1.plotly_chart(mf.spread_figure(spreads, what="activation"), width="stretch")
        p2.plotly_chart(mf.spread_figure(spreads, what="gradient"), width="stretch")
        st.caption(
            f"At initialisation, {depth} hidden layers of 32 units, standard-normal inputs (512 points), BCE against "
            "random labels. The slide's N(0, 0.01): σ = 0.01 (read as N(0, σ)) or σ = 0.1 (read as N(μ, σ²)) — both "
            "are in the plot and on the σ slider."
        )
        st.markdown("**Symmetry meter**")
        epochs = [e for e, _ in h.snapshots]
        gaps = [g for _, g in h.snapshots]
        if net_cfg.hidden:
            st.plotly_chart(mf.symmetry_chart(epochs, gaps), width="stretch")
            now = gaps[-1] if gaps else []
            st.markdown(
                "The meter is the largest difference between two hidden units' incoming weights (and biases) in each "
                "layer. **0 means every unit in the layer is the same function** — they get the same gradient and stay "
                f"identical forever. Now: {', '.join(f'layer {i + 1}: {g:.3g}' for i, g in enumerate(now))}. "
                f"Initialisation: *{INIT_LABELS[net_cfg.init]}*. A non-zero meter is necessary, not sufficient: the "
                "small inits break the symmetry yet stay at chance (above)."
            )
            if net_cfg.init in ("zeros", "constant"):
                st.warning(
                    "Symmetric start: whatever you train, the units in each layer stay identical — the network is only "
                    "as expressive as one unit per layer. (With zeros and tanh/ReLU even less moves: only the output "
                    "bias.) Pick a random initialisation to break the symmetry.",
                    icon=":material/content_copy:",
                )
        else:
            st.caption("Add a hidden layer: the symmetry meter compares hidden units.")

    elif view == "L1 vs L2":
        st.markdown(
            "The same network from the same start and batches, trained three times: no penalty, **L1** "
            "(l1·Σ|w|, Playground's clip at zero) and **L2** ((l2/2)·Σw²). L1 drives many weights to **exactly 0** "
            "(dead links: a sparse network); L2 shrinks every weight in proportion to its size and leaves none at 0."
        )
        r1, r2, r3 = st.columns(3)
        l1_rate = r1.select_slider("L1 rate", [0.001, 0.003, 0.01, 0.03, 0.1], 0.01, key=f"{PAGE}.cmp_l1")
        l2_rate = r2.select_slider("L2 rate", [0.001, 0.003, 0.01, 0.03, 0.1], 0.01, key=f"{PAGE}.cmp_l2")
        cmp_epochs = r3.select_slider("Epochs", [50, 100, 200, 400], 100, key=f"{PAGE}.cmp_epochs")
        cmp_key = (run_key, train_cfg, l1_rate, l2_rate, cmp_epochs)
        if st.button("Train the three", icon=":material/compare:", key=f"{PAGE}.cmp_go"):
            with st.spinner(f"Training 3 × {cmp_epochs} epochs…"):
                result = mlp.compare_l1_l2(
                    dataset,
                    net_cfg,
                    train_cfg,
                    l1=l1_rate,
                    l2=l2_rate,
                    num_epochs=cmp_epochs,
                    seed=seed,
                    device=device,
                )
            st.session_state[L1L2_KEY] = (cmp_key, result)
        stored = st.session_state.get(L1L2_KEY)
        if stored is not None and stored[0] == cmp_key:
            result = stored[1]
            st.plotly_chart(mf.weight_histograms(result.weights, result.exact_zeros), width="stretch")
            st.caption(
                "Test loss after training: "
                + " · ".join(f"{k} {v:.4f}" for k, v in result.test_loss.items())
                + ". Same optimiser, α and batch size as on the page."
            )
        else:
            st.caption("Press **Train the three** (it does not touch the network above).")

    elif view == "Backprop":
        checks = mlp.gradient_check(trainer)
        st.markdown(
            "Backpropagation is the chain rule, layer by layer from the output. At the output, δ = ∂L/∂z is "
            "(ŷ − y)/N for cross-entropy (σ or softmax output) and **2(ŷ − y)/N for the squared error** (regression); "
            r"then $\partial L/\partial W_l = \delta_l^\top a_{l-1}$, $\partial L/\partial b_l = \sum_n \delta_l$, "
            r"$\delta_{l-1} = (\delta_l W_l) \odot f'(z_{l-1})$. `lab.mlp.manual_gradients` does exactly this by hand; "
            "here it is compared with PyTorch's autograd at the current weights (whole training set, no L1/L2)."
        )
        if checks is None:
            st.info(
                "The by-hand version covers cross-entropy and regression; switch the loss to cross-entropy to compare."
            )
        else:
            st.dataframe(
                {
                    "parameter": [c.name for c in checks],
                    "max |by hand − autograd|": [f"{c.max_abs_diff:.2e}" for c in checks],
                    "max |gradient|": [f"{c.max_abs_grad:.3g}" for c in checks],
                },
                hide_index=True,
            )

    else:  # Code & weights
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
            f"The code trains {max(trainer.epoch, 1):,} epochs from scratch with the settings on screen; on the CPU it "
            "gives bit-identical weights when the settings were not changed mid-run. It needs only numpy and torch."
        )
        if trainer.edited:
            st.warning("You set a weight by hand during this run: the code reproduces the run without that edit.")
        ui.show_code(source, filename="mlp_playground.py")
        st.caption(f"Link state: every setting and the seed ({seed}) are in the URL — share it to reproduce this run.")
