# syntax=docker/dockerfile:1
# evidence-agent container image:  docker build -t REGISTRY/evidence-agent:0.1.0 .
# It installs the pinned dependency set the tests run with (constraints.txt), without the dev and
# sandbox extras. For a reproducible base, pin it by digest:
#   docker build --build-arg PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:... .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY constraints.txt pyproject.toml README.md ./
COPY collector ./collector
COPY connectors ./connectors
COPY controls ./controls
RUN /opt/venv/bin/pip install --constraint constraints.txt . \
    && /opt/venv/bin/pip check

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    EVIDENCE_AGENT_LOG_FORMAT=json
# The chart runs pods as this user and group (podSecurity in values.yaml). Numeric, so Kubernetes
# can verify runAsNonRoot; no home directory (HOME is /tmp, a writable emptyDir in the chart).
RUN groupadd --gid 10001 agent \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin agent
COPY --from=build /opt/venv /opt/venv
WORKDIR /tmp
USER 10001:10001
ENTRYPOINT ["evidence-agent"]
CMD ["--help"]
