"""Runs vantage6 HQ 5.0 of this virtualenv as its container does, without Kubernetes and uWSGI:
the database initialisation of vantage6.hq.init_db (default roles, root organization and user),
then vantage6.hq.run_hq on the given config file (as vantage6/hq/wsgi.py does), served by
Flask-SocketIO's gevent server on the given loopback address and port. Keycloak's address,
realm and admin credentials come from the environment (KEYCLOAK_*), as in the container.

usage: python serve.py <config.yaml> <host> <port>
"""

from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402

from vantage6.hq import run_hq  # noqa: E402

if len(sys.argv) != 4:
    sys.exit("usage: python serve.py <config.yaml> <host> <port>")
config, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
hq = run_hq(config, system_folders=False)
hq.ensure_db_initialized()
hq.socketio.run(hq.app, host=host, port=port, log_output=False)
