#!/usr/bin/env bash
# Build reins' guest kernel for `isolation: vm` from Debian's linux-source-6.1
# and the committed option list (vm/kernel.config), once: the result is cached
# outside the tree, keyed by the hash of the option list and of the source
# archive's name, so a clean clone (CI) reuses it.
#   scripts/vm-kernel.sh [print]   build when missing; print the kernel's path
set -euo pipefail
# one function, read whole before it runs: editing this file during a build
# cannot change what the running build does
main() {
	here=$(cd "$(dirname "$0")/.." && pwd)
	fragment=${REINS_VM_FRAGMENT:-$here/vm/kernel.config}
	source_tar=${REINS_VM_KERNEL_SOURCE:-/usr/src/linux-source-6.1.tar.xz}
	cache=${REINS_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/reins/vm}
	key=$( (cat "$fragment"; basename "$source_tar") | sha256sum | cut -c1-16)
	kernel=$cache/bzImage-$key
	# reins looks for $cache/bzImage (src/vm/prepare.c): the current build
	if [[ -s $kernel ]]; then
		ln -f "$kernel" "$cache/bzImage"
		echo "$kernel"
		exit 0
	fi
	if [[ ! -r $source_tar ]]; then
		echo "reins: vm-kernel: $source_tar is missing (apt-get install linux-source-6.1)" >&2
		exit 1
	fi
	mkdir -p "$cache"
	work=$(mktemp -d "$cache/build-$key.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	echo "reins: vm-kernel: building the guest kernel in $work (a few minutes)" >&2
	tar -C "$work" -xf "$source_tar"
	src=$(echo "$work"/linux-source-*)
	jobs=$(nproc)
	make -C "$src" -s ARCH=x86_64 allnoconfig >/dev/null
	"$src/scripts/kconfig/merge_config.sh" -m -O "$src" "$src/.config" "$fragment" >/dev/null
	make -C "$src" -s ARCH=x86_64 olddefconfig >/dev/null
	# every option asked for must be in the result (a misspelt or unmet one is
	# silently dropped by kconfig otherwise)
	missing=0
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*) grep -qxF "$line" "$src/.config" || { echo "reins: vm-kernel: not set: $line" >&2; missing=1; } ;;
		"# CONFIG_"*" is not set") opt=${line#\# }; opt=${opt%% *}
			! grep -q "^$opt=" "$src/.config" || { echo "reins: vm-kernel: set but should not be: $opt" >&2; missing=1; } ;;
		esac
	done <"$fragment"
	((missing == 0)) || exit 1
	make -C "$src" -s ARCH=x86_64 -j"$jobs" bzImage >&2
	cp "$src/arch/x86/boot/bzImage" "$kernel.tmp"
	mv "$kernel.tmp" "$kernel"
	ln -f "$kernel" "$cache/bzImage"
	echo "$kernel"
}
main "$@"
exit
