#!/usr/bin/python3
"""Validate a faultctl run report against docs/report.schema.json (Debian's python3-jsonschema)."""
import json
import sys

import jsonschema

with open(sys.argv[1]) as f:
    schema = json.load(f)
jsonschema.Draft7Validator.check_schema(schema)
with open(sys.argv[2]) as f:
    report = json.load(f)
errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(report), key=lambda e: list(e.path))
for e in errors:
    print("%s: %s: %s" % (sys.argv[2], "/".join(str(p) for p in e.path) or "(root)", e.message))
sys.exit(1 if errors else 0)
