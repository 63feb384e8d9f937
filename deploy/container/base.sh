#!/bin/sh
# Make a Debian 12 base image with python3 where no image registry is reachable: debootstrap
# from the Debian mirror apt already uses, imported as IMAGE (default
# localhost/debian-python:bookworm) into the containers storage buildah and podman share.
# Needs root, debootstrap and podman (apt-get install -y debootstrap podman buildah).
set -eu
IMAGE=${1:-localhost/debian-python:bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
if buildah inspect --type image "$IMAGE" >/dev/null 2>&1; then
    echo "base image $IMAGE exists"
    exit 0
fi
ROOT=$(mktemp -d /var/tmp/debian-base.XXXXXX)
trap 'rm -rf "$ROOT"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$ROOT" "$MIRROR"
# apt's package lists are fetched again by any build step that installs: none kept.
rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/*.bin
tar -C "$ROOT" -c . | podman import --change 'CMD ["/bin/bash"]' - "$IMAGE"
echo "base image $IMAGE made with debootstrap from $MIRROR"
