"""Streamlit helpers shared by the pages (the only package besides pages that imports streamlit).

``lab/`` does the maths and builds the figures; ``ui/`` turns the shared
mechanisms into widgets once, so every page behaves the same way:

- :func:`page_header` — title, intro and the device badge every page shows;
- :func:`controls` / :func:`sync_url` — widgets built from ``lab.params`` specs,
  seeded from the URL on first load and written back to it;
- :func:`image_input` — sample photo or upload, validated by ``lab.images``;
  a bad upload shows a message and the last good image stays;
- :func:`show_code` — the "show me the code" expander;
- :func:`progress_reporter` — a progress bar callback for ``lab.training``.
"""

from ui.widgets import (
    controls,
    current_device,
    current_seed,
    image_input,
    page_header,
    progress_reporter,
    show_code,
    sync_url,
)

__all__ = [
    "controls",
    "current_device",
    "current_seed",
    "image_input",
    "page_header",
    "progress_reporter",
    "show_code",
    "sync_url",
]
