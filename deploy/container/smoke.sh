#!/bin/bash
# Build the image with buildah and smoke-test it on this machine: the container serves the
# demo (`lookup demo`: synthesise, build, key, serve) and the demo's own curl lines must answer
# what they should. buildah, not podman: `podman run` is refused on these machines (crun
# cannot set rlimits); `buildah run --isolation=chroot` needs no runtime of its own.
#
#   deploy/container/smoke.sh [BASE]
#
# BASE defaults to a Debian 12 base made here with debootstrap (deploy/container/base.sh), as
# no image registry is reachable; give docker.io/library/python:3.11-slim-bookworm where one is.
# PIP_CA=FILE hands pip a CA bundle (a TLS-inspecting proxy) as a build secret.
# Needs root, buildah, debootstrap, podman, curl (apt-get install -y buildah debootstrap podman).
set -euo pipefail
cd "$(dirname "$0")/../.."
BASE=${1:-localhost/debian-python:bookworm}
IMAGE=${IMAGE:-localhost/bhyt-lookup:smoke}
PORT=${PORT:-18080}
ROWS=${ROWS:-20000}

if [ "$BASE" = localhost/debian-python:bookworm ]; then
    deploy/container/base.sh "$BASE"
fi
secret=()
if [ -n "${PIP_CA:-}" ]; then
    secret=(--secret "id=pip-ca,src=$PIP_CA")
fi
start=$(date +%s)
buildah bud --isolation=chroot --network=host "${secret[@]}" --build-arg BASE="$BASE" \
    -t "$IMAGE" .
echo "smoke: built $IMAGE from $BASE in $(($(date +%s) - start)) s"

work=$(mktemp -d)
ctr=$(buildah from "$IMAGE")
demo=""
cleanup() {
    if [ -n "$demo" ]; then
        kill -INT "$demo" 2>/dev/null || true
        # chroot isolation shares the host's process table: stop what still holds the port.
        for pid in $(ss -Hltnp "sport = :$PORT" | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
            kill -INT "$pid" 2>/dev/null || true
        done
        wait "$demo" 2>/dev/null || true
    fi
    buildah rm "$ctr" >/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

buildah run --isolation=chroot --network=host "$ctr" -- \
    lookup demo --port "$PORT" --workers 1 --rows "$ROWS" >"$work/demo.out" 2>"$work/demo.err" &
demo=$!
for _ in $(seq 600); do
    grep -q "Ctrl-C" "$work/demo.out" && break
    if ! kill -0 "$demo" 2>/dev/null; then
        echo "smoke: the demo died" >&2
        cat "$work/demo.out" "$work/demo.err" >&2
        exit 1
    fi
    sleep 0.5
done
grep -q "Ctrl-C" "$work/demo.out" || { echo "smoke: the demo did not start" >&2; exit 1; }
echo "smoke: the container serves on port $PORT after $(($(date +%s) - start)) s in all"

# Run each curl line the demo printed (after the variable assignments before it), keeping
# each output apart, then check what they answered.
grep -E '^(curl|TOKEN|ID_)' "$work/demo.out" >"$work/lines"
n=0
assignments=""
while IFS= read -r line; do
    if [[ "$line" =~ ^[A-Z_]+= ]]; then
        assignments+="$line"$'\n'
        continue
    fi
    n=$((n + 1))
    bash -c "set -eo pipefail; $assignments$line" >"$work/out.$n"
done <"$work/lines"
python3 - "$work" "$n" <<'PY'
import json, pathlib, sys

work, count = pathlib.Path(sys.argv[1]), int(sys.argv[2])
outputs = [(work / f"out.{i}").read_text() for i in range(1, count + 1)]
answers = [json.loads(o) for o in outputs if o.strip().startswith(("{", "["))]
checks = {
    "entitlement 000": answers[0]["result"]["code"] == "000",
    "batch ends 050, 205": [r["result"]["code"] for r in next(a for a in answers if "results" in a)["results"]][-2:] == ["050", "205"],
    "gateway 000": next(a for a in answers if "maKetQua" in a and "maThe" in a)["maKetQua"] == "000",
    "readyz: compiled core": any(a.get("ready") is True and a.get("core") == "compiled" for a in answers),
    "metrics": any("lookup_requests_total" in o for o in outputs),
    "openapi": any("openapi" in a for a in answers if isinstance(a, dict)),
}
for name, ok in checks.items():
    print(f"smoke: {'ok  ' if ok else 'FAIL'} {name}")
sys.exit(0 if all(checks.values()) else 1)
PY
echo "smoke: $n curl lines answered as they should"
