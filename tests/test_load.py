"""The classroom load generator (``bench/bench_load.py``) in its quick mode, against a real server.

Two simulated students on a real ``streamlit run app.py`` speak Streamlit's websocket
protocol: each opens the home page and a lab, uploads a 2-MP photo over
``/_stcore/upload_file`` and changes a widget. The test checks that the protocol works (every
interaction ends in ``script_finished`` with no exception on the page, images come back
from ``/media``, the upload reached the page) and never asserts a timing.
"""

from __future__ import annotations

import io

import pytest

from bench import bench_load
from bench.load_client import ProtocolError, Student, _state_for, run
from tests.browser import fresh_server


@pytest.fixture(scope="module")
def server_url():
    with fresh_server() as url:
        yield url


def test_quick_class_completes_with_zero_errors(server_url):
    result = bench_load.sweep((2,), quick=True, url=server_url)
    run = result["runs"]["2"]
    assert run["errors"] == 0, run["error_samples"]
    assert run["skipped_steps"] == 0
    # home + lab + upload + a slider, for each of the two students
    assert run["interactions"] == run["completed"] == 8
    assert run["light"]["n"] == 2 and run["heavy"]["n"] == 6
    assert run["by_action"]["upload"]["n"] == 2
    assert run["media_fetched"] > 0  # the home cards and the convolution maps came back from /media


def test_protocol_sets_widgets_and_uploads_like_the_browser(server_url):
    async def go():
        s = Student(server_url)
        try:
            opened = await s.open("convolution")
            assert not opened.error, opened.error
            assert s.session_id and s.pages["convolution"] == s.page_hash
            before = s.texts()
            stride = s.widget("Stride s")
            changed = await s.set("Stride s", stride.proto.min + 1)
            assert not changed.error
            assert f"s = {stride.proto.min + 1:g}" in s.texts() and s.texts() != before, "the server took the value"
            # a real upload: the page shows the uploaded photo's size, not the sample's
            from PIL import Image

            buf = io.BytesIO()
            Image.new("RGB", (640, 480), (10, 200, 40)).save(buf, "JPEG")
            up = await s.upload(bench_load.PHOTO_UPLOADER, "green.jpg", buf.getvalue())
            assert not up.error, up.error
            shown = s.texts().replace("\\", "")  # the page escapes the file name for Markdown (green\\.jpg)
            assert "green.jpg" in shown and "640×480" in shown
            with pytest.raises(ProtocolError, match="no widget labelled"):
                s.widget("No such widget")
        finally:
            await s.close()

    run(go())


def test_select_values_are_checked_against_the_options():
    from streamlit.proto.Selectbox_pb2 import Selectbox

    from bench.load_client import Widget

    w = Widget("selectbox", "Kernel", "id1", Selectbox(options=["Identity", "Sobel x"]))
    assert _state_for(w, "Sobel x").string_value == "Sobel x"
    with pytest.raises(ProtocolError, match="no option"):
        _state_for(w, "Sobel z")


def test_the_load_client_refuses_other_hosts():
    with pytest.raises(ValueError, match="loopback"):
        Student("http://example.com:8501")
