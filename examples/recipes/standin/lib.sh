# Shared by the recipes' run.sh: the reins to use, a scratch directory, and
# the model API stand-in. Sourced, not run.
REINS=${REINS:-reins}
RECIPES=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCRATCH=$(mktemp -d /tmp/reins-recipe-XXXXXX)
chmod 0755 "$SCRATCH"
STANDIN_PID=
cleanup() {
	[[ -n $STANDIN_PID ]] && kill "$STANDIN_PID" 2>/dev/null
	rm -rf "$SCRATCH"
}
trap cleanup EXIT

# start_model_api: PORT is then where it listens (127.0.0.1), LOG what it saw
start_model_api() {
	LOG=$SCRATCH/model-api.log
	: >"$LOG"
	coproc STANDIN { exec python3 "$RECIPES/standin/model_api.py" "$LOG"; }
	STANDIN_PID=$STANDIN_PID
	read -r PORT <&"${STANDIN[0]}"
}

# install_standin NAME: the stand-in CLI as $SCRATCH/bin/NAME
install_standin() {
	mkdir -p "$SCRATCH/bin"
	install -m 0755 "$RECIPES/standin/agent.py" "$SCRATCH/bin/$1"
}

# standin_policy BASE: a policy extending BASE that reaches the stand-in
# (api.standin.test, pinned to 127.0.0.1) instead of the real API
standin_policy() {
	cat >"$SCRATCH/standin.yaml" <<-EOT
		version: 1
		extends: $1
		network:
		  allow: ["api.standin.test:$PORT"]
		  hosts: {api.standin.test: 127.0.0.1}
	EOT
	echo "$SCRATCH/standin.yaml"
}
