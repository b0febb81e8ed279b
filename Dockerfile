# One image for the Rasa server, the action server and the handoff relay (same code,
# same recipe). npm fetches the web chat's Socket.IO client.
FROM python:3.11-slim
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends gcc libpq-dev nodejs npm \
    && rm -rf /var/lib/apt/lists/*
COPY requirements/ requirements/
COPY scripts/install.sh scripts/install.sh
COPY pyproject.toml README.md ./
COPY web/package.json web/package-lock.json web/
COPY bot/ bot/
COPY actions/ actions/
RUN PYTHON=python3 ./scripts/install.sh
COPY . .
ENV PATH=/app/.venv/bin:$PATH HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false \
    SANIC_KEEP_ALIVE_TIMEOUT=75
# Train at build time; the model is cached by a hash of data + config.
RUN python -m bot train
EXPOSE 5005 5055 5006
CMD ["python", "-m", "bot", "actions", "--port", "5055"]
