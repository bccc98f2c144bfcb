# Redraw: a slim image that runs as a non-root user, keeps its data in /data and
# reports its health from /healthz. Build: docker build -t redraw .

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/redraw
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY adapters ./adapters
COPY storage ./storage
RUN /opt/redraw/bin/pip install --no-cache-dir .

FROM python:3.11-slim-bookworm
# Fonts for the versions contact sheet's prompts in any script (Latin, Cyrillic, Arabic, CJK…).
# Not pinned: the distribution's current fonts are what we want, and pins break on its updates.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-dejavu-core fonts-noto-core fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 redraw \
    && useradd --system --uid 10001 --gid redraw --home-dir /data --no-create-home redraw \
    && mkdir /data \
    && chown redraw:redraw /data
COPY --from=build /opt/redraw /opt/redraw
ENV PATH=/opt/redraw/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    REDRAW_DATA_DIR=/data \
    REDRAW_LOG_FORMAT=json \
    REDRAW_METRICS_PORT=9100
WORKDIR /data
VOLUME ["/data"]
USER 10001:10001
# 8080: Telegram's webhook (when REDRAW_WEBHOOK_URL is set); 9100: /metrics and /healthz;
# 8090: the web pages (when REDRAW_PUBLIC_URL is set; put TLS in front).
EXPOSE 8080 8090 9100
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["redraw", "health"]
STOPSIGNAL SIGTERM
CMD ["redraw", "run"]
