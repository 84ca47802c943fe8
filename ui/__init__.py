"""Streamlit helpers shared by the pages (the only package besides pages that imports streamlit).

``lab/`` does the maths and builds the figures; ``ui/`` turns the shared
mechanisms into widgets once, so every page behaves the same way:

- :func:`page_header` — title, intro and the device badge every page shows;
- :func:`controls` / :func:`sync_url` — widgets built from ``lab.params`` specs,
  seeded from the URL on first load and written back to it; :func:`kept` gives a
  group's values without drawing it (a closed tab), :func:`sticky` keeps any other
  widget's value across runs that do not draw it (:func:`restore` when a widget needs its value
  adjusted before it is drawn); :func:`linked_tabs` — tabs that build only the open one, kept in the link;
- :func:`image_input` — sample photo or upload, validated by ``lab.images``;
  a bad upload shows a message and the last good image stays;
- :func:`show_code` — the "show me the code" expander;
- :func:`progress_reporter` — a progress bar callback for ``lab.training``;
- :func:`link_problem` — add a line to the page's single "the link was not valid" notice;
- :func:`heavy_job` / :func:`apply_cap` (``ui.jobs``) — heavy work waits for a free core in
  the process-wide queue, visibly and cancellably; public-server caps with their message;
  :func:`fragment` — ``st.fragment`` whose reruns count as light work; :func:`give_way` — a heavy
  job's pause point, where it waits while other sessions' light reruns run.
"""

from ui.jobs import apply_cap, fragment, give_way, heavy_job
from ui.widgets import (
    controls,
    current_device,
    current_seed,
    image_input,
    kept,
    link_problem,
    linked_tabs,
    page_header,
    progress_reporter,
    restore,
    show_code,
    sticky,
    sync_url,
)

__all__ = [
    "apply_cap",
    "controls",
    "current_device",
    "current_seed",
    "fragment",
    "give_way",
    "heavy_job",
    "image_input",
    "kept",
    "link_problem",
    "linked_tabs",
    "page_header",
    "progress_reporter",
    "restore",
    "show_code",
    "sticky",
    "sync_url",
]
