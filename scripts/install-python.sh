#!/usr/bin/env bash
# Makes `import seqmix` work for this checkout, without copying anything:
# a seqmix-dev.pth naming <checkout>/python goes into the project's venv and
# into the user site-packages of the `python3` on PATH (skipped when that
# interpreter has no user site, e.g. inside another venv). The package finds
# the libraries in <checkout>/build/lib, or in $SEQMIX_LIB_DIR.
# To install into another environment instead: see docs/python.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
home=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
venv=${SEQMIX_VENV:-$home/.cache/seqmix/venv}

write_pth() { # <python>
  local py=$1 site
  site=$("$py" - <<'PY' 2>/dev/null
import site, sys
if sys.prefix != sys.base_prefix:   # a venv: its own site-packages
    print(site.getsitepackages()[0])
elif site.ENABLE_USER_SITE:
    print(site.getusersitepackages())
PY
) || return 0
  [ -n "$site" ] || return 0
  mkdir -p "$site"
  if [ "$(cat "$site/seqmix-dev.pth" 2>/dev/null)" != "$root/python" ]; then
    echo "$root/python" > "$site/seqmix-dev.pth"
    echo "install-python: import seqmix -> $root/python (via $site/seqmix-dev.pth)"
  fi
}

[ -x "$venv/bin/python3" ] && write_pth "$venv/bin/python3"
if command -v python3 >/dev/null 2>&1; then
  write_pth "$(command -v python3)"
fi
exit 0
