#!/usr/bin/env bash
# Run a pinned helm, building it once from the Go module proxy into .cache/bin (no Docker, no curl|sh).
#   scripts/helm.sh version            # builds on first use (minutes), then execs helm
#   scripts/helm.sh --path             # build if needed, print the binary's path
# The machine's GOPROXY/GOSUMDB are kept as they are. The build is serialised with flock so parallel
# callers (pytest, make) never race, and installed atomically (temp GOBIN, then mv).
# `.Capabilities.KubeVersion` is baked in via ldflags (a plain `go install` would report v1.20); callers
# should still pass --kube-version "$CONVSTREAM_KUBE_VERSION" (default below) to be explicit.
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.19.0}"
KUBE_MAJOR=1
KUBE_MINOR=31
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN_DIR="$ROOT/.cache/bin"
HELM_BIN="$BIN_DIR/helm-$HELM_VERSION"

build() {
  command -v go >/dev/null || { echo "helm.sh: 'go' not found (need Go >= 1.24 for helm $HELM_VERSION)" >&2; exit 4; }
  mkdir -p "$BIN_DIR"
  exec 9>"$BIN_DIR/.helm-build.lock"
  flock 9
  [[ -x "$HELM_BIN" ]] && return 0          # another caller finished the build while we waited
  local tmp start
  tmp="$(mktemp -d "$BIN_DIR/.helm-build.XXXXXX")"
  start=$SECONDS
  echo "helm.sh: building helm $HELM_VERSION with $(go version | awk '{print $3}') (first use; takes minutes)" >&2
  local pkg=helm.sh/helm/v3
  GOTOOLCHAIN=local CGO_ENABLED=0 GOBIN="$tmp" go install -trimpath -ldflags "-s -w \
    -X $pkg/internal/version.version=$HELM_VERSION \
    -X $pkg/pkg/chartutil.k8sVersionMajor=$KUBE_MAJOR -X $pkg/pkg/chartutil.k8sVersionMinor=$KUBE_MINOR \
    -X $pkg/pkg/lint/rules.k8sVersionMajor=$KUBE_MAJOR -X $pkg/pkg/lint/rules.k8sVersionMinor=$KUBE_MINOR" \
    "$pkg/cmd/helm@$HELM_VERSION" >&2
  mv "$tmp/helm" "$HELM_BIN"
  rmdir "$tmp"
  echo "helm.sh: built $HELM_BIN in $((SECONDS - start))s" >&2
}

[[ -x "$HELM_BIN" ]] || build
if [[ "${1:-}" == "--path" ]]; then
  echo "$HELM_BIN"
  exit 0
fi
exec "$HELM_BIN" "$@"
