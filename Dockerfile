# The runner rebuilds this image on every workflow run: keep it small and quick to build.
FROM python:3.12-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# Dependencies first, from hashes only, so this layer is cached while the code changes.
COPY requirements.lock /tmp/requirements.lock
RUN pip install --no-deps --require-hashes -r /tmp/requirements.lock

COPY pyproject.toml /app/
COPY src/ /app/src/
RUN pip install --no-deps --no-build-isolation /app && rm -rf /app

# No USER: the runner needs root for the mounted workspace and file-command files.
# Exec form: Python is PID 1 and receives the runner's SIGINT/SIGTERM on cancel.
ENTRYPOINT ["python", "-m", "northflank_build"]
