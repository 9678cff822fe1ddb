"""The whole-run secret scan can fail: it finds a credential in a response or a log line."""

from __future__ import annotations

import logging

from jupyter_mlops.auth import Credential

from .secret_scan import SecretScan, scanning


def test_the_scan_finds_a_credential_in_a_log_line(secret_scan: SecretScan) -> None:
    # Given: a scan, and a credential handed out while it runs
    with scanning() as scan:
        credential = Credential("glpat-leaky-0123456789", "env")

        # When: some code logs the token
        logging.getLogger("ServerApp").warning("calling GitLab with %s", credential.token)

    # Then: the leak is reported, without repeating the token
    leaks = scan.leaks()
    secret_scan.tokens.discard(credential.token)  # planted here: not a leak of the whole run
    assert leaks == ["a 22-character token in log ServerApp:WARNING"]
    assert all("glpat" not in leak for leak in leaks)


def test_the_scan_ignores_what_happens_after_it_ends(secret_scan: SecretScan) -> None:
    # Given
    with scanning() as scan:
        credential = Credential("glpat-quiet-0123456789", "env")

    # When: the token is logged after the scan
    logging.getLogger("ServerApp").warning("late %s", credential.token)

    # Then
    assert scan.leaks() == []
    secret_scan.tokens.discard(credential.token)
