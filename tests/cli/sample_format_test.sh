#!/usr/bin/env bash
# cuis-sample's score files (docs/cuis-sample.md "Score files"): every rule of the text
# format, the .f32 format, and a one-line error naming the file (and the
# line) for everything refused.
set -u
bin=$1
. "$(dirname "$0")/sample_test_lib.sh"
run=(--count 200 --seed 3 --device cpu)

printf '1\n2\n' >"$dir/lf.txt"
printf '1\r\n2\r\n\r\n' >"$dir/crlf.txt"
printf '\xef\xbb\xbf1\n2\n' >"$dir/bom.txt"
printf '# scores\n\n1\n \t \n  # indented comment\n\t2  \n\n' >"$dir/blank.txt"
printf ' 1\t\r\n#\r\n2' >"$dir/mixed.txt"  # CRLF, a comment, no final line end
printf '+1.0\n.2e1\n' >"$dir/syntax.txt"     # a sign, a leading point, an exponent
python3 -c "import struct,sys; sys.stdout.buffer.write(struct.pack('<2f',1,2))" >"$dir/w.f32"
same_output "CRLF file: the same draws as LF (a CRLF blank line is no score)" "$dir/lf.txt" "$dir/crlf.txt" "${run[@]}"
check "CRLF file: weights 0.75 and 1.5 (N = 2)" [ "$(cut -d, -f2 "$dir/same_b" | sort -u | tr '\n' ' ')" = '0.75 1.5 ' ]
same_output "UTF-8 byte-order mark skipped" "$dir/lf.txt" "$dir/bom.txt" "${run[@]}"
same_output "blank, whitespace-only and comment lines ignored" "$dir/lf.txt" "$dir/blank.txt" "${run[@]}"
same_output "spaces and tabs around numbers, CRLF, no final line end" "$dir/lf.txt" "$dir/mixed.txt" "${run[@]}"
same_output "sign, leading point and exponent" "$dir/lf.txt" "$dir/syntax.txt" "${run[@]}"
same_output ".f32 file: the same draws as text" "$dir/lf.txt" "$dir/w.f32" "${run[@]}"

printf '1e-40\n0\n' >"$dir/subnormal.txt"
"$bin" --weights "$dir/subnormal.txt" "${run[@]}" >"$dir/out" 2>"$dir/err"
rc=$?
check "subnormal 1e-40 accepted as a positive score" [ "$rc $(sort -u "$dir/out")" = '0 0,0.5' ]
printf '3.4028235e38\n1\n' >"$dir/max.txt"
"$bin" --weights "$dir/max.txt" "${run[@]}" >/dev/null 2>&1
check "largest float32 accepted" [ $? -eq 0 ]

t() {  # t NAME TEXT CONTENT: the text file CONTENT (printf format) is refused with TEXT
  printf "$3" >"$dir/t.txt"
  expect_error 1 "$1" "t.txt: $2" --weights "$dir/t.txt" "${run[@]}"
}
t "text after a number" "line 2: not a number: '2 x'" '1\n2 x\n'
t "comment after a number" "line 2: not a number: '2 # c'" '1\n2 # c\n'
t "two numbers on a line" "line 1: not a number: '1 2'" '1 2\n'
t "comma" "line 1: not a number: '1,5'" '1,5\n'
t "hexadecimal" "line 1: not a number: '0x10'" '0x10\n'
t "not a number" "line 2: not a number: 'abc'" '1\nabc\n'
t "a lone CR (old Mac line ends)" "line 1: a carriage return not followed by a line feed" '1\r2\r'
t "a CR inside a line" "line 2: a carriage return not followed" '1\n2\r3\n'
t "a form feed is not whitespace" "line 2: not a number" '1\n\f\n'
t "a byte-order mark after the start" "line 2: not a number: '\\xEF\\xBB\\xBF2'" '1\n\xef\xbb\xbf2\n'
t "UTF-16" "starts with a UTF-16 byte-order mark" '\xff\xfe1\x00\n\x00'
t "1e40 is out of float32 range" "line 2: score 1: 1e40 is out of float32 range" '1\n1e40\n'
t "1e-50 would round to 0" "line 3: score 1: 1e-50 is not zero but rounds to 0 in float32" '1\n#\n1e-50\n'
t "NaN names line and index" "line 3: score 1 is NaN (value nan)" '1\n\nnan\n3\n'
t "inf names line and index" "line 2: score 1 is infinite (value inf)" '1\ninf\n'
t "negative names line and index" "line 3: score 2 is negative (value -3)" '1\n2\n-3\n'
t "only comments and blank lines" "no scores in file (3 lines, all blank or comments)" '# a\n\n \n'
t "empty text file" "no scores in file (no lines)" ''
python3 -c "print('1' * 5000)" >"$dir/long.txt"
expect_error 1 "line longer than 4096 bytes" "long.txt: line 1: longer than 4096 bytes" --weights "$dir/long.txt" "${run[@]}"

python3 -c "import struct,sys; sys.stdout.buffer.write(struct.pack('<3f',1,float('nan'),3))" >"$dir/nan.f32"
head -c 7 "$dir/w.f32" >"$dir/odd.f32"
: >"$dir/empty.f32"
expect_error 1 ".f32 of 7 bytes" "odd.f32: truncated float32 file (7 bytes is not a multiple of 4)" --weights "$dir/odd.f32" "${run[@]}"
expect_error 1 "empty .f32" "empty.f32: empty file" --weights "$dir/empty.f32" "${run[@]}"
expect_error 1 ".f32 NaN: the sampler names the index" "nan.f32: score 1 is NaN" --weights "$dir/nan.f32" "${run[@]}"
printf '0\n0\n' >"$dir/zero.txt"
expect_error 1 "all zero" "all transformed scores are zero" --weights "$dir/zero.txt" "${run[@]}"

mkdir "$dir/sub"
mkfifo "$dir/fifo"
expect_error 1 "directory" "sub: is a directory" --weights "$dir/sub" "${run[@]}"
expect_error 1 "FIFO (refused without waiting for a writer)" "fifo: is a FIFO" --weights "$dir/fifo" "${run[@]}"
expect_error 1 "character device" "is a character device" --weights /dev/null "${run[@]}"
expect_error 1 "missing file" "none.txt: cannot open (No such file or directory)" --weights "$dir/none.txt" "${run[@]}"
cp "$dir/lf.txt" "$dir/locked.txt"
chmod 000 "$dir/locked.txt"
if [ "$(id -u)" -ne 0 ]; then
  expect_error 1 "unreadable file" "locked.txt: cannot open (Permission denied)" --weights "$dir/locked.txt" "${run[@]}"
else
  echo "skip unreadable file (running as root, which reads it anyway)"
fi
finish "score files"
