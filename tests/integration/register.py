"""One REGISTER as a phone would send it, from any loopback address: what Asterisk answers
to a password (and what a banned address gets: nothing at all)."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

from bench.sipcall import free_udp_port

#: A REGISTER that answers the digest challenge with -au/-ap and ends on the final answer,
#: whatever it is (the test reads it from SIPp's message log).
REGISTER = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="register once">
  <send retrans="500"><![CDATA[
REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[user]@[remote_ip]>;tag=[pid]reg[call_number]
To: <sip:[user]@[remote_ip]>
Call-ID: [call_id]
CSeq: 1 REGISTER
Contact: <sip:[user]@[local_ip]:[local_port]>
Expires: 60
Max-Forwards: 70
Content-Length: 0

  ]]></send>
  <recv response="401" auth="true"/>
  <send retrans="500"><![CDATA[
REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[user]@[remote_ip]>;tag=[pid]reg[call_number]
To: <sip:[user]@[remote_ip]>
Call-ID: [call_id]
CSeq: 2 REGISTER
Contact: <sip:[user]@[local_ip]:[local_port]>
[authentication]
Expires: [expires]
Max-Forwards: 70
Content-Length: 0

  ]]></send>
  <recv response="200" optional="true" next="end"/>
  <recv response="401" optional="true" next="end"/>
  <recv response="403"/>
  <label id="end"/>
</scenario>
"""


def register(
    workdir: Path,
    user: str,
    password: str,
    *,
    source: str = "127.0.0.1",
    expires: int = 60,
    wait: int = 15,
) -> int | None:
    """REGISTER ``user`` with ``password`` from ``source`` (UDP, to 127.0.0.1:5060); the
    final SIP status, or None when nothing answered within ``wait`` seconds."""
    scenario = workdir / "register-once.xml"
    scenario.write_text(REGISTER)
    messages = workdir / f"register-{user}-{time.monotonic_ns()}.log"
    done = subprocess.run(
        [
            "sipp",
            "127.0.0.1:5060",
            "-sf",
            str(scenario),
            "-i",
            source,
            "-bind_local",
            "-p",
            str(free_udp_port(source)),
            "-m",
            "1",
            "-nostdin",
            "-key",
            "user",
            user,
            "-key",
            "expires",
            str(expires),
            "-au",
            user,
            "-ap",
            password,
            "-timeout",
            f"{wait}s",
            "-timeout_error",
            "-trace_msg",
            "-message_file",
            str(messages),
        ],
        capture_output=True,
        text=True,
        cwd=workdir,
        check=False,
        timeout=wait + 15,
    )
    log = messages.read_text(errors="replace") if messages.exists() else ""
    statuses = re.findall(r"^SIP/2\.0 (\d{3})", log, re.M)
    # SIPp fails on a timeout: fine if nothing came back at all, a broken exchange otherwise
    assert done.returncode == 0 or not statuses, (done.stdout[-2000:], log)
    return int(statuses[-1]) if statuses else None
