# syntax=docker/dockerfile:1
#
# honcho-server image.
#   docker build -t honcho-server:local .
#   docker run -p 127.0.0.1:8000:8000 -e DATABASE_URL=postgresql://user:pass@host:5432/db honcho-server:local
# (published on this machine only: auth is off unless AUTH_USE_AUTH/AUTH_JWT_SECRET are passed)
# Without DATABASE_URL the server starts its embedded PostgreSQL in $HONCHO_DATA_DIR
# (mount a volume there to keep the data). See docker-compose.yml for the full stack.

# ---- build: install the project and its dependencies into a virtualenv ----------------------
FROM python:3.12-slim AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"

WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN pip install --no-compile . \
    && python -m compileall -q /opt/venv/lib

# ---- runtime -----------------------------------------------------------------------------------
FROM python:3.12-slim AS runtime

ENV PATH="/opt/venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HONCHO_DATA_DIR=/var/lib/honcho-server

# Non-root user (PostgreSQL, embedded or not, also refuses to run as root).
RUN groupadd --system --gid 10001 honcho \
    && useradd --system --uid 10001 --gid honcho --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin honcho \
    && mkdir -p /var/lib/honcho-server \
    && chown honcho:honcho /var/lib/honcho-server

COPY --from=build /opt/venv /opt/venv

# The migrations ship inside the package (honcho_server/migrations): nothing else to copy.
WORKDIR /app

USER 10001:10001
VOLUME ["/var/lib/honcho-server"]
EXPOSE 8000

# Readiness, not just liveness: /ready answers 503 while the database is unreachable (see
# README, "Health and readiness"). No curl in slim images: the standard library does the probe
# (urlopen fails on non-2xx).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/ready', timeout=4)"]

CMD ["honcho-server", "serve", "--host", "0.0.0.0", "--port", "8000"]
