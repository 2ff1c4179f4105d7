#!/usr/bin/env bash
# deploy.kubernetes: deploy/kubernetes/*.yaml validated offline against the
# Kubernetes and KEDA JSON schemas that the npm packages kubernetes-models
# and @kubernetes-models/keda bundle (kubernetes/validate.mjs), plus the
# cross-references a schema cannot see. No cluster runs here. The packages
# are installed once into the build directory; without npm or its registry
# the documents are only parsed (python3-yaml) and the test is skipped.
#   kubernetes_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1 build=$2
here=$(cd "$(dirname "$0")" && pwd)
manifests=$src/deploy/kubernetes
node_dir=$build/tests/deploy/kubernetes-node

parse_only() {
  python3 - "$manifests" <<'PY'
import glob, sys, yaml
n = 0
for f in sorted(glob.glob(sys.argv[1] + "/*.yaml")):
    for d in yaml.safe_load_all(open(f)):
        if d is None: continue
        for k in ("apiVersion", "kind", "metadata", "spec"):
            assert k in d, "%s: %s lacks %s" % (f, d.get("kind"), k)
        n += 1
print("parsed %d documents (YAML and top-level fields only)" % n)
PY
}

if ! command -v node > /dev/null || ! command -v npm > /dev/null; then
  parse_only; echo "SKIP: no node/npm: schemas not checked"; exit 77
fi
mkdir -p "$node_dir"
cp "$here/kubernetes/package.json" "$here/kubernetes/validate.mjs" "$node_dir/"
if ! cmp -s "$here/kubernetes/package.json" "$node_dir/.installed" 2> /dev/null; then
  if ! (cd "$node_dir" && npm install --no-audit --no-fund --no-package-lock > npm.log 2>&1); then
    tail -5 "$node_dir/npm.log"
    parse_only; echo "SKIP: npm install failed (registry unreachable?): schemas not checked"; exit 77
  fi
  cp "$here/kubernetes/package.json" "$node_dir/.installed"
fi
(cd "$node_dir" && node validate.mjs "$manifests")
echo "deploy.kubernetes: ok"
