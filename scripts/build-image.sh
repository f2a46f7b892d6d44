#!/usr/bin/env bash
# `make image`: build the container image with buildah (chroot isolation), then smoke-test it:
# migrate against a PostgreSQL on this machine, start the API, and expect /ready to answer 200.
#
# The base is the public Python slim image when a registry answers; otherwise a Debian bookworm root
# filesystem built from Debian packages with mmdebstrap (python3.11, the same as the slim image's).
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-localhost/lms}
TAG=${TAG:-$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)}
PUBLIC_BASE=docker.io/library/python:3.11-slim-bookworm
LOCAL_BASE=localhost/lms-base:bookworm
WORK=${IMAGE_WORK_DIR:-.image-build}
export BUILDAH_ISOLATION=chroot STORAGE_DRIVER=${STORAGE_DRIVER:-vfs}
mkdir -p "$WORK"

base=$PUBLIC_BASE
if ! timeout 60 buildah pull --quiet "$PUBLIC_BASE" >/dev/null 2>&1; then
  if ! buildah inspect --type image "$LOCAL_BASE" >/dev/null 2>&1; then
    echo "== $PUBLIC_BASE cannot be pulled: building a bookworm base with mmdebstrap"
    mmdebstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
      --aptopt='APT::Install-Recommends "false"' bookworm "$WORK/base.tar"
    container=$(buildah from scratch)
    mount=$(buildah mount "$container")
    tar -xf "$WORK/base.tar" -C "$mount"
    buildah umount "$container"
    buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$container"
    buildah commit --quiet "$container" "$LOCAL_BASE" >/dev/null
    buildah rm "$container" >/dev/null
    rm -f "$WORK/base.tar"
  fi
  base=$LOCAL_BASE
fi

echo "== building $IMAGE:$TAG on $base"
extra=()
# This machine's CA bundle (it may trust a TLS-inspecting proxy) for pip in the build stage only.
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  extra+=(--volume /etc/ssl/certs/ca-certificates.crt:/run/host-ca.crt:ro --build-arg PIP_CERT=/run/host-ca.crt)
fi
buildah build --isolation chroot --layers --build-arg BASE="$base" "${extra[@]}" -f Containerfile -t "$IMAGE:$TAG" .

if [ "${SKIP_SMOKE:-}" = 1 ]; then exit 0; fi
echo "== smoke test: migrate, start the API, /ready"
DB_ADMIN=${SMOKE_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
REDIS=${SMOKE_REDIS_URL:-redis://127.0.0.1:6379/15}
DB_NAME=lms_image_smoke
python3 - "$DB_ADMIN" "$DB_NAME" <<'PY'
import sys, psycopg
with psycopg.connect(sys.argv[1], autocommit=True) as c:
    c.execute(f"drop database if exists {sys.argv[2]} with (force)")
    c.execute(f"create database {sys.argv[2]}")
PY
DB_URL="${DB_ADMIN%/*}/$DB_NAME"
container=$(buildah from "$IMAGE:$TAG")
trap 'buildah rm "$container" >/dev/null 2>&1 || true' EXIT
run() { buildah run --isolation chroot --network host --user 10001:10001 \
  --env DATABASE_URL="$DB_URL" --env REDIS_URL="$REDIS" --env LOG_FORMAT=json "$container" -- "$@"; }
run lms --version
run lms migrate
PORT=${SMOKE_PORT:-18080}
run sh -c "METRICS_PORT=$((PORT + 1)) lms api --host 127.0.0.1 --port $PORT & pid=\$!; \
  for i in \$(seq 1 60); do \
    if python3 -c \"import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:$PORT/ready', timeout=2).status == 200 else 1)\" 2>/dev/null; then \
      echo '/ready answered 200'; kill \$pid; exit 0; fi; sleep 1; done; kill \$pid; echo '/ready never answered 200'; exit 1"
echo "== $IMAGE:$TAG passed its smoke test"
