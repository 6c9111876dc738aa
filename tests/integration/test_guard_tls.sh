#!/usr/bin/env bash
# HTTPS probes: a check against an https:// URL served on loopback by `openssl s_server`
# with a throwaway self-signed certificate. Without tls the system CAs apply and the check
# cannot pass (certificate verify failed, a probe error); tls.ca_file trusts the test's own
# certificate; tls.insecure_skip_verify skips verification; tls on an http:// URL is refused
# by validate with the place. No root needed; nothing is installed or trusted system-wide.
. "$(dirname "$0")/lib.sh"
fl_require_cmd openssl jq
fl_require_build
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy

fl_tmpdir dir
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-keyout "$dir/key.pem" -out "$dir/cert.pem" -subj /CN=faultline-test \
	-addext subjectAltName=IP:127.0.0.1 >"$dir/req.log" 2>&1 ||
	{ cat "$dir/req.log"; fl_fail "openssl req failed"; }
mkdir "$dir/www"
echo ok >"$dir/www/health"
# -WWW serves files of its working directory; the port is the kernel's choice, printed.
# The subshell execs openssl, so $! is the server itself (a timeout(1) wrapper killed at exit
# left its child behind); the teardown kills it, also on failure.
(cd "$dir/www" && exec openssl s_server -accept 127.0.0.1:0 \
	-cert "$dir/cert.pem" -key "$dir/key.pem" -WWW) >"$dir/srv.log" 2>&1 &
srv=$!
fl_on_exit "kill -KILL $srv"
port=
for ((i = 0; i < 100; i++)); do
	port=$(sed -n 's/^ACCEPT 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$dir/srv.log")
	[ -n "$port" ] && break
	sleep 0.1
done
[ -n "$port" ] || { cat "$dir/srv.log"; fl_fail "openssl s_server did not start in 10 s"; }
url=https://127.0.0.1:$port/health

# mkexp FILE TLS_LINE: an experiment whose before-check probes url.
mkexp() {
	cat >"$1" <<-EOF
		version: 1
		name: tls-test
		hypothesis: the https endpoint answers
		agents:
		  - {name: local, address: "unix://$dir/none.sock"}
		duration: 10m
		faults:
		  - {name: cpu, type: stress.cpu, duration: 1m}
		steady_state:
		  before:
		    - name: https-up
		      http:
		        url: "$2"
		        rate: 10/s
		        window: 1s
		        min_success_ratio: 100%
		$3
	EOF
}
check() { # check FILE: sets RC and OUT (the JSON document)
	RC=0
	OUT=$("$FAULTCTL" --json check "$1" --timeout 10s 2>"$dir/check.err") || RC=$?
}

fl_log "no tls: the self-signed certificate is not trusted"
mkexp "$dir/none.yaml" "$url" ""
check "$dir/none.yaml"
fl_assert_eq "$RC" 3 "exit of a check whose probe cannot verify the certificate"
reading=$(jq -c '.checks[0].reading' <<<"$OUT")
grep -qi 'certificate' <<<"$reading" || fl_fail "no certificate error in the reading: $reading"
fl_log "refused as expected: $reading"

fl_log "tls.ca_file: the test's certificate is trusted"
mkexp "$dir/ca.yaml" "$url" "        tls: {ca_file: $dir/cert.pem}"
check "$dir/ca.yaml"
fl_assert_eq "$RC" 0 "exit with ca_file ($(cat "$dir/check.err") $OUT)"
fl_assert_eq "$(jq -r '.checks[0].passed' <<<"$OUT")" true "passed with ca_file"

fl_log "tls.ca_file of another CA: refused"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-keyout "$dir/other.key" -out "$dir/other.pem" -subj /CN=other >/dev/null 2>&1 ||
	fl_fail "openssl req (other CA) failed"
mkexp "$dir/other.yaml" "$url" "        tls: {ca_file: $dir/other.pem}"
check "$dir/other.yaml"
fl_assert_eq "$RC" 3 "exit with a CA that did not sign the server's certificate"

fl_log "tls.insecure_skip_verify: no verification"
mkexp "$dir/insecure.yaml" "$url" "        tls: {insecure_skip_verify: true}"
check "$dir/insecure.yaml"
fl_assert_eq "$RC" 0 "exit with insecure_skip_verify ($(cat "$dir/check.err") $OUT)"

fl_log "tls on an http:// URL: refused by validate, with the place"
mkexp "$dir/plain.yaml" "http://127.0.0.1:$port/health" "        tls: {ca_file: $dir/cert.pem}"
rc=0
err=$("$FAULTCTL" validate "$dir/plain.yaml" 2>&1) || rc=$?
fl_assert_eq "$rc" 2 "validate exit"
grep -q "plain.yaml:17:14: steady_state.before\[0\].http.tls: tls applies to https:// URLs only" \
	<<<"$err" || fl_fail "unexpected validate output: $err"
fl_log "ok"
