# 教研助手 (jiaoyan-bot): `docker build -t jiaoyan-bot .` — see docs/deploy.md, "用 Docker 运行".
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Install the project (and its dependencies) from the source tree, then drop the sources.
WORKDIR /src
COPY pyproject.toml ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
COPY scheduling ./scheduling
COPY reports ./reports
# The [postgres] extra (psycopg) lets JIAOYAN_DB be a postgresql:// URL; SQLite never loads it.
RUN pip install ".[postgres]" && rm -rf /src

# Run as an unprivileged user; the database lives in the /app/data volume.
RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home jiaoyan \
    && mkdir -p /app/data \
    && chown -R jiaoyan:jiaoyan /app
WORKDIR /app
USER jiaoyan
ENV JIAOYAN_DB=/app/data/jiaoyan.db
VOLUME ["/app/data"]

EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"]

# SIGTERM (docker stop) makes the bot finish messages in progress and exit cleanly.
STOPSIGNAL SIGTERM
CMD ["jiaoyan-bot", "serve", "--host", "0.0.0.0", "--port", "8080"]
