# 教研助手 (jiaoyan-bot): `docker build -t jiaoyan-bot .` — see docs/deploy.md, "用 Docker 运行".
# Behind a slow or blocked package index, build through a mirror, e.g.
#   docker build --build-arg PIP_INDEX_URL=https://pypi.tuna.tsinghua.edu.cn/simple -t jiaoyan-bot .
FROM python:3.11-slim

# The package index pip uses while building (pip reads PIP_INDEX_URL from the environment).
# Hashes in requirements.lock are checked whichever mirror serves the files.
ARG PIP_INDEX_URL=https://pypi.org/simple

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Dependencies exactly as locked (versions and hashes), then the project itself without
# resolving anything again; the sources are dropped afterwards.
WORKDIR /src
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
COPY scheduling ./scheduling
COPY reports ./reports
# The lock includes the [postgres] extra (psycopg): JIAOYAN_DB may be a postgresql:// URL.
RUN pip install --no-deps . && rm -rf /src

# Run as an unprivileged user; the database lives in the /app/data volume.
RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home jiaoyan \
    && mkdir -p /app/data \
    && chown -R jiaoyan:jiaoyan /app
WORKDIR /app
USER 10001:10001
ENV JIAOYAN_DB=/app/data/jiaoyan.db \
    MPLCONFIGDIR=/app/data/.matplotlib
VOLUME ["/app/data"]

EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"]

# SIGTERM (docker stop) makes the bot finish messages in progress and exit cleanly. When it
# cannot go on (database unreadable or locked, long connection taken over), it exits non-zero
# and the restart policy (docker run --restart unless-stopped) starts it again.
STOPSIGNAL SIGTERM
CMD ["jiaoyan-bot", "serve", "--host", "0.0.0.0", "--port", "8080"]
