# The hotline service (FastAGI + AMI client + API, and its guard) without Asterisk: run it
# beside the Asterisk image (asterisk-config/Containerfile) and PostgreSQL, as compose.yaml
# does. Secrets come from the environment (an env file): HOTLINE_AMI_SECRET, HOTLINE_AGI_SECRET,
# HOTLINE_API_TOKEN, HOTLINE_SIP_PASSWORD_<PHONE> (where the Asterisk config is rendered),
# HOTLINE_DATABASE_URL (postgresql+asyncpg://...; unset: SQLite in /srv/hotline/data).
# Keep /srv/hotline/data on a volume: it holds the spool of call events not yet in the database.
#
#   docker build -t hotline .            (or podman build; .ci/images builds it without a registry)
#
# PYTHON_IMAGE: any Debian 12 with Python 3.11 and its venv module (python:3.11-slim-bookworm,
# or a base bootstrapped with mmdebstrap where no registry is reachable).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /build
RUN python3 -m venv /opt/hotline
COPY pyproject.toml README.md ./
COPY .ci/constraints.txt .ci/constraints.txt
COPY ivr ivr
COPY routing routing
COPY agents agents
COPY hotline hotline
RUN /opt/hotline/bin/pip install --no-cache-dir --disable-pip-version-check \
      -c .ci/constraints.txt .

FROM ${PYTHON_IMAGE}
# espeak-ng: the prompts built below; iproute2 (ss -K): the guard frees callers stuck on a
# hung service's FastAGI connections (it needs CAP_NET_ADMIN: compose.yaml adds it to the
# container, and setcap gives it to ss alone, not to the service)
RUN apt-get update \
 && apt-get install -y --no-install-recommends espeak-ng iproute2 libcap2-bin \
 && setcap cap_net_admin+ep "$(command -v ss)" \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /srv/hotline hotline
COPY --from=build /opt/hotline /opt/hotline
ENV PATH=/opt/hotline/bin:$PATH \
    HOTLINE_AGI_HOST=0.0.0.0 HOTLINE_API_HOST=0.0.0.0 HOTLINE_API_PORT=8080

WORKDIR /srv/hotline
COPY asterisk-config asterisk-config
COPY dialplans dialplans
COPY config config
COPY recordings/prompts recordings/prompts
RUN hotline check && hotline prompts \
 && mkdir -p data /srv/generated && chown hotline data /srv/generated

USER hotline
VOLUME /srv/hotline/data
EXPOSE 4573 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD python3 -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health/live' % os.environ.get('HOTLINE_API_PORT', '8080'), timeout=2)"
CMD ["hotline", "serve"]
