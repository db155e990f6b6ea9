#!/usr/bin/env bash
# Writes a picas token file for the fractals example: one line per token, each line a shell command
# that renders one Julia set with its own constant c. Push it with `picas push`.
#
#   bash make-tokens.sh [-n TOKENS] [-s SIZE] [-i ITER] [-d OUTDIR] [-b FRACTALS] > fractals.txt
#
#   -n TOKENS   how many tokens (default 10)
#   -s SIZE     image width and height in pixels (default 800)
#   -i ITER     maximum iterations per pixel (default 5000); raise it for longer-running tokens
#   -d OUTDIR   where the images go (default ./output); must be reachable from the pilots
#   -b FRACTALS the fractals program (default ./fractals next to this script)
#
# Paths are written as absolute paths: a token then runs the same wherever its pilot was started, on any node.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
count=10 size=800 iterations=5000 outdir=$PWD/output bin=$here/fractals
while getopts "n:s:i:d:b:h" opt; do
  case $opt in
    n) count=$OPTARG ;;
    s) size=$OPTARG ;;
    i) iterations=$OPTARG ;;
    d) outdir=$OPTARG ;;
    b) bin=$OPTARG ;;
    *) sed -n '2,14p' "$0" >&2; exit 2 ;;
  esac
done
for value in "$count" "$size" "$iterations"; do
  case $value in ''|*[!0-9]*) echo "make-tokens.sh: -n, -s and -i take whole numbers, got '$value'" >&2; exit 2 ;; esac
done
case $outdir in /*) ;; *) outdir=$PWD/$outdir ;; esac
case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
for path in "$outdir" "$bin"; do
  case $path in *[[:space:]\'\"\$\`\\]*) echo "make-tokens.sh: '$path' must not contain spaces, quotes or \$" >&2; exit 2 ;; esac
done

echo "# fractals tokens: $count Julia sets of ${size}x${size} pixels, up to $iterations iterations per pixel"
for ((k = 0; k < count; k++)); do
  # walk c just inside the main cardioid of the Mandelbrot set: every c gives another connected Julia
  # set with a large interior, whose pixels all take the full ITER iterations (that is the running time)
  c=$(awk -v k="$k" -v n="$count" 'BEGIN {
    t = 6.283185307179586 * (k + 0.5) / n
    printf "%.4f,%.4f", 0.97 * (cos(t) / 2 - cos(2 * t) / 4), 0.97 * (sin(t) / 2 - sin(2 * t) / 4) }')
  printf 'mkdir -p %s && %s -o %s/julia_%03d.pgm -s %d -i %d -c %s\n' "$outdir" "$bin" "$outdir" "$k" "$size" "$iterations" "$c"
done
