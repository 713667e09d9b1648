#!/usr/bin/env bash
# The sampler's device code must round exactly as the host reference does, so
# its PTX may hold no contracted multiply-add (fma.rn / mad on f32 or f64: nvcc
# forms them from a * b + c unless --fmad=false). Arguments: the PTX files of
# cuis_ptx_check: the one-GPU sampler (sampler.ptx) and the sharded one
# (sharded.ptx). The MLP passes' PTX (compiled with nvcc's default) is the
# control: the check must find contractions there, or it proves nothing.
set -u
pattern='\b(fma\.rn|mad(\.rn)?)\.f(32|64)\b'
status=0 sampler=0 sharded=0 control=0
for ptx in "$@"; do
  [ -r "$ptx" ] && [ -s "$ptx" ] || { echo "FAIL: $ptx is missing or empty"; status=1; continue; }
  case $ptx in
    *sampler.ptx|*sharded.ptx)
      case $ptx in *sampler.ptx) sampler=1 ;; *) sharded=1 ;; esac
      hits=$(grep -cE "$pattern" "$ptx")
      if [ "$hits" -ne 0 ]; then
        echo "FAIL: $ptx holds $hits contracted multiply-adds:"
        grep -nE "$pattern" "$ptx" | head -n 5
        status=1
      else
        echo "ok: $ptx has no contracted multiply-add"
      fi ;;
    *mlp_passes.ptx)
      control=1
      hits=$(grep -cE "$pattern" "$ptx")
      if [ "$hits" -eq 0 ]; then
        echo "FAIL: the control $ptx shows no contraction: the pattern no longer matches nvcc's PTX"
        status=1
      else
        echo "ok: the control $ptx has $hits contracted multiply-adds"
      fi ;;
  esac
done
[ $sampler -eq 1 ] && [ $sharded -eq 1 ] && [ $control -eq 1 ] ||
  { echo "FAIL: expected sampler.ptx, sharded.ptx and mlp_passes.ptx among: $*"; status=1; }
exit $status
