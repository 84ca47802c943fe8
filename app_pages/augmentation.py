"""Lab 5 — data augmentation: one image becomes many (images, sound, and as a regulariser)."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import streamlit as st
from PIL import Image

import ui
from lab import audio as au
from lab import augment as A
from lab import augment_training as AT
from lab.params import from_query, make_config

PAGE = "augmentation"
DRAW_KEY = f"{PAGE}.draw"
LABELS_KEY = f"{PAGE}.labels"
TRAIN_KEY = f"{PAGE}.train_result"
STOPPED_KEY = f"{PAGE}.train_stopped"

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
    result = au.augment(_x, config, seed=seed)
    return result, au.to_wav(result.before), au.to_wav(result.after)


@st.cache_resource(max_entries=8, show_spinner=False)
def _sound_figures(key: str, _before, _after, sr: int):
    """Waveform and spectrogram figures, built once per sound (read-only afterwards: shared, not copied)."""
    return au.waveform_figure(_before, _after, sr), au.spectrogram_figure(_before, _after, sr)


def _bump_draw() -> None:
    st.session_state[DRAW_KEY] = (st.session_state.get(DRAW_KEY, 0) + 1) % 1000


seed = ui.current_seed()
url_specs: list = []
url_values: dict = {}

tab_images, tab_sound, tab_train = st.tabs(
    [":material/photo_library: Images", ":material/graphic_eq: Sound", ":material/model_training: As a regulariser"]
)

CELL_PX = 140  # preview grid cells: they wrap to the column's width (four to a row on a 1400 px window)

# ============================================================== images
with tab_images:
    left, right = st.columns([1.2, 2.6], gap="medium")  # the controls need ~160 px on a 1000 px window
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
            # One grid over the whole preview column: the original in the first cell, then the samples,
            # as many to a row as fit (a wrapping flex row of fixed-width cells: narrow windows get fewer).
            caption = "**original**"
            if labels:
                caption += f" · GoogLeNet: **{labels[0].name}** ({labels[0].prob:.0%})"
            cells = [(result.original, caption)]
            for i, parts in enumerate(result.captions):
                text = f"#{i + 1}: " + (" · ".join(parts) if parts else "unchanged")
                if labels:
                    lab = labels[i + 1]
                    same = "✓ same" if lab.index == labels[0].index else "✗ changed"
                    text += f" — {lab.name} ({lab.prob:.0%}) {same}"
                cells.append((result.samples[i], text))
            encoded = _grid_jpegs(key, [img for img, _ in cells])
            cells = [(data, text) for data, (_, text) in zip(encoded, cells, strict=True)]
            with st.container(horizontal=True, wrap=True, gap="small"):
                for img, text in cells:
                    st.image(img, caption=text, width=CELL_PX)
            if labels:
                kept = sum(lab.index == labels[0].index for lab in labels[1:])
                st.metric(
                    "Label survives", f"{kept}/{num_samples}", help="Samples whose top-1 class equals the original's."
                )
            with st.expander("What each transform does, and how to read the captions", icon=":material/help:"):
                st.markdown(
                    "Each caption lists what was drawn for that sample, transform by transform: **crop 75% (1.75:1) "
                    "@4%,8%** kept 75 % of the area in a window 1.75 times as wide as high, starting 4 % from the "
                    "left and 8 % from the top; **rot** is the angle; **b× c× s×** are the brightness, contrast and "
                    "saturation factors (×1 = unchanged) and **h** the hue shift in turns of the colour wheel; "
                    "**no …** means that transform's probability did not fire."
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
    left, right = st.columns([1, 2.6], gap="medium")
    with left:
        sound_values = ui.controls(au.AUDIO_SPECS, page=f"{PAGE}.sound")
        url_specs += au.AUDIO_SPECS
        url_values.update(sound_values)
        upload = st.file_uploader(
            "…or upload a WAV (0.25–10 s)",
            type=["wav"],
            key=f"{PAGE}.wav",
            help="Mono or stereo, any sample rate; it is resampled to 16 kHz.",
        )
    source_name = f"generated {sound_values['snd_signal']}"
    x = au.make_signal(sound_values["snd_signal"], 2.0, seed=seed)
    if upload is not None:
        try:
            clip = au.load_wav(upload.getvalue(), upload.name)
            x, source_name = clip.x, upload.name
            for note in clip.notes:
                left.info(note, icon=":material/info:")
        except au.AudioInputError as err:
            left.error(f"{err}\n\nUsing the generated signal instead.", icon=":material/music_off:")
    audio_config = make_config(au.AudioConfig, sound_values)
    sound_key = f"{hashlib.sha256(x.tobytes()).hexdigest()}|{audio_config!r}|{seed}"
    sound, wav_before, wav_after = _sound(sound_key, x, audio_config, seed)
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

# ============================================================== regulariser
with tab_train:
    st.markdown(
        "The same small CNN, trained twice on a **small** subset of the 8×8 digits (upsampled to 16×16): once on "
        "the digits as they are, once on randomly rotated, shifted, zoomed and noisy copies drawn anew every "
        "epoch. Same seed, same initial weights, same mini-batches — the only difference is the augmentation."
    )
    left, right = st.columns([1, 2.6], gap="medium")
    with left:
        train_values = ui.controls(AT.TRAIN_SPECS, page=f"{PAGE}.train")
        url_specs += AT.TRAIN_SPECS
        url_values.update(train_values)
        train_config = make_config(AT.TrainConfig, train_values, seed=seed)
        start = st.button("Train both", type="primary", icon=":material/play_arrow:", width="stretch")
    with right:
        originals, augmented = AT.example_batch(train_config)
        st.caption("What the network sees: training digits (top) and one augmented copy of each (bottom).")
        st.image(originals, width=64)
        st.image(augmented, width=64)
        if start:
            st.session_state.pop(STOPPED_KEY, None)
            st.button(
                "Stop training",
                icon=":material/stop:",
                on_click=st.session_state.__setitem__,
                args=(STOPPED_KEY, True),
                help="Stop training now (a comparison needs both runs complete, so nothing is kept).",
            )
            bars = {name: st.progress(0.0, text=f"{name}…") for name in ("without augmentation", "with augmentation")}

            def on_progress(name: str, p) -> None:
                bars[name].progress(
                    min(1.0, p.fraction),
                    text=f"{name}: epoch {p.step}/{p.num_steps} · val acc {p.metrics.get('val_acc', 0):.1%}",
                )

            st.session_state[TRAIN_KEY] = (
                train_config,
                AT.compare(train_config, device=info.device, on_progress=on_progress),
            )
            for bar in bars.values():
                bar.empty()
        stored = st.session_state.get(TRAIN_KEY)
        if st.session_state.pop(STOPPED_KEY, False) and not start:
            st.warning(
                "Training stopped before both runs finished; "
                + ("the results below are from the previous run." if stored else "press **Train both** to run again."),
                icon=":material/stop_circle:",
            )
        if stored is None:
            st.info(
                "Press **Train both**: two runs of a few seconds each at the default settings "
                "(about a minute with 1,000 digits and 150 epochs).",
                icon=":material/play_arrow:",
            )
        else:
            run_config, comparison = stored
            if run_config != train_config:
                st.caption("The settings changed since this run — press **Train both** to update.")
            for h in (comparison.plain, comparison.augmented):
                if not h.ok:
                    st.error(h.reason)
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
                help="Training accuracy minus validation accuracy, with augmentation; the delta compares it "
                "with the run without.",
            )
            st.plotly_chart(AT.comparison_figure(comparison), width="stretch")
            st.caption(
                "Accuracies are means over the last 5 epochs. Small data, one seed: change the seed to see the spread."
            )

extra = {"draw": str(draw)} if draw else {}
ui.sync_url(url_specs, url_values, extra=extra)
