#!/usr/bin/env bash
# Sums one chunk: ./analyse.sh N reads work/chunk_<N-1> and writes work/sum_<N>.
set -euo pipefail
n=$1
awk '{ s += $1 } END { print s }' "work/chunk_$((n - 1))" > "work/sum_$n"
echo "step $n: $(cat "work/sum_$n")"
