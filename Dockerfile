# DL101 Visual Lab as a container: CPU-only PyTorch, a non-root user, a health check,
# the public-hosting settings (deploy/streamlit-hosting.toml, DL101_PUBLIC=1).
#
#   docker build -t dl101 .                                  # fetches the GoogLeNet weights if the build has network
#   docker build --build-arg FETCH_WEIGHTS=0 -t dl101 .      # never tries: Lab 6 runs untrained and says so
#   docker run --rm -p 8501:8501 dl101                       # then open http://localhost:8501
#
# Hugging Face Spaces (Docker SDK): this file as is; set `app_port: 8501` in the Space's README.
# Hosts that pass $PORT (Cloud Run, Render, …) are honoured. The image never downloads at run time.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: a virtual environment with CPU-only torch/torchvision --------------------------
FROM ${PYTHON_IMAGE} AS build
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# requirements-cpu.txt reads the lock next to it (-c requirements.lock): the tested versions of everything
COPY requirements-cpu.txt requirements.lock /tmp/
# torch/torchvision first, from the CPU index alone (the same pins as requirements.txt), then the rest at the
# lock's versions (the lock's torch==2.14.1 matches the installed 2.14.1+cpu; its nvidia-* lines only constrain).
RUN pip install --index-url "$TORCH_INDEX" torch==2.14.1 torchvision==0.29.1 \
 && pip install -r /tmp/requirements-cpu.txt \
 && python -c "import torch, torchvision; assert torch.version.cuda is None, 'a CUDA build of torch was installed'; print('torch', torch.__version__, 'torchvision', torchvision.__version__, '(CPU build)')" \
 && SITE="$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
 && rm -rf "$SITE/torch/test" "$SITE/torch/include" \
 && find "$SITE/torch/bin" -type f ! -name torch_shm_manager -delete
# (torch/test, torch/include and the C++ test binaries in torch/bin are ~190 MB never used at run time)

# ---- runtime --------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
ARG FETCH_WEIGHTS=1
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TORCH_HOME=/opt/torch \
    DL101_PUBLIC=1 \
    HOME=/home/dl101
# uid 1000: the user Hugging Face Spaces runs containers as
RUN useradd --create-home --uid 1000 --shell /usr/sbin/nologin dl101
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# GoogLeNet's ImageNet weights into the torch hub cache at BUILD time; an offline build still succeeds and says so.
# Only the files the step runs are copied before it, so a change to the app reuses this layer (no new download).
COPY lab/__init__.py lab/weights.py /app/lab/
COPY deploy/__init__.py deploy/fetch_weights.py /app/deploy/
RUN mkdir -p "$TORCH_HOME" \
 && if [ "$FETCH_WEIGHTS" = "1" ]; then python -m deploy.fetch_weights; \
    else echo "[weights] FETCH_WEIGHTS=0: no GoogLeNet weights in this image; Lab 6 runs an untrained network and says so"; fi \
 && chmod -R a+rX /app "$TORCH_HOME"
COPY . /app
# the public-hosting settings replace the local ones (upload limits, XSRF on, no file watcher, no tracebacks)
COPY deploy/streamlit-hosting.toml /app/.streamlit/config.toml
# readable by the app's user even from a checkout made with umask 077; find changes (and copies into a layer)
# only what lacks the permission, so the usual build adds an empty layer here
RUN find /app \( \( -type d ! -perm -a+rx \) -o \( -type f ! -perm -a+r \) \) -exec chmod a+rX {} +
USER 1000:1000
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:%s/_stcore/health' % os.environ.get('PORT', '8501'), timeout=4); sys.exit(0 if r.status == 200 else 1)"]
# exec: streamlit replaces the shell as PID 1, so `docker stop`'s SIGTERM reaches it
CMD ["sh", "-c", "exec streamlit run app.py --server.port=${PORT:-8501} --server.address=0.0.0.0"]
