#!/usr/bin/env bash
# Splits the numbers 1..1000 into 2 chunks, here in the pilot's working directory (the example's folder).
set -euo pipefail
mkdir -p work
seq 1 1000 > work/numbers.txt
split -n l/2 -d -a 1 work/numbers.txt work/chunk_
echo "split: $(ls work/chunk_* | wc -l) chunks"
