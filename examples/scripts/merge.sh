#!/usr/bin/env bash
# Adds the chunks' sums: 500500 for 1..1000.
set -euo pipefail
echo "total $(cat work/sum_* | awk '{ s += $1 } END { print s }')"
