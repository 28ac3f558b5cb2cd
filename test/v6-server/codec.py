"""Encodes a task input and decodes a run result exactly as vantage6's Python client does:
serialize (JSON) then encrypt with the organization's public key (RSACryptor) or base64 only
(DummyCryptor, unencrypted collaborations); decrypt then deserialize for results.

usage: python codec.py encrypt <private_key_file|-> <public_key_base64|->  < value.json  > input
       python codec.py decrypt <private_key_file|->                       < result      > value.json
`-` as the key file means an unencrypted collaboration.
"""

import json
import sys
from pathlib import Path

from vantage6.common.encryption import DummyCryptor, RSACryptor
from vantage6.common.serialization import serialize


def cryptor(private_key_file):
    return DummyCryptor() if private_key_file == "-" else RSACryptor(Path(private_key_file))


def main(argv):
    if len(argv) == 4 and argv[1] == "encrypt":
        data = serialize(json.load(sys.stdin))
        sys.stdout.write(cryptor(argv[2]).encrypt_bytes_to_str(data, argv[3]))
    elif len(argv) == 3 and argv[1] == "decrypt":
        data = cryptor(argv[2]).decrypt(sys.stdin.read())
        json.dump(json.loads(data.decode("utf-8")), sys.stdout)
    else:
        sys.exit(__doc__)


main(sys.argv)
