"""A researcher's session with vantage6's Python client 5.0.3 (the hub's virtualenv): logs in as
a service account, opens a session in a collaboration, extracts a dataframe at every
organization, preprocesses it, and runs a central computation on it whose subtasks go to every
organization through the nodes' proxies. Arguments are encrypted and results decrypted by the
client's own cryptor (with the organization's private key in an encrypted collaboration). Prints
one JSON line: the session, the dataframe as HQ has it after each step, the tasks with their runs,
and the central result.

The REST calls are made with the client's `request` where the 5.0.3 client's helper is broken
(`dataframe.preprocess` fetches `session/<dataframe id>`).

usage: python session_flow.py '<json>' with keys hq_url, auth_url, realm, username,
client_secret, collaboration_id, image, label, private_key (a file, encrypted collaborations
only), timeout
"""

import json
import sys
import time
import uuid
from pathlib import Path

from vantage6.client import Client
from vantage6.common.encryption import DummyCryptor, RSACryptor
from vantage6.common.serialization import serialize

args = json.loads(sys.argv[1])
client = Client(args["hq_url"], args["auth_url"], auth_realm=args["realm"], log_level="warning")
client.initialize_service_account(args["client_secret"], username=args["username"])
client.authenticate_service_account()
# A service account's login sets up no cryptor (setup_encryption needs a person's whoami): the
# client's own cryptors are set directly.
client.cryptor = RSACryptor(Path(args["private_key"])) if args.get("private_key") else DummyCryptor()
collaboration = args["collaboration_id"]
deadline = time.time() + args.get("timeout", 120)


def fail(message):
    sys.exit(f"{message}\n{json.dumps(report, default=str)}")


def organizations():
    return client.request("organization", params={"collaboration_id": collaboration, "per_page": 100})["data"]


def for_each(orgs, arguments):
    data = serialize(arguments)
    return [{"id": o["id"], "arguments": client.cryptor.encrypt_bytes_to_str(data, o["public_key"])} for o in orgs]


def runs_of(task_id):
    return client.request("run", params={"task_id": task_id, "per_page": 100})["data"]


def wait(task_id, what):
    while time.time() < deadline:
        runs = runs_of(task_id)
        if runs and all(r["finished_at"] for r in runs):
            report["tasks"][what] = {"id": task_id, "runs": [{k: r[k] for k in ("id", "status", "log", "action")} for r in runs]}
            return runs
        time.sleep(0.5)
    report["tasks"][what] = {"id": task_id, "runs": runs_of(task_id)}
    fail(f"task {task_id} ({what}) did not finish in time")


report = {"tasks": {}}
orgs = organizations()
session = client.request(
    "session", method="post", json={"name": f"v6-node session {uuid.uuid4().hex[:8]}", "collaboration_id": collaboration, "scope": "own"}
)
if "id" not in session:
    fail(f"HQ did not create the session: {session}")
report["session"] = session["id"]

dataframe = client.request(
    f"session/{session['id']}/dataframe",
    method="post",
    json={"label": args["label"], "task": {"image": args["image"], "method": "read_csv", "organizations": for_each(orgs, {})}},
)
if "id" not in dataframe:
    fail(f"HQ did not create the dataframe: {dataframe}")
report["dataframe"] = {"id": dataframe["id"], "name": dataframe["name"]}
wait(dataframe["last_session_task"]["id"], "extraction")
report["dataframe"]["after_extraction"] = client.request(f"session/dataframe/{dataframe['id']}")

preprocessing = client.request(
    f"session/dataframe/{dataframe['id']}/preprocess",
    method="post",
    json={
        "dataframe_id": dataframe["id"],
        "task": {
            "image": args["image"],
            "method": "add_column",
            "organizations": for_each(orgs, {"column": "age", "factor": 12, "new_column": "age_months"}),
        },
    },
)
if "last_session_task" not in preprocessing:
    fail(f"HQ did not create the preprocessing: {preprocessing}")
wait(preprocessing["last_session_task"]["id"], "preprocessing")
report["dataframe"]["after_preprocessing"] = client.request(f"session/dataframe/{dataframe['id']}")

central = client.request(
    "task",
    method="post",
    json={
        "name": "average of age_months",
        "image": args["image"],
        "collaboration_id": collaboration,
        "session_id": session["id"],
        "method": "average",
        "action": "central_compute",
        "organizations": for_each(orgs[:1], {"column": "age_months"}),
        "databases": [[{"dataframe_id": dataframe["id"], "type": "dataframe"}]],
    },
)
if "id" not in central:
    fail(f"HQ did not create the central task: {central}")
wait(central["id"], "central")
children = client.request("task", params={"parent_id": central["id"], "per_page": 100})["data"]
for child in children:
    wait(child["id"], f"subtask {child['id']}")
results = client.request("result", params={"task_id": central["id"]})["data"]
report["result"] = [json.loads(client.cryptor.decrypt(r["result"])) if r.get("result") else None for r in results]
print(json.dumps(report, default=str))
