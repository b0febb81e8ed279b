# One image for the Rasa server, the action server and the handoff relay (same code,
# same recipe). npm fetches the web chat's Socket.IO client.
#
# What goes in is what .dockerignore lets through: never .env (secrets), .data/ (customer
# databases, generated internal tokens), .venv/ or caches from the build machine. The
# servers run as the unprivileged user `app`: the code and the virtualenv stay owned by
# root (read-only to the servers); only the data directory, the model cache and models/
# are theirs to write. See docs/security.md, "Supply chain".
FROM python:3.11-slim
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends gcc libpq-dev nodejs npm \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 --user-group --shell /usr/sbin/nologin app
COPY requirements/ requirements/
COPY scripts/install.sh scripts/install.sh
COPY pyproject.toml README.md ./
COPY web/package.json web/package-lock.json web/
COPY bot/ bot/
COPY actions/ actions/
RUN PYTHON=python3 ./scripts/install.sh
COPY . .
# The model cache under /app (not root's home, which `app` cannot read); HOME follows USER.
ENV PATH=/app/.venv/bin:$PATH HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false \
    SANIC_KEEP_ALIVE_TIMEOUT=75 XDG_CACHE_HOME=/app/.cache
# Train at build time; the model is cached by a hash of data + config.
RUN python -m bot train \
    && mkdir -p /app/.data /app/models /app/.rasa \
    && chown -R app:app /app/.data /app/models /app/.cache /app/.rasa
USER app
EXPOSE 5005 5055 5006
CMD ["python", "-m", "rasa_sdk", "--actions", "actions", "--port", "5055"]
