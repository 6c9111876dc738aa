#!/usr/bin/python3
"""Validate a faultctl report against its schema in docs/ (Debian's python3-jsonschema).

A schema may refer to another one by its $id (docs/gameday.schema.json embeds the run
report's schema): every *.schema.json next to the given schema is preloaded by its $id, so
no reference is ever fetched from the network.
"""
import glob
import json
import os
import sys

import jsonschema

with open(sys.argv[1]) as f:
    schema = json.load(f)
jsonschema.Draft7Validator.check_schema(schema)
store = {}
for path in glob.glob(os.path.join(os.path.dirname(os.path.abspath(sys.argv[1])), "*.schema.json")):
    with open(path) as f:
        other = json.load(f)
    if "$id" in other:
        store[other["$id"]] = other
try:
    # jsonschema >= 4.18 resolves references through the referencing library.
    from referencing import Registry, Resource

    registry = Registry().with_resources(
        (uri, Resource.from_contents(s)) for uri, s in store.items())
    validator = jsonschema.Draft7Validator(schema, registry=registry)
except ImportError:
    resolver = jsonschema.RefResolver.from_schema(schema, store=store)
    validator = jsonschema.Draft7Validator(schema, resolver=resolver)
with open(sys.argv[2]) as f:
    report = json.load(f)
errors = sorted(validator.iter_errors(report), key=lambda e: list(e.path))
for e in errors:
    print("%s: %s: %s" % (sys.argv[2], "/".join(str(p) for p in e.path) or "(root)", e.message))
sys.exit(1 if errors else 0)
