# s3ad daemon image: slim Python, non-root, pinned dependencies, health check on loopback.
FROM python:3.11-slim AS build
WORKDIR /src
COPY setup.cfg pyproject.toml README.md constraints.txt ./
COPY detector ./detector
RUN pip wheel --no-cache-dir --wheel-dir /wheels -c constraints.txt .

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
