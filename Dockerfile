# syntax=docker/dockerfile:1
# kargo-rollback-webhook: build a wheel, install it into a slim runtime that runs as a non-root
# UID with a read-only root filesystem (the chart sets readOnlyRootFilesystem: true).
ARG PYTHON_IMAGE=python:3.11-slim

# --- build: the project's wheel and the wheels of every dependency -----------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# A C compiler for mypyc, which compiles the request-path modules (setup.py). It stays in this
# stage: the runtime receives only wheels. Unpinned on purpose: Debian's toolchain for the base
# image's release, which changes only with the base image; the compiled modules' behaviour is
# fixed by the source and the pinned mypy (pyproject.toml's build requirements).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
# Only what the wheel is built from (.dockerignore admits nothing else).
COPY pyproject.toml setup.py README.md ./
COPY app ./app
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# --- runtime ------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# The wheels come in through a bind mount, so they never become a layer of the image. No index
# is consulted: the runtime gets exactly what the build stage resolved.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --no-index --find-links=/wheels /wheels/kargo_rollback_webhook-*.whl \
    && /opt/venv/bin/pip uninstall --yes pip setuptools
# pip compiled the .pyc files at install time; at run time nothing may be written.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# 65532: the conventional "nonroot" UID of distroless images, numeric so that the kubelet can
# enforce runAsNonRoot. No home directory, nothing owned by it: the root filesystem stays read-only.
USER 65532:65532
WORKDIR /
EXPOSE 8443
ENTRYPOINT ["kargo-rollback-webhook"]
CMD ["serve"]
