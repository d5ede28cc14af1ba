# syntax=docker/dockerfile:1
# kargo-rollback-webhook: build a wheel, install it into a slim runtime that runs as a non-root
# UID with a read-only root filesystem (the chart sets readOnlyRootFilesystem: true).
#
# The base image is pinned by digest (the multi-platform index of python:3.11-slim), so that a
# rebuild of the same commit starts from the same bytes. To move to a newer base, look up the
# tag's current index digest, e.g. `docker buildx imagetools inspect python:3.11-slim` (the
# "Digest:" line) or `crane digest python:3.11-slim`, replace it here and run `make test`.
ARG PYTHON_IMAGE=python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7

# --- build: the project's wheel and the wheels of every dependency -----------------------------
FROM ${PYTHON_IMAGE} AS build
# Every pip call is hash-checked against the lock (requirements/*.txt); no cache is kept.
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    KRW_REQUIRE_COMPILED=1
WORKDIR /src
# A C compiler for mypyc, which compiles the request-path modules (setup.py). It stays in this
# stage: the runtime receives only wheels. Unpinned on purpose: Debian's toolchain for the base
# image's release, which changes only with the base image; the compiled modules' behaviour is
# fixed by the source and the pinned mypy (requirements/build.txt).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
# The locked sets first, so that the dependency layers outlive a change to the sources. The
# runtime's wheels go to /wheels with the lock that names them; the build venv gets the build
# set and, from those same wheels, the runtime set that mypyc type-checks against.
COPY requirements/runtime.txt requirements/build.txt ./requirements/
RUN python -m venv /build \
    && /build/bin/pip wheel --require-hashes --no-deps --wheel-dir /wheels -r requirements/runtime.txt \
    && cp requirements/runtime.txt /wheels/runtime.txt \
    && /build/bin/pip install --require-hashes --no-deps -r requirements/build.txt \
    && /build/bin/pip install --require-hashes --no-deps --no-index --find-links /wheels -r requirements/runtime.txt
# Only what the wheel is built from (.dockerignore admits nothing else). KRW_REQUIRE_COMPILED=1
# (above): a build that cannot compile fails here instead of shipping the slower pure Python.
COPY pyproject.toml setup.py README.md LICENSE ./
COPY build_support ./build_support
COPY app ./app
RUN /build/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /wheels .

# --- runtime ------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
# The wheels come in through a bind mount, so they never become a layer of the image. No index
# is consulted, and the hashes are checked again: the runtime gets exactly what the build stage
# resolved.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m venv /opt/venv \
    && /opt/venv/bin/pip install --require-hashes --no-deps --no-index --find-links /wheels -r /wheels/runtime.txt \
    && /opt/venv/bin/pip install --no-deps --no-index /wheels/kargo_rollback_webhook-*.whl \
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
