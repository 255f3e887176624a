#!/usr/bin/env bash
# Sets up everything dataperf needs, idempotently: system packages (WordNet data, Fashion-MNIST,
# Chromium and chromium-driver for the browser test of the HTML reports), then a virtual
# environment in .venv (or $DATAPERF_VENV) with dataperf[text,dev] installed.
# A second run reuses what the first installed (the venv is rebuilt only when pyproject.toml,
# scripts/constraints.txt or this script change).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${DATAPERF_VENV:-.venv}
PYTHON=${PYTHON:-python3}
NEED_GB=9  # torch (CUDA build) alone is ~5.5 GB; TextAttack and friends ~1 GB more

say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- disk space (first)
if [ ! -x "$VENV/bin/python" ]; then
  target=$(dirname "$VENV")
  mkdir -p "$target"
  free_kb=$(df -Pk "$target" | awk 'NR==2 {print $4}')
  if [ "$free_kb" -lt $((NEED_GB * 1024 * 1024)) ]; then
    die "not enough free disk space in $(cd "$target" && pwd): $((free_kb / 1024 / 1024)) GB free, ~${NEED_GB} GB needed (PyTorch alone is ~5.5 GB). Free some space, or set DATAPERF_VENV to a folder on a larger disk, and run again."
  fi
fi

# ---------------------------------------------------------------- system packages
missing=()
[ -f /usr/share/wordnet/data.noun ] || missing+=(wordnet-base)
[ -f /usr/share/wordnet/index.sense ] || missing+=(wordnet-sense-index)
[ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] || missing+=(dataset-fashion-mnist)
# A headless browser for tests/propose/test_report_browser.py (Selenium drives it; offline).
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=none
  if [ "$(id -u)" = 0 ]; then sudo_cmd=""
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo_cmd="sudo -n"; fi
  if [ "$sudo_cmd" != none ] && command -v apt-get >/dev/null 2>&1; then
    say "installing system packages: ${missing[*]}"
    if ! { $sudo_cmd apt-get update -qq &&
           DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"; } >/tmp/dataperf-apt.log 2>&1; then
      say "WARNING: apt-get failed (log: /tmp/dataperf-apt.log); continuing without ${missing[*]}"
    fi
  else
    say "WARNING: cannot install system packages without root. Ask an administrator to run:"
    say "    apt-get install -y ${missing[*]}"
    say "Until then: WordNet synonyms (dataperf.text.SynonymReplace, TextAttack's wordnet/eda"
    say "recipes) and Fashion-MNIST are unavailable; the demo falls back to scikit-learn's digits;"
    say "without chromium and chromium-driver the HTML report's browser test is skipped."
  fi
else
  say "system packages present (WordNet, Fashion-MNIST, Chromium and chromedriver)"
fi

# ---------------------------------------------------------------- Python environment
stamp=$(cat pyproject.toml scripts/constraints.txt scripts/bootstrap.sh | sha256sum | cut -c1-16)
if [ -f "$VENV/.dataperf-stamp" ] && [ "$(cat "$VENV/.dataperf-stamp")" = "$stamp" ] &&
   "$VENV/bin/python" -c "import dataperf" 2>/dev/null; then
  say "Python environment up to date ($VENV)"
else
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null ||
    die "dataperf needs Python >= 3.10; '$PYTHON' is $("$PYTHON" --version 2>&1 || echo missing). Set PYTHON=/path/to/python3.11."

  if [ ! -x "$VENV/bin/python" ]; then
    say "creating virtual environment $VENV"
    "$PYTHON" -m venv "$VENV"
  fi

  # pip's own exit status is kept (pipefail); only its notes about unusable local index
  # folders on some machines are dropped.
  pip_install() {
    "$VENV/bin/python" -m pip install -q -c scripts/constraints.txt "$@" 2>&1 |
      { grep -v "^WARNING: Location '.*' is ignored" || true; }
  }
  say "installing PyTorch and torchvision (a few minutes on first run)"
  pip_install torch torchvision
  say "installing dataperf[text,dev] (TextAttack, albumentations, test tools)"
  pip_install -e ".[text,dev]"
  echo "$stamp" > "$VENV/.dataperf-stamp"
fi

# ---------------------------------------------------------------- NLTK data (no network)
# English stopwords, WordNet (copied from /usr/share/wordnet) and dataperf's synonym table go
# into $VENV/nltk_data, a folder NLTK searches by itself: TextAttack imported directly works
# offline in any account, whatever HOME is. Idempotent: files already there are kept.
"$VENV/bin/python" -m dataperf.text >/dev/null ||
  die "could not provision NLTK data into $VENV/nltk_data (the error is above)"
say "done: $VENV is ready (NLTK data in $VENV/nltk_data)"
