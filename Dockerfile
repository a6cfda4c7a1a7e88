# The runner rebuilds this image on every workflow run: keep it small and quick to build.
# Measured against other install methods with bench/image.py (docs/benchmarks.md).
FROM python:3.12-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# Dependencies first, from hashes only, so this layer is cached while the code changes.
COPY requirements.lock /tmp/requirements.lock
RUN pip install --no-deps --require-hashes -r /tmp/requirements.lock && rm /tmp/requirements.lock

# The package is plain source: copied, not pip-installed (a second pip run took 2 s).
COPY src/northflank_build/ /usr/local/lib/python3.12/site-packages/northflank_build/
# The post step's program, as pip would write it; not a shell wrapper, since dash drops
# environment variables with hyphens (INPUT_API-TOKEN). Then compile the bytecode of what
# the action imports: the slim base ships none for the standard library, and every run
# starts a fresh container, so without it each run compiles again (about 0.3 s).
RUN printf '#!/usr/local/bin/python\nfrom northflank_build.post import run\nrun()\n' \
        > /usr/local/bin/northflank-build-post \
    && chmod 755 /usr/local/bin/northflank-build-post \
    && PYTHONDONTWRITEBYTECODE='' python -c "import httpx, northflank_build.__main__, \
northflank_build.post, northflank_build.api.models, northflank_build.api.logtail, northflank_build.inputs.service_spec, northflank_build.inputs.spec_model; \
httpx.Client().close()"

# No USER: the runner needs root for the mounted workspace and file-command files.
# Exec form: Python is PID 1 and receives the runner's SIGINT/SIGTERM on cancel.
ENTRYPOINT ["python", "-m", "northflank_build"]
