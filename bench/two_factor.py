"""Two-factor benchmark: logIn latency without and with TOTP, and the second step's own cost.

Runs `cove serve` in a subprocess with the production Argon2 defaults, its mail sent to a real
SMTP sink in this process; accounts sign up then log in (signUp opens no session). Half the
accounts turn TOTP on; each then signs in once (a code is spent once, so one completion per
account and step). Run: `python -m bench.two_factor` (BENCH_USERS=30 by default).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pyotp

from bench.accounts import ms, percentile
from bench.load import PASSWORD, free_port, mail_env, server_process, sign_up
from tests.mail_sink import MailSink

LOG_IN = """mutation($e: String!) { logIn(input: {email: $e, password: "bench password 1"}) {
  token needsSecondFactor secondStepToken } }"""
BEGIN = "mutation { beginTwoFactorEnrolment { secret } }"
CONFIRM = """mutation($c: String!, $p: String!) {
  confirmTwoFactorEnrolment(input: {code: $c, password: $p}) { recoveryCodes } }"""
COMPLETE = """mutation($t: String!, $c: String!) {
  completeLogIn(input: {secondStepToken: $t, code: $c}) { token } }"""


async def run(url: str, sink: MailSink, users: int) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:

        async def gql(
            query: str, variables: dict[str, str] | None = None, token: str | None = None
        ) -> dict[str, Any]:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            response = await client.post(
                "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
            )
            body: dict[str, Any] = response.json()
            assert "errors" not in body, response.text
            return body["data"]

        plain = [f"plain{i}@example.org" for i in range(users)]
        totp = [f"totp{i}@example.org" for i in range(users)]
        secrets: dict[str, str] = {}
        for email in plain + totp:
            token = (await sign_up(client, sink, email)).token
            if email in totp:
                secret = (await gql(BEGIN, token=token))["beginTwoFactorEnrolment"]["secret"]
                code = pyotp.TOTP(secret).now()
                await gql(CONFIRM, {"c": code, "p": PASSWORD}, token=token)
                secrets[email] = secret

        plain_times, step_times, complete_times, total_times = [], [], [], []
        for plain_email, totp_email in zip(plain, totp, strict=True):
            started = time.perf_counter()
            assert (await gql(LOG_IN, {"e": plain_email}))["logIn"]["token"]
            plain_times.append(time.perf_counter() - started)

            started = time.perf_counter()
            step = (await gql(LOG_IN, {"e": totp_email}))["logIn"]["secondStepToken"]
            middle = time.perf_counter()
            # The next step's code: the one for now was spent confirming enrolment.
            code = pyotp.TOTP(secrets[totp_email]).at(time.time() + 30)
            done = await gql(COMPLETE, {"t": step, "c": code})
            ended = time.perf_counter()
            assert done["completeLogIn"]["token"]
            step_times.append(middle - started)
            complete_times.append(ended - middle)
            total_times.append(ended - started)

    def line(name: str, samples: list[float]) -> str:
        return (
            f"{name:<34} p50 {ms(statistics.median(samples))}  "
            f"p99 {ms(percentile(samples, 0.99))}  (n={len(samples)})"
        )

    print(line("logIn, no two-factor", plain_times))
    print(line("logIn, TOTP on (password step)", step_times))
    print(line("completeLogIn (TOTP code)", complete_times))
    print(line("logIn + completeLogIn", total_times))


def main() -> None:
    users = int(os.environ.get("BENCH_USERS", "30"))
    with tempfile.TemporaryDirectory() as tmp, MailSink() as sink:
        port = free_port()
        env = {
            **os.environ,
            **mail_env(sink),
            "COVE_LOG_LEVEL": "WARNING",
            "COVE_LOGIN_ATTEMPTS_PER_IP_PER_MINUTE": "1000000",
            "COVE_SIGNUPS_PER_IP_PER_HOUR": "1000000",
            "COVE_QUERY_COST_BUDGET": str(10**15),
        }
        command = [sys.executable, "-m", "api.cli", "serve", "--data-dir", str(Path(tmp) / "data")]
        with server_process([*command, "--port", str(port)], env, port) as running:
            asyncio.run(run(running.url, sink, users))


if __name__ == "__main__":
    main()
