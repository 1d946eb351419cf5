# Sums the calls a callgrind.out file records to the C allocation functions (malloc, calloc,
# realloc, posix_memalign, aligned_alloc, memalign), from every caller and thread. Prints one number.
# callgrind compresses names: "fn=(12) malloc" the first time, "cfn=(12)" later; each
# "calls=COUNT ..." line belongs to the callee named by the "cfn=" line before it.
/^c?fn=\(/ {
  lp = index($0, "("); rp = index($0, ")")
  id = substr($0, lp + 1, rp - lp - 1)
  rest = substr($0, rp + 1); sub(/^ /, "", rest)
  if (rest != "") name[id] = rest
  if ($0 ~ /^cfn=/) callee = name[id]
  next
}
/^calls=/ {
  split(substr($0, 7), f, " ")
  if (callee ~ /^(malloc|calloc|realloc|posix_memalign|aligned_alloc|memalign)$/) total += f[1]
  next
}
END { print total + 0 }
