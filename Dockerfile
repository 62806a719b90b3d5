# The hotline service (FastAGI + AMI client + API) and its guard (`hotline guard`, run as a
# container of its own: the one that gets CAP_NET_ADMIN) without Asterisk: run them beside the
# Asterisk image (asterisk-config/Containerfile) and PostgreSQL, as compose.yaml does. Secrets come from the environment (an env file): HOTLINE_AMI_SECRET, HOTLINE_AGI_SECRET,
# HOTLINE_API_TOKEN, HOTLINE_SIP_PASSWORD_<PHONE> (where the Asterisk config is rendered),
# HOTLINE_DATABASE_URL (postgresql+asyncpg://...; unset: SQLite in /srv/hotline/data).
# Keep /srv/hotline/data on a volume: it holds the spool of call events not yet in the database.
#
# The API and FastAGI listen on 127.0.0.1 (HOTLINE_API_HOST, HOTLINE_AGI_HOST): on the host's
# network (--network host, as compose.yaml runs it) that is the host's own loopback, where
# Asterisk and a reverse proxy reach them and nobody else does. In a network of its own (a
# bridge), nothing outside the container reaches them: publishing a port is a choice made on
# purpose, with HOTLINE_API_HOST=0.0.0.0 and -p 127.0.0.1:8080:8080 (docs/getting-started.md: Run it in containers).
#
#   docker build -t hotline .            (or podman build; .ci/images builds it without a registry)
#
# PYTHON_IMAGE: Debian 13 with its Python 3.13 and venv module (python:3.13-slim-trixie, or a
# base bootstrapped with mmdebstrap where no registry is reachable); a Debian 12 one (Python
# 3.11, python:3.11-slim-bookworm) works too.
ARG PYTHON_IMAGE=python:3.13-slim-trixie

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
# hung service's FastAGI connections. That needs CAP_NET_ADMIN: setcap gives it to ss alone,
# and it works only in a container given the capability (compose.yaml's guard); in any other
# (the service's, its capabilities dropped) the kernel refuses to run that ss at all.
# SPOOL_GID: the group Asterisk's spool folders belong to (asterisk-config/Containerfile makes
# the same one): the service reads and removes what Asterisk writes there, and Asterisk reads
# the messages the service opens for it, without the folders being anyone's to write.
ARG SPOOL_GID=2600
RUN apt-get update \
 && apt-get install -y --no-install-recommends espeak-ng iproute2 libcap2-bin \
 && setcap cap_net_admin+ep "$(command -v ss)" \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid "$SPOOL_GID" hotline-spool \
 && useradd --system --home-dir /srv/hotline --groups hotline-spool hotline
COPY --from=build /opt/hotline /opt/hotline
ENV PATH=/opt/hotline/bin:$PATH \
    HOTLINE_AGI_HOST=127.0.0.1 HOTLINE_API_HOST=127.0.0.1 HOTLINE_API_PORT=8080

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
