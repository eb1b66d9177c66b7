#!/usr/bin/env bash
# Packaging for Spark jobs (EMR Serverless, Glue 5.x), written to dist/ at the repository root:
#   dist/s3ad-<version>-py3-none-any.whl   s3ad itself (pure Python)
#   dist/requirements-spark-job.txt        its runtime dependencies, pinned as in constraints.txt
#   dist/s3ad_venv.tar.gz                  with --emr: Python 3.11 + s3ad + dependencies for
#                                          EMR Serverless' spark.archives (needs docker)
# pyspark is not packaged: the job's Spark provides it.
set -euo pipefail
cd "$(dirname "$0")/../../.."
PYTHON=${PYTHON:-python3}

rm -rf dist/wheelhouse
"$PYTHON" -m pip wheel . -c constraints.txt -w dist/wheelhouse --quiet
cp dist/wheelhouse/s3ad-*.whl dist/
# name-version-….whl → name==version, for every dependency the wheel pulled in.
(cd dist/wheelhouse && ls -- *.whl) | grep -v '^s3ad-' |
    sed -E 's/^([^-]+)-([^-]+)-.*/\1==\2/' | sort > dist/requirements-spark-job.txt
echo "dist/$(cd dist && ls s3ad-*.whl | tail -1), dist/requirements-spark-job.txt"

if [[ "${1:-}" == "--emr" ]]; then
    DOCKER_BUILDKIT=1 docker build -f config/deploy/spark/Dockerfile.emr-serverless --output dist .
    echo "dist/s3ad_venv.tar.gz"
fi
