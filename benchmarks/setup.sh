#!/bin/sh
# Everything the benchmarks need beyond the project's own dependencies (CI does not run them).
#   sh benchmarks/setup.sh            then   python -m benchmarks   (or --quick)
set -eu
if ! command -v qpdf >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq qpdf
fi
qpdf --version | head -n 1
# The profiler behind `python -m benchmarks.profile` (samples the daemon from outside).
python -m pip install -q "py-spy>=0.3.14"
