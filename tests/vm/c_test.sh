#!/usr/bin/env bash
# vm.NAME for a C integration test (tests/integration/test_NAME.c): runs its binary,
# integ_NAME in the build dir, INSIDE the vm layer, against the guest's kernel (its verifier,
# its helpers). The test makes and removes its own namespaces; its exit status is ours.
#   c_test.sh NAME
set -euo pipefail

if [ "${FL_VM:-}" != 1 ]; then
	echo "SKIP: runs only in the vm layer (tests/vm/run.sh $0 NAME)"
	exit 77
fi
bin=${FL_BUILD_DIR:?FL_BUILD_DIR is not set}/tests/integration/integ_${1:?usage: c_test.sh NAME}
[ -x "$bin" ] || { echo "c_test.sh: $bin is not built" >&2; exit 1; }
exec "$bin"
