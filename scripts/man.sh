#!/usr/bin/env bash
# Build the man pages: scripts/man.sh REINS OUTDIR
#
# The pages follow the binary rather than a copy of it: the list of commands
# is `reins --help`'s, and each command's page carries its `reins COMMAND
# --help` verbatim as OPTIONS, so a new option is in its page at the next
# build. What cannot be read from the binary (the overview, the policy
# language) is written in docs/man/*.scd (scdoc), and tests/integration/
# test_docs.py holds reins-policy(5) to `reins policy keys`.
# docs/man/reins-COMMAND.1.scd, when present, replaces the generated page;
# its %HELP% line becomes the command's --help.
set -euo pipefail
reins=$1
out=$2
src=$(dirname "$0")/../docs/man
mkdir -p "$out/scd"
# a reproducible date: the last commit's, as Debian's tools expect
if [[ -z ${SOURCE_DATE_EPOCH:-} ]]; then
	SOURCE_DATE_EPOCH=$(git -C "$src" log -1 --format=%ct 2>/dev/null || date +%s)
	export SOURCE_DATE_EPOCH
fi

# "  NAME     summary" lines after "commands:"
mapfile -t lines < <("$reins" --help | sed -n '/^commands:/,/^$/{/^  [a-z]/p}')

# the help text as an scdoc literal block: scdoc passes it as it is
help_block() {
	printf '```\n'
	"$reins" "$@" --help 2>&1 | sed 's/\t/        /g'
	printf '```\n'
}

commands=""
seealso=""
for line in "${lines[@]}"; do
	name=$(awk '{print $1}' <<<"$line")
	summary=$(sed -E 's/^ +[a-z]+ +//' <<<"$line")
	commands+=$'*reins '"$name"$'*\n\t'"$summary"$' (*reins-'"$name"$'*(1))\n\n'
	seealso+=", *reins-$name*(1)"
	page="$out/scd/reins-$name.1.scd"
	if [[ -f $src/reins-$name.1.scd ]]; then
		while IFS= read -r l; do
			if [[ $l == %HELP% ]]; then help_block "$name"; else printf '%s\n' "$l"; fi
		done <"$src/reins-$name.1.scd" >"$page"
	else
		{
			printf 'reins-%s(1)\n\n# NAME\n\nreins-%s - %s\n\n' "$name" "$name" "$summary"
			printf '# SYNOPSIS AND OPTIONS\n\nAs *reins %s --help* prints them:\n\n' "$name"
			help_block "$name"
			printf '\n# SEE ALSO\n\n*reins*(1), *reins-policy*(5)\n'
		} >"$page"
	fi
	scdoc <"$page" >"$out/reins-$name.1"
done

while IFS= read -r l; do
	case $l in
	%COMMANDS%) printf '%s' "$commands" ;;
	*%SEEALSO%*) printf '%s\n' "${l/\%SEEALSO\%/$seealso}" ;;
	*) printf '%s\n' "$l" ;;
	esac
done <"$src/reins.1.scd" >"$out/scd/reins.1.scd"
scdoc <"$out/scd/reins.1.scd" >"$out/reins.1"
scdoc <"$src/reins-policy.5.scd" >"$out/reins-policy.5"
