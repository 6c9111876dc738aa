#!/usr/bin/env bash
# The .deb (CPack): builds from this build tree, carries the binaries, units, man pages,
# completion, docs, example experiments and the audit log's logrotate file (a conffile), and
# works when unpacked into a throwaway root:
# the installed faultctl runs and validates the installed examples, the man pages render
# without warnings, systemd-analyze verify accepts the installed units, the bash completion
# completes today's subcommands, and logrotate with the installed file (its path and its
# postrotate's systemctl pointed at a test agent) rotates that agent's audit log: the moved
# file keeps the records from before, the new one gets those after (SIGHUP).
# Nothing is installed onto this machine's own /usr or /etc.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

fl_require_cmd cpack dpkg-deb
fl_require_build
fl_tmpdir work
ver=$(sed -n 's/^project(faultline VERSION \([0-9.]*\).*/\1/p' "$FL_SOURCE_DIR/CMakeLists.txt")
[ -n "$ver" ] || fl_fail "no version in CMakeLists.txt"
host_before=$(ls -d /usr/bin/faultctl /usr/sbin/faultlined 2>/dev/null || true)
host_logrotate=$(ls /etc/logrotate.d/faultline 2>/dev/null || true)

fl_log "cpack -G DEB"
(cd "$work" && cpack -G DEB -B "$work/pkg" --config "$FL_BUILD_DIR/CPackConfig.cmake" \
	>"$work/cpack.log" 2>&1) || { cat "$work/cpack.log"; fl_fail "cpack failed"; }
deb=$(compgen -G "$work/pkg/faultline_${ver}_*.deb") || fl_fail "no .deb in $work/pkg"

fl_log "control fields"
fl_assert_eq "$(dpkg-deb -f "$deb" Package)" faultline "Package"
fl_assert_eq "$(dpkg-deb -f "$deb" Version)" "$ver" "Version"
deps=$(dpkg-deb -f "$deb" Depends)
for d in libbpf1 libuv1 libnl-route-3-200 libcap2 libjansson4 libyaml-0-2 libcurl4 libc6; do
	grep -qw "$d" <<<"$deps" || fl_fail "Depends lacks $d: $deps"
done
ctrl=$(dpkg-deb --ctrl-tarfile "$deb" | tar -t)
for s in postinst prerm postrm conffiles; do
	grep -qx "./$s" <<<"$ctrl" || fl_fail "no $s in the control archive"
done
fl_assert_eq "$(dpkg-deb -I "$deb" conffiles)" /etc/logrotate.d/faultline "conffiles"

fl_log "file list"
dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|' >"$work/files"
for f in /usr/sbin/faultlined /usr/bin/faultctl /usr/bin/faultline-demo \
	/usr/lib/systemd/system/faultlined.service \
	/usr/lib/systemd/system/faultline-gameday@.service \
	/usr/lib/systemd/system/faultline-gameday@.timer /usr/lib/sysusers.d/faultline.conf \
	/usr/share/man/man1/faultctl.1 /usr/share/man/man5/faultline-experiment.5 \
	/usr/share/man/man8/faultlined.8 /usr/share/bash-completion/completions/faultctl \
	/usr/share/doc/faultline/README.md /usr/share/doc/faultline/experiment-format.md \
	/usr/share/doc/faultline/experiment.schema.json \
	/usr/share/doc/faultline/examples/kubernetes/faultlined-daemonset.yaml \
	/usr/share/doc/faultline/examples/ci/gitlab-ci.yml /etc/logrotate.d/faultline; do
	grep -qx "$f" "$work/files" || fl_fail "the package lacks $f"
done
for f in "$FL_SOURCE_DIR"/experiments/*; do
	grep -qx "/usr/share/doc/faultline/experiments/$(basename "$f")" "$work/files" ||
		fl_fail "the package lacks the example $(basename "$f")"
done
# Nothing outside /usr but the logrotate file, and no build leftovers (static libraries,
# tests, headers).
grep -v '^/usr' "$work/files" | grep -vx -e / -e /etc/ -e /etc/logrotate.d/ \
	-e /etc/logrotate.d/faultline && fl_fail "files outside /usr"
grep -E '\.(a|o|h)$|/test_' "$work/files" && fl_fail "build leftovers in the package"

fl_log "unpack into a throwaway root and run what it installed"
root=$work/root
dpkg -x "$deb" "$root"
fl_assert_eq "$("$root/usr/bin/faultctl" --version)" "faultctl $ver" "installed faultctl"
fl_assert_eq "$("$root/usr/sbin/faultlined" --version)" "faultlined $ver" "installed faultlined"
fl_assert_eq "$("$root/usr/bin/faultline-demo" --version)" "faultline-demo $ver" "installed demo"
"$root/usr/bin/faultctl" validate "$root"/usr/share/doc/faultline/experiments/* >/dev/null ||
	fl_fail "the installed examples do not validate with the installed faultctl"
for s in postinst prerm postrm; do
	sh -n "$FL_SOURCE_DIR/deploy/debian/$s" || fl_fail "$s: syntax"
done

fl_log "man pages"
for m in man1/faultctl.1 man5/faultline-experiment.5 man8/faultlined.8; do
	p=$root/usr/share/man/$m
	if command -v mandoc >/dev/null; then
		out=$(mandoc -T lint -W warning "$p" 2>&1) || fl_fail "mandoc -T lint $m: $out"
		[ -z "$out" ] || fl_fail "mandoc -T lint $m: $out"
	fi
	err=$(MANWIDTH=80 man -l "$p" 2>&1 >"$work/rendered")
	[ -z "$err" ] || fl_fail "man -l $m warns: $err"
	grep -q "^DESCRIPTION" "$work/rendered" || fl_fail "man -l $m rendered no DESCRIPTION"
done
command -v mandoc >/dev/null || fl_log "mandoc not installed: checked with man -l only"
# The example in faultline-experiment(5) is a valid experiment.
awk '/^\.Bd -literal/ { on = 1; next } /^\.Ed/ { on = 0 } on' \
	"$root/usr/share/man/man5/faultline-experiment.5" >"$work/man-example.yaml"
"$root/usr/bin/faultctl" validate "$work/man-example.yaml" >/dev/null ||
	fl_fail "the example in faultline-experiment(5) does not validate"

fl_log "systemd-analyze verify on the installed units"
if ! command -v systemd-analyze >/dev/null; then
	fl_log "SKIPPED PART: systemd-analyze not installed"
else
	# verify checks that ExecStart= binaries exist; point them at the unpacked root (the
	# unit text is otherwise the installed one). --man=no: the pages are not in the host's
	# man path; they are checked above.
	mkdir "$work/units"
	for u in "$root"/usr/lib/systemd/system/*; do
		sed -e "s|/usr/sbin/faultlined|$root/usr/sbin/faultlined|g" \
			-e "s|/usr/bin/faultctl|$root/usr/bin/faultctl|g" "$u" >"$work/units/$(basename "$u")"
	done
	ln -s faultline-gameday@.service "$work/units/faultline-gameday@example.service"
	ln -s faultline-gameday@.timer "$work/units/faultline-gameday@example.timer"
	out=$(systemd-analyze verify --man=no "$work/units/faultlined.service" \
		"$work/units/faultline-gameday@example.service" \
		"$work/units/faultline-gameday@example.timer" 2>&1) || fl_fail "verify: $out"
	[ -z "$out" ] || fl_fail "systemd-analyze verify warns: $out"
	# The check can fail: a unit with a typo is reported.
	sed 's/^ProtectSystem=/ProtectSytem=/' "$work/units/faultlined.service" >"$work/units/typo.service"
	out=$(systemd-analyze verify --man=no "$work/units/typo.service" 2>&1 || true)
	grep -q "Unknown key" <<<"$out" || fl_fail "verify missed a typo: $out"
fi

fl_log "bash completion"
if [ ! -f /usr/share/bash-completion/bash_completion ]; then
	fl_log "SKIPPED PART: the bash-completion package is not installed"
else
	complete_words() { # the completions of a command line ending in a space or a prefix
		bash --norc -c '
			. /usr/share/bash-completion/bash_completion
			. "$1"
			shift
			COMP_LINE="$*"
			read -r -a COMP_WORDS <<<"$COMP_LINE"
			[[ $COMP_LINE == *" " ]] && COMP_WORDS+=("")
			COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
			COMP_POINT=${#COMP_LINE}
			_faultctl faultctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
			printf "%s\n" "${COMPREPLY[@]}" | sort | paste -sd " "' _ \
			"$root/usr/share/bash-completion/completions/faultctl" "$@"
	}
	# Every subcommand faultctl --help lists, and no other.
	cmds=$("$root/usr/bin/faultctl" --help | awk '/^Commands:/ { on = 1; next }
		on && /^  [a-z]/ { print $1 } on && /^$/ { on = 0 }' | sort | paste -sd " ")
	fl_assert_eq "$(complete_words "faultctl ")" "$cmds" "subcommands"
	fl_assert_eq "$(complete_words "faultctl --agent unix:///x va")" "validate" "after --agent"
	fl_assert_eq "$(complete_words "faultctl agent ")" "info" "agent"
	fl_assert_eq "$(complete_words "faultctl --js")" "--json" "global option"
	# The options offered after guard and gameday are the ones their --help lists.
	for c in guard gameday; do
		fl_assert_eq "$(complete_words "faultctl $c x.yaml --")" \
			"$({ "$root/usr/bin/faultctl" "$c" --help | grep -o -- '--[a-z][a-z-]*'
				echo --help; } | sort -u | paste -sd " ")" "options of $c"
	done
	( cd "$FL_SOURCE_DIR/experiments" && complete_words "faultctl plan worker-" ) >"$work/c"
	fl_assert_eq "$(cat "$work/c")" "worker-kill.yaml" "experiment file names"
fi

fl_log "logrotate with the installed file"
if ! command -v logrotate >/dev/null; then
	fl_log "SKIPPED PART: logrotate not installed"
elif [ "$(id -u)" -ne 0 ]; then
	fl_log "SKIPPED PART: running an agent for the rotation needs root"
else
	fl_require_cmd nsenter curl
	fl_netns ns pkg
	sock=$work/agent.sock
	# Every request on a line of its own (no read summaries): the GETs below are the records
	# that must land before and after the rotation.
	fl_start_agent "$ns" "$sock" "$work/agent.log" --state-dir "$work/state" --audit-log "$work/audit.log" \
		--audit-summary-interval 0
	# The installed file with the test's audit log, and the agent's pid for the systemd unit's.
	sed -e "s|/var/log/faultline/audit.log|$work/audit.log|" \
		-e "s|systemctl is-active --quiet faultlined.service 2>/dev/null|true|" \
		-e "s|systemctl kill --kill-whom=main --signal=HUP faultlined.service|kill -HUP $FL_AGENT_PID|" \
		"$root/etc/logrotate.d/faultline" >"$work/logrotate.conf"
	grep -q "kill -HUP $FL_AGENT_PID" "$work/logrotate.conf" || fl_fail "no postrotate to adapt in the logrotate file"
	curl -sS --unix-socket "$sock" -o /dev/null "http://agent/v1/info?m=before-rotate"
	logrotate --force --state "$work/logrotate.state" "$work/logrotate.conf" 2>"$work/logrotate.err" ||
		fl_fail "logrotate: $(cat "$work/logrotate.err")"
	[ -f "$work/audit.log.1" ] || fl_fail "logrotate did not rotate the audit log: $(ls "$work")"
	fl_assert_eq "$(stat -c %a "$work/audit.log")" 600 "mode of the new audit log"
	for ((i = 0; i < 100; i++)); do
		grep -q "SIGHUP: audit log" "$work/agent.log" && break
		sleep 0.1
	done
	curl -sS --unix-socket "$sock" -o /dev/null "http://agent/v1/info?m=after-rotate"
	grep -q 'm=before-rotate' "$work/audit.log.1" || fl_fail "the rotated file lacks the record from before"
	grep -q 'm=after-rotate' "$work/audit.log" || fl_fail "the new audit log lacks the record from after: $(tail -3 "$work/agent.log")"
	kill -TERM "$FL_AGENT_PID"
	fl_wait_exit rc "$FL_AGENT_PID" 30
fi

fl_assert_eq "$(ls -d /usr/bin/faultctl /usr/sbin/faultlined 2>/dev/null || true)" \
	"$host_before" "the host's own /usr"
[ ! -e /etc/logrotate.d/faultline ] || [ -n "$host_logrotate" ] || fl_fail "the test installed /etc/logrotate.d/faultline"
