"""DL101 Visual Lab — the library behind the app.

Pure PyTorch + numpy + plotly; it never imports streamlit, so a notebook user can
``from lab import conv`` and get the same results and figures as the app.

Modules read like the syllabus:

- ``device``   — choose cpu / cuda, seed every generator
- ``images``   — turn uploaded bytes into a validated RGB image (or a clear error)
- ``training`` — the training loop with callbacks (progress, snapshots, NaN stop, cancel)
- ``figures``  — plotly builders shared by the labs (heatmaps, grids, curves)
- ``params``   — widget specs as data, and their round trip through a URL query
- ``codegen``  — "show me the code": runnable plain-PyTorch snippets
- ``data2d``   — 2D toy datasets and CSV upload validation (labs 1 and 2)

Importing ``lab`` is cheap: torch is only imported by the modules that need it.
"""
