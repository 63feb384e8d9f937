# Production image: the compiled core is required (a failed compile fails the image build).
#
#   buildah bud --isolation=chroot --network=host --build-arg BASE=IMAGE -t bhyt-lookup .
#
# BASE is any Debian-family image with python3 (3.11+) and its venv module: the official
# python:3.11-slim by default, or one made offline with debootstrap where no image registry is
# reachable (deploy/container/base.sh). deploy/container/smoke.sh builds and smoke-tests it.
ARG BASE=docker.io/library/python:3.11-slim-bookworm

FROM ${BASE} AS build
# gcc for the core; Python's headers only when the base lacks them (python:*-slim has them,
# Debian's python3 keeps them in python3-dev).
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev $(python3 -c \
        'import os, sysconfig; print("" if os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")) else "python3-dev")') \
    && rm -rf /var/lib/apt/lists/*
# A venv, not the system site-packages: Debian's python3 refuses pip installs (PEP 668), and
# the runtime stage copies one directory.
RUN python3 -m venv /opt/lookup
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY core core
COPY lookup lookup
ENV LOOKUP_REQUIRE_CORE=1
# s3fs: `lookup push/pull s3://...` (deploy/kubernetes/). Behind a TLS-inspecting proxy, give
# pip the proxy's CA bundle as a build secret (--secret id=pip-ca,src=/etc/ssl/certs/...):
# it is mounted for this step only and never stored in a layer.
RUN --mount=type=secret,id=pip-ca \
    if [ -s /run/secrets/pip-ca ]; then export PIP_CERT=/run/secrets/pip-ca; fi \
    && /opt/lookup/bin/pip install --no-cache-dir --disable-pip-version-check '.[s3]' \
    && cd / && /opt/lookup/bin/python -c 'from lookup import _core; _core.load("compiled")'

FROM ${BASE}
ENV PATH=/opt/lookup/bin:$PATH LOOKUP_REQUIRE_CORE=1 LOOKUP_DATA=/data PYTHONUNBUFFERED=1
COPY --from=build /opt/lookup /opt/lookup
RUN useradd --system --uid 10001 --home-dir /data lookup && mkdir -p /data && chown lookup /data
USER 10001
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["lookup"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
