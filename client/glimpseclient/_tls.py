"""TLS failures explained: which certificate, which check failed, and what to change.

``ssl`` errors say ``[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] ...``; a person
needs to hear that the server wants a client certificate and which option
gives one. :func:`explain_setup` covers loading the CA bundle and the client
certificate, :func:`explain_handshake` a failed handshake or a server alert.
Each message keeps the ``ssl`` reason in parentheses for searching.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_CERT_OPTIONS = "--os-cert and --os-key (OS_CERT, OS_KEY)"
_CA_OPTION = "--os-cacert (OS_CACERT)"


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    detail = getattr(exc, "verify_message", None) or (exc.args[1] if len(exc.args) > 1 else str(exc))
    return f"{reason}: {detail}" if reason else str(detail)


def is_tls_error(exc: BaseException) -> bool:
    ssl = sys.modules.get("ssl")
    return ssl is not None and isinstance(exc, ssl.SSLError)


def explain_setup(exc: BaseException, *, cafile: Any, cert: str | None, key: str | None) -> str:
    """Loading the CA bundle or the client certificate failed."""
    reason = _reason(exc)
    upper = reason.upper()
    if cert and "KEY_VALUES_MISMATCH" in upper:
        return (f"TLS: the private key {key or cert} does not belong to the client certificate {cert}; "
                f"give the matching pair with {_CERT_OPTIONS} ({reason})")
    if isinstance(cafile, str) and (getattr(exc, "filename", None) == cafile or "cafile" in str(exc).lower()
                                    or cafile in str(exc)):
        return f"TLS: the CA bundle {cafile} given with {_CA_OPTION} cannot be used ({reason})"
    if cert:
        culprit = key if key and getattr(exc, "filename", None) == key else cert
        what = "private key" if culprit == key and key != cert else "client certificate"
        return (f"TLS: the {what} {culprit} given with {_CERT_OPTIONS} cannot be loaded; it must be a "
                f"readable PEM file ({reason})")
    if isinstance(cafile, str):
        return f"TLS: the CA bundle {cafile} given with {_CA_OPTION} cannot be used ({reason})"
    return f"TLS cannot be set up ({reason})"


def explain_handshake(exc: BaseException, *, host: str, port: int, cafile: Any, cert: str | None) -> str:
    """The TLS handshake with ``host:port`` failed, or the server ended the connection with an alert."""
    reason = _reason(exc)
    upper = reason.upper()
    where = f"{host}:{port}"
    if type(exc).__name__ == "SSLCertVerificationError" or "CERTIFICATE_VERIFY_FAILED" in upper:
        trusted = f"the CA bundle {cafile}" if isinstance(cafile, str) else "the system's CA certificates"
        if "HOSTNAME" in upper or "IP ADDRESS MISMATCH" in upper:
            return (f"TLS: the server certificate of {where} is not valid for the name {host!r}; connect with a "
                    f"name the certificate lists ({reason})")
        return (f"TLS: the server certificate of {where} is not trusted: checked against {trusted}. Give the CA "
                f"that signed it with {_CA_OPTION}, or --insecure to skip the check ({reason})")
    if "CERTIFICATE_REQUIRED" in upper or ("HANDSHAKE_FAILURE" in upper and not cert):
        return (f"TLS: {where} requires a client certificate and none was given; give one with {_CERT_OPTIONS} "
                f"({reason})")
    if cert and any(alert in upper for alert in ("UNKNOWN_CA", "BAD_CERTIFICATE", "CERTIFICATE_EXPIRED",
                                                 "CERTIFICATE_REVOKED", "UNSUPPORTED_CERTIFICATE",
                                                 "HANDSHAKE_FAILURE", "ACCESS_DENIED")):
        return (f"TLS: {where} refused the client certificate {cert}: it must be signed by a CA the server "
                f"trusts, and be valid now ({reason})")
    if "WRONG_VERSION_NUMBER" in upper or "RECORD_LAYER_FAILURE" in upper:
        return f"TLS: {where} does not speak TLS; is the URL http:// rather than https:// ({reason})?"
    return f"TLS with {where} failed ({reason})"


def explain_closed(cause: BaseException, *, host: str, port: int, cert: str | None) -> str:
    """The server closed a new TLS connection before answering: with TLS 1.3 that is how a refused
    (or missing) client certificate shows, the alert often being lost."""
    if is_tls_error(cause):
        return explain_handshake(cause, host=host, port=port, cafile=None, cert=cert)
    where = f"{host}:{port}"
    if cert:
        return (f"TLS: {where} closed the connection before answering, right after the handshake: it most likely "
                f"refused the client certificate {cert}, which must be signed by a CA the server trusts and be "
                f"valid now ({cause or type(cause).__name__})")
    return (f"TLS: {where} closed the connection before answering, right after the handshake: it most likely "
            f"requires a client certificate, and none was given; give one with {_CERT_OPTIONS} "
            f"({cause or type(cause).__name__})")
