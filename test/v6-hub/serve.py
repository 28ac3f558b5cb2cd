"""Runs vantage6 HQ 5.0 of this virtualenv as its container does, without Kubernetes and uWSGI:
the database initialisation of vantage6.hq.init_db (default roles, root organization and user),
then vantage6.hq.run_hq on the given config file (as vantage6/hq/wsgi.py does), served by
Flask-SocketIO's gevent server on the given loopback address and port. Keycloak's address,
realm and admin credentials come from the environment (KEYCLOAK_*), as in the container.
HQ reads the realm's public key when it starts: this waits (V6_NODE_AUTH_WAIT_S, default 300
s) for the realm to
answer first, having done its imports meanwhile, as the HQ chart's wait-for-auth init container
does.

usage: python serve.py <config.yaml> <host> <port>
"""

from gevent import monkey

monkey.patch_all()

import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import requests  # noqa: E402

from vantage6.hq import run_hq  # noqa: E402

if len(sys.argv) != 4:
    sys.exit("usage: python serve.py <config.yaml> <host> <port>")
config, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])

realm_url = f"{os.environ['KEYCLOAK_URL']}/realms/{os.environ['KEYCLOAK_REALM']}"
wait_s = float(os.environ.get("V6_NODE_AUTH_WAIT_S", "300"))
deadline = time.monotonic() + wait_s
while True:
    try:
        if requests.get(realm_url, timeout=5).ok:
            break
    except requests.RequestException:
        pass
    if time.monotonic() > deadline:
        sys.exit(f"Keycloak's realm did not answer at {realm_url} within {wait_s} s")
    time.sleep(0.25)
hq = run_hq(config, system_folders=False)
hq.ensure_db_initialized()
hq.socketio.run(hq.app, host=host, port=port, log_output=False)
