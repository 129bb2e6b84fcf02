#!/usr/bin/env bash
# The course in two commands (run from anywhere):
#   bash course.sh        set up: a virtual environment in .venv, the course package and its tools, the Omniglot
#                         data; then open JupyterLab on the notebooks (not when CI is set or there is no terminal)
#   bash course.sh test   run the tests and execute every notebook in quick mode
#   bash course.sh book   build the website in English (book/_build/html) and Chinese (book/_build/html/zh) with
#                         every notebook executed once, then test both in headless Chromium (see book/README.md)
# Settings: PYTHON (interpreter for the venv, default python3), FSL_COURSE_DATA (data folder),
# FSL_COURSE_OMNIGLOT_SOURCE (a local folder of the Omniglot files, for offline machines),
# FSL_COURSE_MINI_IMAGENET_SOURCE (a local copy of mini-ImageNet: images/ or the three zips beside the CSVs).
set -euo pipefail
cd "$(dirname "$0")"
VENV=.venv

setup() {
  if [ ! -x "$VENV/bin/python" ]; then
    echo "==> creating the virtual environment $VENV"
    "${PYTHON:-python3}" -m venv "$VENV"
  fi
  echo "==> installing the course package and its tools"
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q -e ".[lab,dev]"
  echo "==> fetching Omniglot"
  "$VENV/bin/fsl-course" download omniglot
  # mini-ImageNet has no official download: taken from a local copy when one is named (or already in place)
  if [ -n "${FSL_COURSE_MINI_IMAGENET_SOURCE:-}" ]; then
    echo "==> fetching mini-ImageNet from $FSL_COURSE_MINI_IMAGENET_SOURCE"
    "$VENV/bin/fsl-course" download mini-imagenet
  else
    echo "==> mini-ImageNet (photos): not fetched; with a local copy, run FSL_COURSE_MINI_IMAGENET_SOURCE=DIR bash course.sh"
  fi
  echo "==> ready: notebooks in notebooks/, checkpoints in checkpoints/"
  if [ -z "${CI:-}" ] && [ -t 0 ] && [ "${1:-}" != "--no-lab" ]; then
    exec "$VENV/bin/jupyter" lab notebooks/00_setup_and_tour.ipynb
  fi
}

run_tests() {
  if [ ! -x "$VENV/bin/pytest" ]; then
    echo "error: the course is not set up yet; run 'bash course.sh' first" >&2
    exit 1
  fi
  set +e
  # one torch thread per test worker: two workers already fill two cores, and oversubscribed small
  # operations run many times slower
  FSL_COURSE_QUICK=1 MPLBACKEND=Agg OMP_NUM_THREADS=1 "$VENV/bin/python" -m pytest --nbval-lax -n 2 --dist loadfile --durations=15 "$@"
  rc=$?
  set -e
  if [ "$rc" -eq 5 ]; then
    echo "error: pytest collected no tests" >&2
    exit 1
  fi
  exit "$rc"
}

# ---- the website (bash course.sh book [pytest arguments for the browser test]) ----------------------------------
need_command() {  # need_command COMMAND DEBIAN_PACKAGE: install the package when the command is missing (as root)
  if command -v "$1" >/dev/null || { [ "$1" = chromium ] && [ -n "${CHROMIUM:-}" ]; }; then
    return 0
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing $2 (apt-get), for the website"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
  else
    echo "error: the website needs $1; install it (for example: sudo apt-get install -y $2)" >&2
    exit 1
  fi
}

need_cjk_fonts() {  # Chinese glyphs for the browser (Debian's fonts-noto-cjk), when fontconfig has none
  if fc-list :lang=zh 2>/dev/null | grep -q .; then
    return 0
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing fonts-noto-cjk (apt-get), for the Chinese website"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >/dev/null
  else
    echo "error: the Chinese website needs a CJK font; install one (for example: sudo apt-get install -y fonts-noto-cjk)" >&2
    exit 1
  fi
}

build_book() {
  if [ ! -x "$VENV/bin/python" ]; then
    echo "error: the course is not set up yet; run 'bash course.sh' first" >&2
    exit 1
  fi
  if ! "$VENV/bin/python" -c "import jupyter_book, sphinx_exercise, playwright" 2>/dev/null; then
    echo "==> installing the website's tools (the book extra)"
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 "$VENV/bin/python" -m pip install --disable-pip-version-check -q -e ".[book]"
  fi
  need_command npm npm          # to vendor MathJax and the widget manager (once)
  need_command chromium chromium  # the browser test drives the system's Chromium
  need_cjk_fonts                  # and the Chinese site needs Chinese glyphs
  bash book/vendor.sh
  "$VENV/bin/python" -m pytest -q -p no:cacheprovider book/test_execute.py  # the notebook runner, on tiny notebooks
  echo "==> building the website: every notebook executed${FSL_COURSE_QUICK:+ (QUICK MODE: a draft)}; any error fails"
  rm -rf book/_build
  local start=$SECONDS
  # the notebooks run into the build's execution cache as many at a time as there are CPUs (Jupyter Book alone
  # runs them one after another, each on one thread); the build then finds every one of them in the cache
  env -u MPLBACKEND OMP_NUM_THREADS=1 "$VENV/bin/python" book/execute.py
  # MPLBACKEND must not reach the notebooks' kernels: it would replace the inline backend and drop every figure
  # one torch thread per kernel: small operations on two oversubscribed threads run many times slower
  env -u MPLBACKEND OMP_NUM_THREADS=1 "$VENV/bin/jupyter-book" build . --config book/_config.yml --toc book/_toc.yml \
    --path-output book --all --warningiserror --nitpick --keep-going
  echo "==> built the English site, book/_build/html, in $(( SECONDS - start )) s"
  # the Chinese site: the same notebooks' code, so every output comes from the English run's execution cache
  start=$SECONDS
  env -u MPLBACKEND OMP_NUM_THREADS=1 "$VENV/bin/jupyter-book" build . --config book/zh/_config.yml \
    --toc book/zh/_toc.yml --path-output book/_build/zh --all --warningiserror --nitpick --keep-going
  mv book/_build/zh/_build/html book/_build/html/zh
  echo "==> built the Chinese site, book/_build/html/zh, in $(( SECONDS - start )) s; testing both in headless Chromium"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 "$VENV/bin/python" -m pytest book/test_site.py -q --tb=short "$@"
  echo "==> the website is in book/_build/html (open index.html); screenshots in book/_build/screenshots"
}

case "${1:-setup}" in
  setup|--no-lab) setup "${1:-}" ;;
  test) shift; run_tests "$@" ;;
  book) shift; build_book "$@" ;;
  *) echo "usage: bash course.sh [--no-lab] | bash course.sh test [pytest arguments] | bash course.sh book" >&2; exit 2 ;;
esac
