"""Who ran an operator command. The command line has no Cove user (it holds the root key, not
a session), so the audit events of `cove import slack` and `cove export` name the system
account that ran them and the machine instead."""

from __future__ import annotations

import getpass
import os
import socket


def operator_name() -> str:
    """`<system user>@<host>`: the account running this process, as the system knows it."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        user = f"uid {os.getuid()}"
    return f"{user}@{socket.gethostname()}"
