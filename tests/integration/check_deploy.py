#!/usr/bin/env python3
"""Offline checks of deploy/: the DaemonSet against the vendored schema subset
(tests/data/k8s-daemonset-subset.schema.json) plus the rules a schema cannot say (container
targets included: hostPID, the engine sockets on a read-only mount of the node's, the
capabilities setns and /proc/PID/ns/net need), and the CI examples' structure. Usage: check_deploy.py SOURCE_DIR. Exit 0 when everything holds, 1 with
one line per problem otherwise, 77 when python3-yaml or python3-jsonschema is missing."""
import copy
import json
import re
import sys

try:
    import jsonschema
    import yaml
except ImportError as e:
    print(f"SKIP: {e} (install python3-yaml python3-jsonschema)")
    sys.exit(77)

src = sys.argv[1]
problems = []


def load_all(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


with open(f"{src}/tests/data/k8s-daemonset-subset.schema.json") as f:
    schema = json.load(f)
validator = jsonschema.Draft7Validator(schema)


def schema_errors(doc):
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
            for e in validator.iter_errors(doc)]


def unit_caps():
    with open(f"{src}/deploy/systemd/faultlined.service") as f:
        m = re.search(r"^CapabilityBoundingSet=(.*)$", f.read(), re.M)
    return sorted(c.removeprefix("CAP_") for c in m.group(1).split())


# The Docker Engine API sockets where docker and podman (rootful) serve them on a node.
ENGINE_SOCKETS = {"/run/docker.sock", "/run/podman/podman.sock"}


def engine_problems(c, vols):
    """The agent's --container-engines: each socket on a read-only hostPath mount that maps
    it to where the engine serves it on the node; both engines covered."""
    out = []
    cmd = c.get("command", [])
    if "--container-engines" not in cmd[:-1]:
        return [f"container {c['name']}: no --container-engines (container names need the "
                "node's engine sockets)"]
    seen = set()
    for sock in cmd[cmd.index("--container-engines") + 1].split(","):
        node = None
        for m in c.get("volumeMounts", []):
            mp = m["mountPath"].rstrip("/")
            if not sock.startswith(mp + "/"):
                continue
            hp = vols.get(m["name"], {}).get("hostPath")
            if not hp:
                out.append(f"container {c['name']}: engine socket {sock} is not on a hostPath")
            elif m.get("readOnly") is not True:
                out.append(f"container {c['name']}: the mount of {sock} is not read-only")
            else:
                node = hp["path"].rstrip("/") + sock[len(mp):]
        if node is None:
            out.append(f"container {c['name']}: engine socket {sock} is on no node mount")
        else:
            seen.add(node)
    if seen != ENGINE_SOCKETS:
        out.append(f"container {c['name']}: engine sockets map to {sorted(seen)} on the node, "
                   f"not {sorted(ENGINE_SOCKETS)}")
    return out


def semantic(docs):
    out = []
    ds = [d for d in docs if d.get("kind") == "DaemonSet"]
    ns = {d["metadata"]["name"] for d in docs if d.get("kind") == "Namespace"}
    if len(ds) != 1:
        return [f"expected one DaemonSet, found {len(ds)}"]
    d = ds[0]
    if d["metadata"].get("namespace") not in ns:
        out.append("the DaemonSet's namespace is not created by the manifest")
    spec = d["spec"]
    pod = spec["template"]["spec"]
    tl = spec["template"]["metadata"].get("labels", {})
    for k, v in spec["selector"].get("matchLabels", {}).items():
        if tl.get(k) != v:
            out.append(f"selector {k}={v} does not match the pod template's labels")
    if pod.get("hostNetwork") is not True or pod.get("hostPID") is not True:
        out.append("the agent needs hostNetwork and hostPID")
    if pod.get("hostNetwork") and pod.get("dnsPolicy") != "ClusterFirstWithHostNet":
        out.append("hostNetwork pods need dnsPolicy ClusterFirstWithHostNet for cluster DNS")
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    want = unit_caps()
    for c in pod.get("initContainers", []) + pod["containers"]:
        sc = c.get("securityContext", {})
        if sc.get("privileged", False):
            out.append(f"container {c['name']} is privileged")
        caps = sc.get("capabilities", {})
        if caps.get("drop") != ["ALL"]:
            out.append(f"container {c['name']} does not drop ALL capabilities")
        if sorted(caps.get("add", [])) != want:
            out.append(f"container {c['name']} adds {sorted(caps.get('add', []))}, the "
                       f"systemd unit's bounding set is {want}")
        for m in c.get("volumeMounts", []):
            if m["name"] not in vols:
                out.append(f"container {c['name']} mounts unknown volume {m['name']}")
        mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
        for path in ("/run/faultline", "/var/lib/faultline"):
            v = vols.get(mounts.get(path, ""), {})
            if v.get("hostPath", {}).get("path") != path:
                out.append(f"container {c['name']}: {path} must be the node's {path} "
                           "(the socket for faultctl, the journal for crash cleanup)")
        if c.get("command", [""])[0] not in ("/usr/sbin/faultlined", "/usr/bin/faultctl"):
            out.append(f"container {c['name']} runs {c.get('command')}")
        for cap in ("SYS_ADMIN", "SYS_PTRACE"):
            if cap not in caps.get("add", []):
                out.append(f"container {c['name']}: container targets need {cap}")
    agents = [c for c in pod["containers"] if c.get("command", [""])[0] == "/usr/sbin/faultlined"]
    if len(agents) != 1:
        out.append(f"expected one agent container, found {len(agents)}")
    for c in agents:
        out += engine_problems(c, vols)
    if [c["command"] for c in pod.get("initContainers", [])] != [
            ["/usr/sbin/faultlined", "--cleanup"]]:
        out.append("the cleanup init container must run faultlined --cleanup")
    return out


path = f"{src}/deploy/kubernetes/faultlined-daemonset.yaml"
docs = load_all(path)
for i, doc in enumerate(docs):
    problems += [f"{path} document {i}: {e}" for e in schema_errors(doc)]
problems += [f"{path}: {p}" for p in semantic(docs)]

# The checks can fail: each mutation must be caught, by the schema or by the rules.
ds = next(d for d in docs if d.get("kind") == "DaemonSet")
mutations = {
    "a misspelt field": lambda d: d["spec"]["template"]["spec"].__setitem__("hostNetwrok", True),
    "privileged as a string": lambda d: d["spec"]["template"]["spec"]["containers"][0]
    ["securityContext"].__setitem__("privileged", "yes"),
    "an unknown capability": lambda d: d["spec"]["template"]["spec"]["containers"][0]
    ["securityContext"]["capabilities"]["add"].append("CAP_NET_ADMIN"),
    "a bad hostPath type": lambda d: d["spec"]["template"]["spec"]["volumes"][0]
    ["hostPath"].__setitem__("type", "Dir"),
    "privileged": lambda d: d["spec"]["template"]["spec"]["containers"][0]
    ["securityContext"].__setitem__("privileged", True),
    "a missing capability": lambda d: d["spec"]["template"]["spec"]["containers"][0]
    ["securityContext"]["capabilities"]["add"].remove("BPF"),
    "a mount of no volume": lambda d: d["spec"]["template"]["spec"]["containers"][0]
    ["volumeMounts"].append({"name": "nope", "mountPath": "/x"}),
    "no hostPID": lambda d: d["spec"]["template"]["spec"].__setitem__("hostPID", False),
    "no --container-engines": lambda d: d["spec"]["template"]["spec"]["containers"][0]
    .__setitem__("command", ["/usr/sbin/faultlined"]),
    "a writable engine mount": lambda d: [m.pop("readOnly") for m in d["spec"]["template"]
                                          ["spec"]["containers"][0]["volumeMounts"]
                                          if m["mountPath"] == "/run/host"],
    "an engine socket on no mount": lambda d: d["spec"]["template"]["spec"]["containers"][0]
    ["command"].__setitem__(-1, "/var/run/docker.sock,/run/host/podman/podman.sock"),
    "the engine mount from another node path": lambda d: [
        v["hostPath"].__setitem__("path", "/var/lib") for v in d["spec"]["template"]["spec"]
        ["volumes"] if v["name"] == "host-run"],
}
for what, mutate in mutations.items():
    bad = copy.deepcopy(docs)
    mutate(next(d for d in bad if d.get("kind") == "DaemonSet"))
    if not any(schema_errors(d) for d in bad) and not semantic(bad):
        problems.append(f"negative control not caught: {what}")

# CI examples: the JUnit file the job writes is the one it publishes.
gl = load_all(f"{src}/deploy/ci/gitlab-ci.yml")[0]
job = gl["resilience:checkout-latency"]
if job["stage"] not in gl["stages"]:
    problems.append("gitlab-ci.yml: the job's stage is not in stages")
junit = job["artifacts"]["reports"]["junit"]
if not any(f"--junit {junit}" in line for line in job["script"]):
    problems.append(f"gitlab-ci.yml: no step writes {junit}")
gh = load_all(f"{src}/deploy/ci/github-actions.yml")[0]
steps = gh["jobs"]["checkout-latency"]["steps"]
runs = " ".join(s.get("run", "") for s in steps)
pub = [s for s in steps if s.get("uses", "").startswith("mikepenz/action-junit-report")]
if not pub or f"--junit {pub[0]['with']['report_paths']}" not in runs:
    problems.append("github-actions.yml: the published report is not the one written")
for s in steps:
    if "run" not in s and "uses" not in s:
        problems.append(f"github-actions.yml: step {s} neither runs nor uses anything")

for p in problems:
    print(p)
sys.exit(1 if problems else 0)
