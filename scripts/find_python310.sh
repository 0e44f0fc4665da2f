#!/usr/bin/env bash
# Print the path of a Python 3.10 interpreter, or explain how to get one.
# Rasa 3.6 supports Python 3.8-3.10 only; this project pins 3.10.
set -u
candidates=("${PYTHON310:-}" python3.10)
if command -v pyenv >/dev/null 2>&1; then
  for v in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.10(\.|$)' | sort -V -r); do
    candidates+=("$(pyenv root)/versions/$v/bin/python3.10")
  done
fi
candidates+=(/usr/bin/python3.10 /usr/local/bin/python3.10)
for c in "${candidates[@]}"; do
  [ -n "$c" ] || continue
  if out=$("$c" -c 'import sys; assert sys.version_info[:2] == (3, 10); print(sys.executable)' 2>/dev/null); then
    echo "$out"; exit 0
  fi
done
cat >&2 <<'MSG'
ERROR: Python 3.10 is required (rasa 3.6.21 refuses 3.11 and newer) and none was found.
Install one, then run the command again:
  pyenv install 3.10        # with pyenv
  apt-get install python3.10 python3.10-venv   # on Debian/Ubuntu releases that ship it
or point PYTHON310 at an interpreter: make PYTHON310=/path/to/python3.10 ...
MSG
exit 1
