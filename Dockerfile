# s3ad daemon image: slim Python, non-root, pinned dependencies, health check on loopback.
FROM python:3.11-slim AS build
# A C compiler for the mypyc build of the hot path (detector/native.py); not in the final image.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY setup.cfg setup.py pyproject.toml README.md constraints.txt ./
COPY detector ./detector
# Wheels of the dependencies (and a source build of s3ad), then s3ad compiled: mypyc
# type-checks against the installed dependencies, so it builds without isolation.
RUN S3AD_PURE_PYTHON=1 pip wheel --no-cache-dir --wheel-dir /wheels -c constraints.txt . \
    && pip install --no-cache-dir --no-index --find-links /wheels s3ad \
    && pip install --no-cache-dir -c constraints.txt mypy setuptools wheel \
    && rm /wheels/s3ad-*.whl \
    && S3AD_REQUIRE_NATIVE=1 pip wheel --no-cache-dir --no-build-isolation --no-deps \
       --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home /app s3ad
WORKDIR /app
COPY --from=build /wheels /wheels
COPY constraints.txt /app/
RUN pip install --no-cache-dir --no-index --find-links /wheels s3ad && rm -rf /wheels
COPY config /app/config
USER s3ad
ENV PYTHONUNBUFFERED=1 \
    S3AD_SERVICE_HEALTH_BIND=127.0.0.1 \
    S3AD_SERVICE_HEALTH_PORT=8080 \
    S3AD_RULES_TOR_EXIT_LIST=/app/config/tor_exits.txt
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=3).status == 200 else 1)"
# ECS sends SIGTERM then SIGKILL after stopTimeout; s3ad finishes within service.shutdown_budget_seconds.
STOPSIGNAL SIGTERM
ENTRYPOINT ["s3ad"]
CMD ["run"]
