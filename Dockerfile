# Digit Lab in a container: `docker build -t digit-lab .` then
# `docker run -p 8501:8501 -v digit-lab-data:/data -e DIGITLAB_JOIN_URL=http://<host>:8501 digit-lab`
# (see docs/deploy.md).
# BASE: any Debian-like image whose `python` and `pip` are Python 3.11 (the tests build on one
# made locally with mmdebstrap, tests/test_container.py: no image registry is needed).
ARG BASE=python:3.11-slim
# checkov's CKV_DOCKER_7 ("a version tag") can't see the tag through the ARG: allowed, with
# that reason, in tests/test_manifests.py.
FROM ${BASE}

# PIP_OPTIONS: extra pip options, e.g. "--no-index --find-links /wheels" to install from a
# wheelhouse mounted into the build (podman build --volume DIR:/wheels:ro).
ARG PIP_OPTIONS=""
# Build with --build-arg PREFETCH=1 on a machine with internet: the ImageNet weights and the
# full MNIST are then baked into the image, so a classroom container never downloads.
ARG PREFETCH=0

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    KERAS_HOME=/opt/keras \
    DIGITLAB_HOME=/data

# A user without root rights runs the app; uid 1000 is also what a Hugging Face Space uses.
RUN useradd --create-home --uid 1000 digitlab \
    && mkdir -p /data /opt/keras \
    && chown digitlab:digitlab /data /opt/keras

WORKDIR /app
COPY requirements.txt .
RUN pip install $PIP_OPTIONS -r requirements.txt
COPY --chown=digitlab:digitlab app.py ./
# The settings only: a teacher's .streamlit/secrets.toml (the passcode) never goes in the image.
COPY --chown=digitlab:digitlab .streamlit/config.toml ./.streamlit/config.toml
COPY --chown=digitlab:digitlab pages ./pages
COPY --chown=digitlab:digitlab tl_core ./tl_core

USER digitlab
RUN if [ "$PREFETCH" = "1" ]; then python -m tl_core prefetch; fi

# Runs and the class's drawings live on this volume: a restart loses nothing.
VOLUME ["/data"]
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"
CMD ["python", "-m", "streamlit", "run", "app.py", "--server.address", "0.0.0.0", "--server.port", "8501", "--server.headless", "true"]
