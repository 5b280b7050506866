"""csrsigning (upstream pkg/controller/certificates/signer): signs approved CertificateSigningRequests;
csrcleaner removes old ones.

Signers kubernetes.io/kube-apiserver-client, kube-apiserver-client-kubelet and kubelet-serving are signed
with the cluster CA (settings "cluster_signing_cert_file"/"cluster_signing_key_file", upstream's
--cluster-signing-cert-file/--cluster-signing-key-file). A request that does not satisfy its signer's
rules gets a Failed condition (reason SignerValidationFailure), as upstream. Certificates live for
spec.expirationSeconds (at least 10 minutes) or the default 8760h, capped at the CA's own expiry,
backdated 5 minutes.
"""
from __future__ import annotations

import base64
import datetime as dt
import logging
import time
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID, ObjectIdentifier

from ..api import certificates as certs
from ..api.errors import ApiError
from ..api.meta import parse_time
from ..client.client import deepcopy
from ..client.informer import Controller
from . import register_controller

log = logging.getLogger(__name__)

RESOURCE = certs.QUALIFIED
DEFAULT_TTL = 8760 * 3600  # --cluster-signing-duration
BACKDATE = 5 * 60
SHORT = 8 * 3600
Obj = dict[str, Any]

_KEY_USAGE = {"signing": "digital_signature", "digital signature": "digital_signature",
              "content commitment": "content_commitment", "key encipherment": "key_encipherment",
              "key agreement": "key_agreement", "data encipherment": "data_encipherment",
              "cert sign": "key_cert_sign", "crl sign": "crl_sign", "encipher only": "encipher_only",
              "decipher only": "decipher_only"}
_EXT_USAGE = {"any": "2.5.29.37.0", "server auth": "1.3.6.1.5.5.7.3.1", "client auth": "1.3.6.1.5.5.7.3.2",
              "code signing": "1.3.6.1.5.5.7.3.3", "email protection": "1.3.6.1.5.5.7.3.4",
              "s/mime": "1.3.6.1.5.5.7.3.4", "ipsec end system": "1.3.6.1.5.5.7.3.5",
              "ipsec tunnel": "1.3.6.1.5.5.7.3.6", "ipsec user": "1.3.6.1.5.5.7.3.7",
              "timestamping": "1.3.6.1.5.5.7.3.8", "ocsp signing": "1.3.6.1.5.5.7.3.9",
              "microsoft sgc": "1.3.6.1.4.1.311.10.3.3", "netscape sgc": "2.16.840.1.113730.4.1"}

_KUBELET_CLIENT_USAGES = ({"digital signature", "key encipherment", "client auth"}, {"digital signature", "client auth"})
_KUBELET_SERVING_USAGES = ({"digital signature", "key encipherment", "server auth"}, {"digital signature", "server auth"})


def _go_set(items: set[str]) -> str:
    return "[" + " ".join(sorted(items)) + "]"


def _orgs(req: x509.CertificateSigningRequest) -> list[str]:
    return [str(a.value) for a in req.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]


def _cn(req: x509.CertificateSigningRequest) -> str:
    cns = req.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(cns[0].value) if cns else ""


def _sans(req: x509.CertificateSigningRequest) -> x509.SubjectAlternativeName | None:
    try:
        return req.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None


def validate_kubelet_client(req: x509.CertificateSigningRequest, usages: set[str]) -> str | None:
    """ValidateKubeletClientCSR: the reason it fails, or None."""
    if _orgs(req) != ["system:nodes"]:
        return "subject organization is not system:nodes"
    sans = _sans(req)
    if sans is not None:
        for typ, what in ((x509.DNSName, "DNS"), (x509.RFC822Name, "Email"), (x509.IPAddress, "IP"),
                          (x509.UniformResourceIdentifier, "URI")):
            if sans.get_values_for_type(typ):
                return f"{what} subjectAltNames are not allowed"
    if not _cn(req).startswith("system:node:"):
        return "subject common name does not begin with system:node:"
    if usages not in _KUBELET_CLIENT_USAGES:
        return f"usages did not match {_go_set(_KUBELET_CLIENT_USAGES[0])}"
    return None


def validate_kubelet_serving(req: x509.CertificateSigningRequest, usages: set[str]) -> str | None:
    """ValidateKubeletServingCSR: the reason it fails, or None."""
    if _orgs(req) != ["system:nodes"]:
        return "subject organization is not system:nodes"
    sans = _sans(req)
    dns = sans.get_values_for_type(x509.DNSName) if sans else []
    ips = sans.get_values_for_type(x509.IPAddress) if sans else []
    if not dns and not ips:
        return "DNS or IP subjectAltName is required"
    if sans is not None and sans.get_values_for_type(x509.RFC822Name):
        return "Email subjectAltNames are not allowed"
    if sans is not None and sans.get_values_for_type(x509.UniformResourceIdentifier):
        return "URI subjectAltNames are not allowed"
    if usages not in _KUBELET_SERVING_USAGES:
        return f"usages did not match {_go_set(_KUBELET_SERVING_USAGES[0])}"
    if not _cn(req).startswith("system:node:"):
        return "subject common name does not begin with system:node:"
    return None


def validate_apiserver_client(usages: list[str]) -> str | None:
    """validAPIServerClientUsages: only digital signature, key encipherment and (required) client auth."""
    for u in usages:
        if u not in ("digital signature", "key encipherment", "client auth"):
            return f"invalid usage for client certificate: {u}"
    if "client auth" not in usages:
        return "missing required usage for client certificate: client auth"
    return None


def check_signer(req: x509.CertificateSigningRequest, csr: Obj) -> tuple[bool, str | None]:
    """(recognized, failure reason) of isRequestForSignerFn for the signers kubeling serves."""
    spec = csr.get("spec") or {}
    usages = list(spec.get("usages") or [])
    signer = spec.get("signerName")
    if signer == certs.KUBE_APISERVER_CLIENT:
        return True, validate_apiserver_client(usages)
    if signer == certs.KUBE_APISERVER_CLIENT_KUBELET:
        return True, validate_kubelet_client(req, set(usages))
    if signer == certs.KUBELET_SERVING:
        return True, validate_kubelet_serving(req, set(usages))
    return False, None


def needs_signing(csr: Obj) -> bool:
    """Approved, not denied or failed, and no certificate yet."""
    return (certs.has_condition(csr, certs.APPROVED) and not certs.has_condition(csr, certs.DENIED)
            and not certs.has_condition(csr, certs.FAILED) and not (csr.get("status") or {}).get("certificate"))


def sign(req: x509.CertificateSigningRequest, usages: list[str], expiration_seconds: int | None,
         ca_cert: x509.Certificate, ca_key: Any, now: dt.datetime | None = None) -> bytes:
    """authority.Sign with the signer's policy: the requested subject, SANs and key, usages as requested."""
    now = now or dt.datetime.now(dt.UTC)
    ttl = DEFAULT_TTL if expiration_seconds is None else max(int(expiration_seconds), 600)
    not_before = now - dt.timedelta(seconds=BACKDATE)
    not_after = not_before + dt.timedelta(seconds=ttl) if ttl < SHORT else now + dt.timedelta(seconds=ttl)
    not_after = min(not_after, ca_cert.not_valid_after_utc)
    b = (x509.CertificateBuilder().subject_name(req.subject).issuer_name(ca_cert.subject)
         .public_key(req.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(not_before).not_valid_after(not_after)
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True))
    ku = {v: False for v in _KEY_USAGE.values()}
    for u in usages:
        if u in _KEY_USAGE:
            ku[_KEY_USAGE[u]] = True
    if any(ku.values()):
        b = b.add_extension(x509.KeyUsage(**ku), critical=True)
    ext = []
    for u in usages:
        oid = _EXT_USAGE.get(u)
        if oid and ObjectIdentifier(oid) not in ext:
            ext.append(ObjectIdentifier(oid))
    if ext:
        b = b.add_extension(x509.ExtendedKeyUsage(ext), critical=False)
    sans = _sans(req)
    if sans is not None:
        b = b.add_extension(sans, critical=False)
    cert = b.sign(ca_key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM)


class CSRSigningController(Controller):
    name = "csrsigning"
    workers = 5  # --concurrent-certificate-signing-syncs? upstream default 5

    def __init__(self, ctx: Any) -> None:
        super().__init__()
        self.client = ctx.client
        settings = ctx.settings or {}
        self.ca_cert: x509.Certificate | None = None
        self.ca_key: Any = None
        cert_file, key_file = settings.get("cluster_signing_cert_file"), settings.get("cluster_signing_key_file")
        if cert_file and key_file:
            with open(cert_file, "rb") as f:
                self.ca_cert = x509.load_pem_x509_certificate(f.read())
            with open(key_file, "rb") as f:
                self.ca_key = serialization.load_pem_private_key(f.read(), None)
        self.csrs = ctx.informers.informer(RESOURCE)
        self.csrs.add_handlers(self._on_csr, lambda _old, cur: self._on_csr(cur))

    def _on_csr(self, csr: Obj) -> None:
        if needs_signing(csr):
            self.enqueue(csr)

    def run(self, workers: int | None = None) -> None:
        if self.ca_cert is None:
            log.info("csrsigning: no cluster signing CA configured; not signing")
            return
        self.start_when_synced(self.csrs, workers=workers)

    async def sync(self, key: str) -> None:
        csr = self.csrs.get(key)
        if csr is None or not needs_signing(csr):
            return
        try:
            req = certs.parse_csr(certs.request_bytes(csr))
        except ValueError as e:
            log.info("csrsigning: unable to parse csr %s: %s", key, e)
            return
        recognized, failure = check_signer(req, csr)
        if not recognized:
            return
        out = deepcopy(csr)
        status = out.setdefault("status", {})
        if failure is not None:
            now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            status.setdefault("conditions", []).append({
                "type": certs.FAILED, "status": "True", "reason": "SignerValidationFailure", "message": failure,
                "lastUpdateTime": now})
        else:
            spec = csr.get("spec") or {}
            pem = sign(req, list(spec.get("usages") or []), spec.get("expirationSeconds"), self.ca_cert,
                       self.ca_key)
            status["certificate"] = base64.b64encode(pem).decode()
        try:
            await self.client.update_status(RESOURCE, out)
        except ApiError as e:
            if e.code != 404:
                raise


start = register_controller("certificatesigningrequest-signing-controller", CSRSigningController)


# ---- csrcleaner (upstream pkg/controller/certificates/cleaner) -------------------------------------------
PENDING_EXPIRATION = 24 * 3600
DECIDED_EXPIRATION = 3600  # approved, denied, failed


def cleanup_deadline(csr: Obj) -> float | None:
    """When the cleaner deletes this CSR (epoch seconds): pending 24h after creation; approved, denied or
    failed 1h after that condition's lastUpdateTime; issued once its certificate expired; else None."""
    deadlines: list[float] = []
    conds = (csr.get("status") or {}).get("conditions") or []
    decided = False
    for c in conds:
        if c.get("type") in (certs.APPROVED, certs.DENIED, certs.FAILED):
            decided = True
            t = parse_time(c.get("lastUpdateTime"))
            if t is not None:
                deadlines.append(t + DECIDED_EXPIRATION)
    if not decided:
        t = parse_time((csr.get("metadata") or {}).get("creationTimestamp"))
        if t is not None:
            deadlines.append(t + PENDING_EXPIRATION)
    pem = (csr.get("status") or {}).get("certificate")
    if pem:
        try:
            cert = x509.load_pem_x509_certificate(base64.b64decode(pem))
            deadlines.append(cert.not_valid_after_utc.timestamp())
        except ValueError:
            pass
    return min(deadlines) if deadlines else None


class CSRCleanerController(Controller):
    name = "csrcleaner"
    workers = 1

    def __init__(self, ctx: Any) -> None:
        super().__init__()
        self.client = ctx.client
        self.csrs = ctx.informers.informer(RESOURCE)
        self.csrs.add_handlers(self.enqueue, lambda _old, cur: self.enqueue(cur))

    def run(self, workers: int | None = None) -> None:
        self.start_when_synced(self.csrs, workers=workers)

    async def sync(self, key: str) -> None:
        csr = self.csrs.get(key)
        if csr is None:
            return
        deadline = cleanup_deadline(csr)
        if deadline is None:
            return
        left = deadline - time.time()
        if left > 0:
            self.queue.add_after(key, left)
            return
        log.info("csrcleaner: deleting expired CSR %s", key)
        try:
            await self.client.delete(RESOURCE, None, csr["metadata"]["name"],
                                     {"preconditions": {"uid": csr["metadata"]["uid"]}})
        except ApiError as e:
            if e.code not in (404, 409):
                raise


start_cleaner = register_controller("certificatesigningrequest-cleaner-controller", CSRCleanerController)

__all__ = ["CSRCleanerController", "CSRSigningController", "check_signer", "cleanup_deadline", "needs_signing",
           "sign", "start", "start_cleaner"]
