"""Runs the vantage6 server of this virtualenv as `v6 server start` does, without Docker and
uwsgi: vantage6.server.run_server on the given config file, served by Flask-SocketIO's gevent
server (the server's own run_dev_server) on the given loopback address and port.

usage: python serve.py <config.yaml> <host> <port>
"""

import sys

from vantage6.server import run_dev_server, run_server

if len(sys.argv) != 4:
    sys.exit("usage: python serve.py <config.yaml> <host> <port>")
config, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
run_dev_server(run_server(config, system_folders=False), host=host, port=port)
