#!/usr/bin/env bash
# Prints a picas workflow as YAML: one split, N parallel steps, one merge (default N=4).
#   bash examples/dag/make-workflow.sh 8 > workflow.yaml && picas push workflow.yaml
# The tokens share a directory: $PICAS_DAG_DIR as the pilots see it (default /tmp/picas-dag-example).
# split:  the numbers 1..1000 into N chunks;  step i: the sum of chunk i;  merge: the total (500500).
# Every run appends a line to runs.log there (token id, start and end times), to see what ran when.
set -euo pipefail
n=${1:-4}
if ! [[ $n =~ ^[1-9][0-9]*$ ]] || (( n > 999 )); then
  echo "usage: make-workflow.sh [N]   (N steps, 1..999)" >&2
  exit 1
fi
dir='set -e; D="${PICAS_DAG_DIR:-/tmp/picas-dag-example}"; mkdir -p "$D"'
log='echo "$PICAS_TOKEN_ID start $(date +%s.%N)" >> "$D/runs.log"'
done_log='echo "$PICAS_TOKEN_ID end $(date +%s.%N)" >> "$D/runs.log"'
cat <<YAML
# a workflow of $((n + 2)) tokens: dag_split -> dag_step_1..dag_step_$n -> dag_merge
- id: dag_split
  input: |
    $dir; rm -f "\$D"/chunk_* "\$D"/sum_*; $log
    seq 1 1000 > "\$D/numbers.txt"; split -n l/$n -d -a 3 "\$D/numbers.txt" "\$D/chunk_"
    $done_log
YAML
steps=()
for ((i = 0; i < n; i++)); do
  chunk=$(printf '%03d' "$i")
  steps+=("dag_step_$((i + 1))")
  cat <<YAML
- id: dag_step_$((i + 1))
  depends_on: [dag_split]
  input: |
    $dir; $log
    awk '{ s += \$1 } END { print s }' "\$D/chunk_$chunk" > "\$D/sum_$chunk"
    echo "step $((i + 1)): sum of chunk $chunk is \$(cat "\$D/sum_$chunk") (after \$PICAS_DEPENDS_ON)"
    $done_log
YAML
done
deps=$(IFS=,; echo "${steps[*]}" | sed 's/,/, /g')
cat <<YAML
- id: dag_merge
  depends_on: [$deps]
  input: |
    $dir; $log
    test "\$(ls "\$D"/sum_* | wc -l)" -eq $n || { echo "merge: expected $n partial sums" >&2; exit 1; }
    total=\$(cat "\$D"/sum_* | awk '{ s += \$1 } END { print s }')
    echo "total \$total"
    $done_log
    test "\$total" -eq 500500
YAML
