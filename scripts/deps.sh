#!/usr/bin/env bash
# Install the Debian packages reins needs to build, test, demo and bench,
# only those missing. As root it runs apt-get; otherwise it says what to run.
set -euo pipefail
packages=(build-essential pkg-config clang-format clang libclang-rt-dev libseccomp-dev libsodium-dev libyaml-dev
          libcap-dev libjansson-dev libc-ares-dev nettle-dev zlib1g-dev libssl-dev libnghttp2-dev libmicrohttpd-dev libgnutls28-dev libcmocka-dev python3 python3-pytest python3-pytest-xdist python3-cryptography python3-selenium chromium chromium-driver bubblewrap util-linux procps
          iproute2 curl socat git openssl python3-pip python3-venv npm tmux
          podman conmon containerd runc umoci busybox-static uidmap python3-grpcio
          skopeo mmdebstrap scdoc lintian zsh fish nghttp2-server python3-h2
          wabt wasi-libc libclang-rt-14-dev-wasm32 lld
          qemu-system-x86 linux-source-6.1 bc flex bison libelf-dev)
# wabt wasi-libc libclang-rt-14-dev-wasm32 lld: isolation wasm. wabt's wasm2c
# translates a module to C and its runtime (wasm-rt-impl.c) is linked into
# every module's engine at build and run time; wasi-libc, the wasm32 compiler
# runtime and lld build the WASI test modules (tests/wasm) and the bench's.
# qemu-system-x86 linux-source-6.1 bc flex bison libelf-dev (and libssl-dev above):
# isolation: vm -- QEMU (microvm) and the guest kernel `make vm-kernel`
# builds from Debian's source with the tools its build needs.
# podman conmon containerd runc umoci busybox-static uidmap python3-grpcio: test- and
# bench-only, for the OCI engines (tests/integration/test_oci_engines.py,
# bench/oci): the engines that drive reins oci, runc as the reference
# runtime, the offline busybox image and its OCI layout, rootless podman,
# gRPC for the CRI calls kubelet would make (tests/integration/cri_client.py).
# scdoc lintian: the man pages' source format to roff (make man/install/deb),
# and the check of make deb's package; zsh fish: test-only, their completion
# scripts are driven like bash's (tests/integration/test_completion.py).
# python3-h2 nghttp2-server: test- and bench-only, HTTP/2 TLS stand-ins behind credential
# injection (tests/integration/proxy_helpers/h2server.py; nghttpd in
# bench/credentials/h2_bench.py).
# skopeo mmdebstrap: declarative environments (src/env/): skopeo copies a
# docker-archive or containers-storage image into an OCI layout, mmdebstrap
# builds a Debian root from the host's apt mirror (umoci unpacks both).
# A package whose command the machine already has from elsewhere counts as
# present: Node.js from NodeSource bundles npm and conflicts with Debian's.
declare -A provides=([npm]=npm)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' && continue
	[[ -n ${provides[$p]:-} ]] && command -v "${provides[$p]}" >/dev/null && continue
	missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0
if [[ $(id -u) -ne 0 ]]; then
	echo "reins: missing Debian packages: ${missing[*]}" >&2
	echo "reins: run as root: apt-get install -y ${missing[*]}" >&2
	exit 1
fi
echo "reins: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq || true
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
