# syntax=docker/dockerfile:1
# Image of the applicant web app (services/web). The six Dockerfiles in docker/ are the same file apart from
# SERVICE_MODULE and the final ENTRYPOINT/EXPOSE lines; change all of them together
# (deploy/helm/validate.sh checks that they have not drifted apart).
# Build from the repository root:  docker build -f docker/web.Dockerfile -t passport/web .
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

# ---- builder: dependencies in a venv, protobuf code generated, sources byte-compiled ----------
FROM ${PYTHON_IMAGE} AS builder
ARG SERVICE_MODULE=web
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /build

# This service's runtime dependencies, direct and indirect, from its hashed lock
# (docker/requirements/<module>.lock, `make lock`) into the venv the final image ships: OpenCV only
# where it is used; a file whose hash is not in the lock is refused.
COPY docker/requirements/${SERVICE_MODULE}.lock docker/requirements/protoc.lock ./
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --require-hashes -r ${SERVICE_MODULE}.lock

# protoc lives in a build-only venv: the generated code is all the final image needs.
COPY protos/ ./protos/
RUN python -m venv /opt/protoc \
 && /opt/protoc/bin/pip install --no-cache-dir --require-hashes -r protoc.lock \
 && mkdir -p /app/gen/python \
 && /opt/protoc/bin/python -m grpc_tools.protoc -Iprotos --python_out=/app/gen/python \
      --grpc_python_out=/app/gen/python protos/passport/v1/*.proto \
 && touch /app/gen/python/passport/__init__.py /app/gen/python/passport/v1/__init__.py

# Only the shared library and this service's own folder.
COPY libs/servicekit/ /app/libs/servicekit/
COPY services/__init__.py /app/services/__init__.py
COPY services/${SERVICE_MODULE}/ /app/services/${SERVICE_MODULE}/
# Byte-compile now: the root filesystem is read-only at run time.
RUN python -m compileall -q --invalidation-mode unchecked-hash /app

# ---- final: slim base, venv + app, non-root, nothing written outside /tmp ------------------
FROM ${PYTHON_IMAGE}
ARG SERVICE_MODULE=web
LABEL org.opencontainers.image.title="passport-${SERVICE_MODULE}" \
      org.opencontainers.image.description="Passport service platform: ${SERVICE_MODULE}"
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --no-create-home \
      --shell /usr/sbin/nologin app
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /app /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app:/app/libs:/app/gen/python \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    TMPDIR=/tmp
WORKDIR /app
USER 10001:10001
EXPOSE 8080
# gunicorn as PID 1 (exec) so SIGTERM reaches it. One worker with threads per pod (sessions live in the
# web service's database, services/web/sessions.py: scale by pods). Extra gunicorn settings: GUNICORN_CMD_ARGS.
ENTRYPOINT ["gunicorn", "--workers", "1", "--threads", "16", "--bind", "0.0.0.0:8080", "--worker-tmp-dir", "/tmp", "--graceful-timeout", "10", "--timeout", "60", "--access-logfile", "-", "services.web.wsgi:app"]
