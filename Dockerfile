# The hotline service (FastAGI + AMI client + API) without Asterisk: run it beside an Asterisk
# configured from asterisk-config/ and dialplans/ (`hotline asterisk render` writes the
# generated parts). Secrets come from the environment: HOTLINE_AMI_SECRET, HOTLINE_API_TOKEN,
# HOTLINE_SIP_PASSWORD_<OPERATOR> (the last only where the Asterisk config is rendered), and
# HOTLINE_DATABASE_URL for PostgreSQL (postgresql+asyncpg://...; unset: SQLite in /srv/hotline/data).
# Keep /srv/hotline/data on a volume: it holds the spool of call events not yet in the database.
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && apt-get install -y --no-install-recommends espeak-ng iproute2 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /srv/hotline hotline

WORKDIR /srv/hotline
COPY pyproject.toml README.md ./
COPY .ci/constraints.txt .ci/constraints.txt
COPY ivr ivr
COPY routing routing
COPY agents agents
COPY hotline hotline
RUN pip install --no-cache-dir -c .ci/constraints.txt .

COPY config config
COPY recordings/prompts recordings/prompts
RUN hotline check && hotline prompts && mkdir -p data && chown hotline data

USER hotline
ENV HOTLINE_AGI_HOST=0.0.0.0 HOTLINE_API_HOST=0.0.0.0
VOLUME /srv/hotline/data
EXPOSE 4573 8080
CMD ["hotline", "serve"]
