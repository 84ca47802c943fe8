"""Lab 5 — data augmentation: one image becomes many (images, sound, and as a regulariser)."""

from __future__ import annotations

import dataclasses
import hashlib
import io
from pathlib import Path

import streamlit as st
from PIL import Image

import ui
from lab import audio as au
from lab import augment as A
from lab import augment_training as AT
from lab.audio_code import augment_code, read_wav16
from lab.params import from_query, make_config, safe_text

PAGE = "augmentation"
DRAW_KEY = f"{PAGE}.draw"
SOUND_DRAW_KEY = f"{PAGE}.sound_draw"  # counts the sound tab's Resample clicks (in the link as snd_draw)
LABELS_KEY = f"{PAGE}.labels"
TAB_KEY = f"{PAGE}.tab"
TAB_DEFAULT_KEY = f"{PAGE}.tab_default"  # the tabs' default: the link's (or last) tab when they first appear
#: The tabs, by their name in the link (``?tab=sound``); the first one is the default.
TABS = {
    "images": ":material/photo_library: Images",
    "sound": ":material/graphic_eq: Sound",
    "train": ":material/model_training: As a regulariser",
}
TRAINER_KEY = f"{PAGE}.trainer"  # the AT.Comparer of the last "Train both": it continues across reruns
TRAINING_KEY = f"{PAGE}.training"  # True while it should keep training (False after Stop or when done)

info = ui.page_header(
    "5. Data augmentation",
    "*“We can get N times more data by tweaking images. If you rotate a cat image by 15°, it's still a cat.”* "
    "Build a pipeline from torchvision's `transforms.v2`, draw a grid of random copies, check whether the "
    "label survives, do the same to a sound, and see augmentation regularise a small CNN.",
)

# --- cached work (explicit keys: tensors cannot be hashed) ---------------------------------------


@st.cache_data(max_entries=24, show_spinner=False)
def _preview(key: str, _image, _config: A.PipelineConfig, num_samples: int, side: int, seed: int, draw: int):
    # Tiny images: the CPU is faster than a GPU round trip, and it matches the generated code bit for bit.
    return A.preview(_image, _config, num_samples=num_samples, side=side, seed=seed, draw=draw, device="cpu")


@st.cache_resource(show_spinner="Loading GoogLeNet from the torch hub cache…")
def _googlenet(device: str):
    # Shared by all sessions: inference only (eval, inference_mode), never trained, no hooks.
    return A.load_googlenet(device)


@st.cache_data(max_entries=16, show_spinner=False)
def _labels(key: str, _images, device: str):
    return A.top1(_googlenet(device), _images, device=device)


@st.cache_data(max_entries=16, show_spinner=False)
def _image_tensor(digest: str, _array):
    return A.to_tensor(_array)


@st.cache_data(max_entries=4, show_spinner=False)
def _png(digest: str, _array) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(_array).save(buf, format="PNG")
    return buf.getvalue()


@st.cache_data(max_entries=8, show_spinner=False)
def _grid_jpegs(key: str, _arrays) -> list[bytes]:
    """The grid's cells encoded once per preview: JPEG at quality 95 without chroma subsampling.

    Noise and posterize bands survive it (errors of a grey level or two); PNG took 12× longer
    (~90 ms for 16 cells of noise: it does not compress) for no visible difference.
    """
    out = []
    for a in _arrays:
        buf = io.BytesIO()
        Image.fromarray(a).save(buf, format="JPEG", quality=95, subsampling=0)
        out.append(buf.getvalue())
    return out


@st.cache_data(max_entries=16, show_spinner=False)
def _sound(key: str, _x, config: au.AudioConfig, seed: int):
    # The page augments exactly what the "before" WAV holds, so the code box reproduces "after" sample for sample.
    wav_before = au.to_wav(_x)
    result = au.augment(read_wav16(wav_before)[1], config, seed=seed)
    return result, wav_before, au.to_wav(result.after)


@st.cache_resource(max_entries=8, show_spinner=False)
def _sound_figures(key: str, _before, _after, sr: int):
    """Waveform and spectrogram figures, built once per sound (read-only afterwards: shared, not copied)."""
    return au.waveform_figure(_before, _after, sr), au.spectrogram_figure(_before, _after, sr)


def _training_results(comparer: AT.Comparer, train_config: AT.TrainConfig) -> None:
    """The comparison so far: a notice if it was stopped, the metrics, the curves."""
    run_config, comparison = comparer.config, comparer.comparison()
    if not comparer.done:
        st.warning(
            f"Training was stopped after {comparer.epoch} of {run_config.tr_epochs} epochs (you pressed **Stop "
            "training**). Both runs trained the same epochs, so the curves below still compare like with like.",
            icon=":material/stop_circle:",
        )
        st.button(
            "Continue training",
            icon=":material/resume:",
            on_click=st.session_state.__setitem__,
            args=(TRAINING_KEY, True),
            help="Train the remaining epochs with the settings this run started with.",
        )
    if run_config != train_config:
        st.caption("The settings changed since this run started — press **Train both** to run with the new ones.")
    for h in (comparison.plain, comparison.augmented):
        if h.status == "diverged":
            st.error(h.reason)
    if comparer.epoch == 0:
        return
    # In percentage points rounded as shown, so the deltas add up on screen.
    plain, augmented = (round(comparison.final(h) * 100, 1) for h in (comparison.plain, comparison.augmented))
    gap_plain, gap_aug = round(comparison.gap_plain * 100, 1), round(comparison.gap_augmented * 100, 1)
    m1, m2, m3 = st.columns(3)
    m1.metric("Validation accuracy, without", f"{plain:.1f}%")
    m2.metric("…with augmentation", f"{augmented:.1f}%", delta=f"{augmented - plain:+.1f} points")
    m3.metric(
        "Overfitting gap (train − val)",
        f"{gap_aug:.1f} points",
        delta=f"{gap_aug - gap_plain:+.1f} vs without",
        delta_color="inverse",
        help="Training accuracy minus validation accuracy, with augmentation; the delta compares it with the run "
        "without.",
    )
    st.plotly_chart(AT.comparison_figure(comparison), width="stretch")
    st.caption("Accuracies are means over the last 5 epochs. Small data, one seed: change the seed to see the spread.")


def _bump_draw(key: str = DRAW_KEY) -> None:
    st.session_state[key] = (st.session_state.get(key, 0) + 1) % 1000


seed = ui.current_seed()
url_specs: list = []
url_values: dict = {}

# The open tab is kept in the session and in the link (?tab=sound), so a shared link opens the same view.
# ``default`` is part of the tabs' widget id, so it changes only when the tabs have no state yet: a default
# that followed every switch would make a new widget each time, and a click during a run could snap back.
if TAB_KEY not in st.session_state:  # first time in this session (or back from another page)
    linked_tab = st.query_params.get("tab")
    kept_tab = st.session_state.get(f"_keep.{TAB_KEY}")
    st.session_state[TAB_DEFAULT_KEY] = TABS[
        kept_tab if kept_tab in TABS else (linked_tab if linked_tab in TABS else "images")
    ]
    if linked_tab is not None and linked_tab not in TABS:
        st.warning(f"The link's **tab** is not one of this page's tabs ({', '.join(TABS)}); showing the images.")
tab_images, tab_sound, tab_train = st.tabs(
    list(TABS.values()), key=TAB_KEY, on_change="rerun", default=st.session_state[TAB_DEFAULT_KEY]
)
tab_slug = next((slug for slug, label in TABS.items() if label == st.session_state.get(TAB_KEY)), "images")
st.session_state[f"_keep.{TAB_KEY}"] = tab_slug
# A closed tab draws its controls and uploader (so their state, the link and an upload stay), not its
# outputs: the photo grid, the sound's figures and players are built, sent and drawn only when they can be
# seen (the spectrogram alone was a 0.75 MB message on every first load). Opening a tab reruns the page.
# The regulariser tab is drawn whole: its training continues across reruns, whichever tab is open.

MAX_CELL_PX = 384  # grid cells are shown at the preview's width; wider ones (panoramas) span the column
CAPTIONS_KEY = f"{PAGE}.full_captions"
DETAIL_KEY = f"{PAGE}.detail"


@ui.fragment
def _detail_view(config: A.PipelineConfig, result: A.Preview, encoded: list[bytes], verdicts: list[str] | None) -> None:
    """One cell, large, with its drawn parameters as a table (a fragment: picking a cell redraws only this)."""
    options = list(range(len(encoded)))
    if st.session_state.get(DETAIL_KEY) not in options:
        st.session_state[DETAIL_KEY] = min(1, options[-1])
    pick = ui.sticky(
        st.selectbox,
        "Look closer at",
        options,
        key=DETAIL_KEY,
        format_func=lambda i: "the original" if i == 0 else f"sample #{i}",
        help="See one cell large, with the parameters drawn for it in words.",
    )
    h, w = result.size
    if pick == 0:
        st.image(encoded[0], caption=f"the original at the preview size, {w}×{h} px", width="stretch")
        st.markdown("The input of every sample: the photo resized once to the preview size.")
        if verdicts:
            st.markdown(f"GoogLeNet sees **{verdicts[0]}**.")
        return
    st.image(encoded[pick], caption=f"sample #{pick} · seed {result.seeds[pick - 1]} · {w}×{h} px", width="stretch")
    rows = A.detail_rows(config, result.drawn[pick - 1])
    if verdicts:
        rows.append(("GoogLeNet top-1", "class (probability)", verdicts[pick]))
    if rows:  # a static table: long values wrap instead of hiding behind a scroll bar
        st.table({k: [r[i] for r in rows] for i, k in enumerate(("transform", "parameter", "drawn value"))})
    else:
        st.markdown("No transform is switched on: this sample equals the original.")


# ============================================================== images
with tab_images:
    left, right = st.columns([1.5, 2.5], gap="medium")  # toggles with a help icon need ~200 px on a 1000 px window
    with left:
        loaded = ui.image_input(f"{PAGE}.image", min_side=16)
        preview_values = ui.controls(A.PREVIEW_SPECS[:2], page=f"{PAGE}.preview")
        url_specs += A.PREVIEW_SPECS[:2]
        url_values.update(preview_values)
        if DRAW_KEY not in st.session_state:  # a shared link may carry the draw counter
            st.session_state[DRAW_KEY] = from_query([A.PREVIEW_SPECS[2]], st.query_params.to_dict())[0]["draw"]
        st.button(
            "Resample",
            icon=":material/casino:",
            on_click=_bump_draw,
            help="Draw new random parameters for every sample (the seed stays; the draw counter moves on).",
            width="stretch",
        )
        st.markdown("**Pipeline** — switch transforms on, tune them below:")
        pipeline_values: dict = {}
        for group in A.GROUPS:
            with st.expander(group, expanded=group == "Geometry"):
                for t in (t for t in A.TRANSFORMS if t.group == group):
                    on = ui.controls([t.toggle], page=f"{PAGE}.on.{t.key}")[t.key]
                    pipeline_values[t.key] = on
                    url_specs.append(t.toggle)
                    if on and t.params:
                        with st.container(border=True):
                            pipeline_values.update(ui.controls(t.params, page=f"{PAGE}.set.{t.key}"))
                            url_specs += t.params
        url_values.update(pipeline_values)
        check_labels = st.toggle(
            "Does the label survive? (GoogLeNet top-1)",
            key=f"{PAGE}.labels_on",
            help="Classify the original and every sample with ImageNet-pretrained GoogLeNet.",
        )

    config = A.PipelineConfig.from_values(pipeline_values)
    draw = int(st.session_state[DRAW_KEY])
    num_samples, side = int(preview_values["num_samples"]), int(preview_values["side"])
    ui.restore(CAPTIONS_KEY)  # the outputs' own widgets keep their state while the tab is closed
    ui.restore(DETAIL_KEY)
    if tab_slug == "images":
        array = loaded.to_array()
        digest = hashlib.sha256(array.tobytes() + str(array.shape).encode()).hexdigest()
        image = _image_tensor(digest, array)
        photo_file = f"{Path(loaded.name).stem}_dl101.png"
        key = f"{digest}|{config!r}|{num_samples}|{side}|{seed}|{draw}"
        try:
            result = _preview(key, image, config, num_samples, side, seed, draw)
        except (ValueError, RuntimeError) as err:  # a safety net: every setting in range is tested on tiny photos
            result = None
            right.error(
                f"The pipeline could not run on this {array.shape[1]}×{array.shape[0]} photo: {err}\n\n"
                "Switch off the last transform you turned on, or choose a larger preview size. "
                "The sound and regulariser tabs still work.",
                icon=":material/error:",
            )

        labels = None
        if check_labels and result is not None:
            if A.googlenet_available():
                with st.spinner("GoogLeNet is looking at every sample…"):
                    original_t = A.to_tensor(result.original)
                    labels = _labels(key, [original_t, *result.tensors], info.device)
            else:
                st.info(
                    f"GoogLeNet's ImageNet weights are not in the torch hub cache (`{A.googlenet_checkpoint()}`), "
                    "and this lab never downloads. Skipping the label check. To enable it, run once with internet "
                    'access: `python -c "from torchvision.models import googlenet, GoogLeNet_Weights as W; '
                    'googlenet(weights=W.IMAGENET1K_V1)"`.',
                    icon=":material/cloud_off:",
                )

        if result is not None:
            with right:
                h, w = result.size
                names = ", ".join(t.title for t in config.specs) or "nothing (every sample equals the original)"
                st.caption(
                    f"**{num_samples} samples** at {w}×{h} px · pipeline: {names} · seeds {result.seeds[0]}…{result.seeds[-1]} "
                    f"(draw {draw}) · drawn in {result.seconds * 1000:.0f} ms"
                )
                if max(h, w) > side:
                    st.caption(
                        f"This photo is very elongated: its samples keep a short side of {min(h, w)} px, so they are "
                        f"{max(h, w)} px long (more than the {side} px preview size) and shown across the column."
                    )
                # One grid over the whole preview column: the original in the first cell, then the samples,
                # as many to a row as fit (a wrapping flex row of fixed-width cells: narrow windows get fewer).
                # Cells are shown at the preview's own width, so the preview size changes what you see.
                verdicts = [""] * (num_samples + 1)
                if labels:
                    verdicts = [f"{labels[0].name} ({labels[0].prob:.0%})"]
                    for lab in labels[1:]:
                        same = "✓" if lab.index == labels[0].index else "✗"
                        verdicts.append(f"{same} {lab.name} ({lab.prob:.0%})")
                full = st.session_state.get(CAPTIONS_KEY, False)
                cells = [(result.original, "**original**" + (f" · {verdicts[0]}" if labels else ""))]
                for i, parts in enumerate(result.captions):
                    text = f"#{i + 1}"
                    if full:
                        text += ": " + (" · ".join(parts) if parts else "unchanged")
                    if labels:
                        text += f" · {verdicts[i + 1]}"
                    cells.append((result.samples[i], text))
                encoded = _grid_jpegs(key, [img for img, _ in cells])
                cell_width = w if w <= MAX_CELL_PX else "stretch"
                with st.container(horizontal=True, wrap=True, gap="small", key=f"{PAGE}.grid"):
                    for data, (_, text) in zip(encoded, cells, strict=True):
                        st.image(data, caption=text, width=cell_width)
                ui.sticky(
                    st.toggle,
                    "Drawn parameters under every sample",
                    key=CAPTIONS_KEY,
                    help="Short notes under each cell (rot = rotation angle, b× c× s× = brightness, contrast and "
                    "saturation factors, h = hue shift). The table below says the same in words, one sample at a time.",
                )
                if labels:
                    kept = sum(lab.index == labels[0].index for lab in labels[1:])
                    st.metric(
                        "Label survives",
                        f"{kept}/{num_samples}",
                        help="Samples whose top-1 class equals the original's.",
                    )
                _detail_view(config, result, encoded, verdicts if labels else None)
                with st.expander("What each transform does, and how to read the captions", icon=":material/help:"):
                    st.markdown(
                        "Pick a sample under **Look closer** to see it large with what was drawn for it, in words. "
                        "With *Drawn parameters under every sample* on, each cell lists the same in short: **crop 75% "
                        "(1.75:1) @4%,8%** kept 75 % of the area in a window 1.75 times as wide as high, starting 4 % "
                        "from the left and 8 % from the top; **rot** is the angle; **b× c× s×** are the brightness, "
                        "contrast and saturation factors (×1 = unchanged) and **h** the hue shift in turns of the colour "
                        "wheel; **no …** means that transform's probability did not fire."
                    )
                    st.markdown("\n".join(f"- **{t.title}** (`v2.{t.v2_class}`): {t.note}" for t in A.TRANSFORMS))
                ui.show_code(
                    A.pipeline_code(
                        config,
                        result.size,
                        image_size=tuple(image.shape[-2:]),
                        num_samples=num_samples,
                        first_seed=A.first_seed(seed, draw),
                        path=photo_file,
                    ),
                    filename="augmentation_pipeline.py",
                )
                st.download_button(
                    "Download the photo the code reads (PNG)",
                    _png(digest, array),
                    file_name=photo_file,
                    mime="image/png",
                    icon=":material/download:",
                    help="The photo exactly as this page uses it — upright, RGB, at most 1024 px a side — so the code "
                    "above reproduces the grid for your upload too.",
                )


# ============================================================== sound
with tab_sound:
    left, right = st.columns([1.4, 2.6], gap="medium")  # the controls need ~200 px on a 1000 px window
    with left:
        sound_values = ui.controls(au.AUDIO_SPECS, page=f"{PAGE}.sound")
        url_specs += au.AUDIO_SPECS
        url_values.update(sound_values)
        upload = st.file_uploader(
            "…or upload a WAV (0.25–10 s)",
            type=["wav"],
            key=f"{PAGE}.wav",
            help="Mono or stereo, any sample rate; it is resampled to 16 kHz.",
            max_upload_size=20,  # MB; the loader re-checks it on the server (widget limits are browser-side)
        )
        if SOUND_DRAW_KEY not in st.session_state:  # a shared link may carry the draw counter
            raw_draw = st.query_params.get("snd_draw", "0")
            st.session_state[SOUND_DRAW_KEY] = int(raw_draw) % 1000 if raw_draw.isdigit() and len(raw_draw) < 6 else 0
        st.button(
            "Resample",
            key=f"{PAGE}.sound_resample",
            icon=":material/casino:",
            on_click=_bump_draw,
            args=(SOUND_DRAW_KEY,),
            help="Draw new background noise (another augmented copy of the same sound).",
            width="stretch",
        )
    sound_draw = int(st.session_state[SOUND_DRAW_KEY])
    noise_seed = seed * 1000 + sound_draw  # the generated signal keeps the page's seed; only the noise is redrawn
    if tab_slug == "sound":  # its outputs only when open (see the tabs above)
        source_name = f"generated {sound_values['snd_signal']}"
        x = au.make_signal(sound_values["snd_signal"], 2.0, seed=seed)
        if upload is not None:
            try:
                shown = safe_text(upload.name, 60)  # user text; the messages (the loader's too) are Markdown
                clip = au.load_wav(upload.getvalue(), shown)
                x, source_name = clip.x, shown
                for note in clip.notes:
                    left.info(note, icon=":material/info:")
            except au.AudioInputError as err:
                left.error(f"{err}\n\nUsing the generated signal instead.", icon=":material/music_off:")
        audio_config = make_config(au.AudioConfig, sound_values)
        sound_key = f"{hashlib.sha256(x.tobytes()).hexdigest()}|{audio_config!r}|{noise_seed}"
        sound, wav_before, wav_after = _sound(sound_key, x, audio_config, noise_seed)
        with right:
            st.markdown(
                f"**{source_name}**, {sound.before.size / sound.sr:.2f} s at {sound.sr} Hz → "
                + "; ".join(sound.steps or ["no change"])
            )
            if sound.clipped > 0:
                st.warning(
                    f"{sound.clipped:.1%} of the samples went beyond ±1 and were clipped for playback — lower the gain.",
                    icon=":material/warning:",
                )
            play_before, play_after = st.columns(2)
            play_before.caption("before")
            play_before.audio(wav_before, format="audio/wav")
            play_after.caption("after")
            play_after.audio(wav_after, format="audio/wav")
            waveform, spectrogram = _sound_figures(sound_key, sound.before, sound.after, sound.sr)
            st.plotly_chart(waveform, width="stretch")
            st.plotly_chart(spectrogram, width="stretch")
            if audio_config.snd_noise != "none":
                st.caption(f"Noise draw {sound_draw} (seed {noise_seed}): **Resample** draws another.")
            ui.show_code(augment_code(audio_config, seed=noise_seed), filename="sound_augmentation.py")
            st.download_button(
                "Download the clip the code reads (before.wav)",
                wav_before,
                file_name="before.wav",
                mime="audio/wav",
                icon=":material/download:",
                help="The 'before' sound exactly as this page uses it (16-bit, 16 kHz), so the code reproduces 'after'.",
            )

# ============================================================== regulariser
with tab_train:
    st.markdown(
        "The same small CNN, trained twice on a **small** subset of the 8×8 digits (upsampled to 16×16): once on "
        "the digits as they are, once on randomly rotated, shifted, zoomed and noisy copies drawn anew every "
        "epoch. Same seed, same initial weights, same mini-batches — the only difference is the augmentation."
    )
    left, right = st.columns([1.4, 2.6], gap="medium")  # the controls need ~200 px on a 1000 px window
    with left:
        train_values = ui.controls(AT.TRAIN_SPECS, page=f"{PAGE}.train")
        url_specs += AT.TRAIN_SPECS
        url_values.update(train_values)
        train_config = make_config(AT.TrainConfig, train_values, seed=seed)
        # A public server caps the epochs (lab.limits) and says so; locally nothing changes.
        capped = int(ui.apply_cap("augmentation.train_epochs", train_config.tr_epochs))
        if capped < train_config.tr_epochs:
            train_config = dataclasses.replace(train_config, tr_epochs=capped)
        if st.button("Train both", type="primary", icon=":material/play_arrow:", width="stretch"):
            st.session_state[TRAINER_KEY] = AT.Comparer(train_config, device=info.device)
            st.session_state[TRAINING_KEY] = True
    with right:
        originals, augmented = AT.example_batch(train_config)
        st.caption("What the network sees: training digits (top) and one augmented copy of each (bottom).")
        st.image(originals, width=64)
        st.image(augmented, width=64)
        comparer = st.session_state.get(TRAINER_KEY)
        if comparer is not None and st.session_state.get(TRAINING_KEY) and not comparer.done:
            # The runs live in session state and continue from their last finished epoch: a click elsewhere
            # on the page reruns the script (which interrupts this loop), and the rerun carries on here.
            st.button(
                "Stop training",
                icon=":material/stop:",
                on_click=st.session_state.__setitem__,
                args=(TRAINING_KEY, False),
                help="Stop after the current epoch; the epochs so far are kept and shown, and you can continue.",
            )
            st.caption("You can keep using the rest of the page: training continues after each change.")
            bars = {name: st.progress(0.0, text=f"{name}…") for name in AT.Comparer.NAMES}

            def on_progress(name: str, p) -> None:
                bars[name].progress(
                    min(1.0, p.fraction),
                    text=f"{name}: epoch {p.step}/{p.num_steps} · val acc {p.metrics.get('val_acc', 0):.1%}",
                )
                ui.give_way()  # a pause point: light reruns of other sessions go first

            # Training is heavy work: it waits for a free core in the process-wide queue (ui.jobs).
            with ui.heavy_job("Lab 5: train both", key=f"{PAGE}.train"):
                comparer.advance(on_progress=on_progress)
            st.session_state[TRAINING_KEY] = False
            for bar in bars.values():
                bar.empty()
        if comparer is None:
            st.info(
                "Press **Train both**: two runs of a few seconds each at the default settings "
                "(about a minute with 1,000 digits and 150 epochs).",
                icon=":material/play_arrow:",
            )
        else:
            _training_results(comparer, train_config)
extra = {"draw": str(draw)} if draw else {}
if tab_slug != "images":
    extra["tab"] = tab_slug
if sound_draw:
    extra["snd_draw"] = str(sound_draw)
ui.sync_url(url_specs, url_values, extra=extra)
