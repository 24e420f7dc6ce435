#!/usr/bin/env bash
# The module order (README "Layout"): a file may include its own module and
# the modules before it, never one after it. Prints each upward include and
# fails when there is one.
set -euo pipefail
cd "$(dirname "$0")/.."
order=(util policy audit net govern workspace sandbox vm env wasm session serve oci cli)
declare -A rank
for i in "${!order[@]}"; do rank[${order[$i]}]=$i; done
bad=0
while IFS=: read -r file line text; do
	from=${file#src/}
	from=${from%%/*}
	to=${text#*\"}
	to=${to%%/*}
	[[ -z ${rank[$from]:-} || -z ${rank[$to]:-} ]] && continue
	if ((rank[$to] > rank[$from])); then
		echo "$file:$line: $from includes ${text#*#include } ($to comes after $from)" >&2
		bad=1
	fi
done < <(grep -n '^#include "[a-z_]*/' src/*/*.[ch])
if ((bad)); then
	echo "layers: upward includes (order: ${order[*]})" >&2
	exit 1
fi
echo "layers: ok (${order[*]})"
