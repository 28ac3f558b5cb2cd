"""A researcher's script with vantage6's Python client 5.0.3 (the hub's virtualenv): logs in as a
service-account user (Client.initialize_service_account / authenticate_service_account, the
client-credentials grant on `<username>-user-client`), opens a session in a collaboration and
creates a task in it for the given organizations. Prints the session and the task HQ answered,
as one JSON line.

usage: python researcher.py '<json>' with keys hq_url, auth_url, realm, username,
client_secret, collaboration_id, organization_ids, image, method, arguments
"""

import json
import sys
import uuid

from vantage6.client import Client
from vantage6.common.encryption import DummyCryptor

args = json.loads(sys.argv[1])
client = Client(args["hq_url"], args["auth_url"], auth_realm=args["realm"], log_level="warning")
client.initialize_service_account(args["client_secret"], username=args["username"])
client.authenticate_service_account()
# A person's login (Client.authenticate) ends with a DummyCryptor; a service account's does not,
# and this collaboration is not encrypted.
client.cryptor = DummyCryptor()

session = client.session.create(
    # Session names are unique within a collaboration: one of its own for each task.
    scope="own", name=f"v6-node hub test {uuid.uuid4().hex[:8]}", collaboration=args["collaboration_id"]
)
if "id" not in session:
    sys.exit(f"HQ did not create the session: {session}")
task = client.task.create(
    organizations=args["organization_ids"],
    name="v6-node hub test",
    image=args["image"],
    description="a task from the v6-node hub harness",
    method=args["method"],
    arguments=args.get("arguments", {}),
    session=session["id"],
    collaboration=args["collaboration_id"],
    action="federated_compute",
)
if "id" not in task:
    sys.exit(f"HQ did not create the task: {task}")
print(json.dumps({"session": session, "task": task}, default=str))
