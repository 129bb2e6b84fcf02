#!/usr/bin/env bash
# Vendor the website's JavaScript from npm, so the built site needs no CDN:
#   MathJax 3 (equations), the ipywidgets HTML manager and RequireJS (widget outputs).
# Installs the versions pinned in book/package-lock.json into book/node_modules (`npm ci`, no install scripts),
# then copies the files the site serves into book/vendor/, which book/_config.yml names in html_static_path.
# Both folders are build outputs (.gitignore). Does nothing when book/vendor/ matches the lock file already.
#   bash book/vendor.sh          vendor if missing or out of date
#   bash book/vendor.sh --force  vendor again
set -euo pipefail
cd "$(dirname "$0")"

stamp="vendor/.package-lock.sha256"
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ "${1:-}" != "--force" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "error: npm (Node.js) is needed once to vendor MathJax and the widget manager; install Node.js 18+" >&2
  exit 1
fi
echo "==> vendoring MathJax 3, the ipywidgets HTML manager and RequireJS from npm into book/vendor/"
npm ci --prefix . --ignore-scripts --no-audit --no-fund --loglevel=error

tmp="$(mktemp -d vendor.tmp.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
# MathJax: the whole es5 build, since the loader fetches components (fonts, TeX extensions, the menu) on demand
cp -r node_modules/mathjax/es5 "$tmp/mathjax"
cp node_modules/mathjax/LICENSE "$tmp/mathjax/LICENSE"
# The widget manager (AMD build, with the Font Awesome files its CSS points at) and its module loader
mkdir -p "$tmp/html-manager" "$tmp/requirejs"
find node_modules/@jupyter-widgets/html-manager/dist -maxdepth 1 -type f \
  ! -name '*.map' ! -name 'embed.js' ! -name 'libembed-amd.js' -exec cp {} "$tmp/html-manager/" \;
cp node_modules/@jupyter-widgets/html-manager/LICENSE "$tmp/html-manager/LICENSE" 2>/dev/null || true
cp node_modules/requirejs/require.js "$tmp/requirejs/require.js"
for f in "$tmp/mathjax/tex-mml-chtml.js" "$tmp/html-manager/embed-amd.js" "$tmp/requirejs/require.js"; do
  [ -s "$f" ] || { echo "error: $f is missing after npm ci" >&2; exit 1; }
done
echo "$want" > "$tmp/.package-lock.sha256"
rm -rf vendor
mv "$tmp" vendor
trap - EXIT
echo "==> book/vendor/ ready ($(du -sh vendor | cut -f1))"
