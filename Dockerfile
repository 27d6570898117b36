# convstream image: `docker build -t convstream:0.1.0 .`
# Two stages: the builder installs the package and its pinned dependencies (constraints.txt) into a venv;
# the final stage copies only that venv onto the same slim base (no compiler, no pip cache, no sources).
# All dependencies ship manylinux wheels; the builder needs gcc only for the package's own C extension
# (consumer/codec/_avroread.c, the fast Avro reader), and fails if it did not compile.
# Base pinned by full tag (major.minor.patch + Debian release); pin the digest too where you can pull it.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN apt-get update \
 && apt-get install --yes --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/convstream
WORKDIR /src
# Dependencies first (a layer cached until constraints change), then the package itself.
COPY pyproject.toml constraints.txt README.md ./
COPY consumer ./consumer
# The extension is optional for pip (pyproject.toml); the image must have it, so check.
RUN /opt/convstream/bin/pip install --constraint constraints.txt . \
 && /opt/convstream/bin/python -c "import consumer.codec._avroread" \
 && /opt/convstream/bin/pip uninstall --yes pip \
 && /opt/convstream/bin/convstream --version

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="convstream" \
      org.opencontainers.image.description="Genesys Cloud conversation events -> Kafka (Avro) -> PostgreSQL" \
      org.opencontainers.image.licenses="Apache-2.0"
# A fixed uid/gid (10001) matching the helm chart's runAsUser/fsGroup; no home, no login shell.
RUN groupadd --system --gid 10001 convstream \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin convstream
COPY --from=builder /opt/convstream /opt/convstream
ENV PATH=/opt/convstream/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CONVSTREAM_OBSERVABILITY__LOG_FORMAT=json
# Runs with a read-only root filesystem (only /tmp needs to be writable).
USER 10001:10001
WORKDIR /tmp
# 9400: consumer /metrics /livez /readyz; 9410: bridge (genesys source), by convention.
EXPOSE 9400 9410
# /livez on CONVSTREAM_OBSERVABILITY__METRICS_PORT (default 9400, the consumer's; set it for the bridge,
# whose own default is 9410). One-shot commands (migrate, jobs) should disable it (compose:
# `healthcheck: {disable: true}`); Kubernetes ignores HEALTHCHECK and uses the chart's probes.
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('CONVSTREAM_OBSERVABILITY__METRICS_PORT', '9400'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/livez', timeout=2).status == 200 else 1)"]
ENTRYPOINT ["convstream"]
CMD ["--help"]
