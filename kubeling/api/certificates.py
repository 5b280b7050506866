"""certificates.k8s.io/v1 CertificateSigningRequest: strategy and pure helpers.

Upstream pkg/registry/certificates/certificates/strategy.go and pkg/apis/certificates: the requestor
fields come from the authenticated user on create (never from the body); spec is immutable after
create; /status owns the certificate and the non-approval conditions, /approval owns the conditions.
Condition timestamps are filled by the server as upstream's populateConditionTimestamps.
"""
from __future__ import annotations

import base64
import copy
from typing import Any

from cryptography import x509

QUALIFIED = "certificatesigningrequests.certificates.k8s.io"

APPROVED, DENIED, FAILED = "Approved", "Denied", "Failed"
KUBE_APISERVER_CLIENT = "kubernetes.io/kube-apiserver-client"
KUBE_APISERVER_CLIENT_KUBELET = "kubernetes.io/kube-apiserver-client-kubelet"
KUBELET_SERVING = "kubernetes.io/kubelet-serving"
LEGACY_UNKNOWN = "kubernetes.io/legacy-unknown"

# pkg/apis/certificates.KeyUsage values (allValidUsages).
ALL_USAGES = ("signing", "digital signature", "content commitment", "key encipherment", "key agreement",
              "data encipherment", "cert sign", "crl sign", "encipher only", "decipher only", "any", "server auth",
              "client auth", "code signing", "email protection", "s/mime", "ipsec end system", "ipsec tunnel",
              "ipsec user", "timestamping", "ocsp signing", "microsoft sgc", "netscape sgc")

Obj = dict[str, Any]


def request_bytes(csr: Obj) -> bytes:
    """spec.request decoded (JSON carries []byte as base64); b"" when absent or not base64."""
    raw = (csr.get("spec") or {}).get("request") or ""
    try:
        return base64.b64decode(raw, validate=True) if isinstance(raw, str) else b""
    except ValueError:
        return b""


def parse_csr(pem: bytes) -> x509.CertificateSigningRequest:
    """certificates.ParseCSR plus CheckSignature; ValueError carries upstream's message."""
    start = pem.find(b"-----BEGIN ")
    if start < 0 or not pem[start:].startswith(b"-----BEGIN CERTIFICATE REQUEST-----"):
        raise ValueError("PEM block type must be CERTIFICATE REQUEST")
    try:
        req = x509.load_pem_x509_csr(pem[start:])
    except ValueError as e:
        raise ValueError(f"x509: malformed certificate request: {e}") from None
    if not req.is_signature_valid:
        raise ValueError("x509: ECDSA verification failure")
    return req


def _user_fields(user: Any) -> Obj:
    """username/uid/groups/extra of an apiserver.auth.UserInfo (or a bare user name)."""
    if user is None:
        return {}
    if isinstance(user, str):
        return {"username": user} if user else {}
    out: Obj = {}
    if getattr(user, "name", ""):
        out["username"] = user.name
    if getattr(user, "uid", ""):
        out["uid"] = user.uid
    if getattr(user, "groups", ()):
        out["groups"] = list(user.groups)
    extra = getattr(user, "extra", ())
    if extra:
        out["extra"] = {k: list(v) for k, v in extra}
    return out


def prepare_for_create(csr: Obj, user: Any) -> None:
    """Requestor from the authenticated user; users cannot create pre-approved requests."""
    spec = csr.setdefault("spec", {})
    for k in ("username", "uid", "groups", "extra"):
        spec.pop(k, None)
    spec.update(_user_fields(user))
    csr["status"] = {}


def _populate_timestamps(new: list[Obj], old: list[Obj], now: str) -> None:
    """populateConditionTimestamps: lastUpdateTime now when unset; lastTransitionTime kept from the old
    condition of the same type and status, else now."""
    for c in new:
        if not c.get("lastUpdateTime"):
            c["lastUpdateTime"] = now
        if not c.get("lastTransitionTime"):
            prev = next((o for o in old if o.get("type") == c.get("type")), None)
            if prev is not None and prev.get("status") == c.get("status") and prev.get("lastTransitionTime"):
                c["lastTransitionTime"] = prev["lastTransitionTime"]
            else:
                c["lastTransitionTime"] = now


def prepare_for_update(obj: Obj, old: Obj, subresource: str | None, now: str) -> None:
    """Spec always as stored; the main resource keeps status, /status keeps the approval conditions,
    /approval keeps the certificate and takes only the conditions."""
    obj["spec"] = copy.deepcopy(old.get("spec") or {})
    old_status = old.get("status") or {}
    old_conds = old_status.get("conditions") or []
    if subresource == "status":
        status = obj.get("status") if isinstance(obj.get("status"), dict) else {}
        new_conds = [c for c in status.get("conditions") or [] if c.get("type") not in (APPROVED, DENIED)]
        kept = [copy.deepcopy(c) for c in old_conds if c.get("type") in (APPROVED, DENIED)]
        conds = kept + new_conds
        status = dict(status)
        if conds:
            status["conditions"] = conds
        else:
            status.pop("conditions", None)
        obj["status"] = status
    elif subresource == "approval":
        body_conds = ((obj.get("status") or {}).get("conditions")) if isinstance(obj.get("status"), dict) else None
        status = copy.deepcopy(old_status)
        if body_conds:
            status["conditions"] = body_conds
        else:
            status.pop("conditions", None)
        obj["status"] = status
    else:
        obj["status"] = copy.deepcopy(old_status)
        return
    _populate_timestamps(obj["status"].get("conditions") or [], old_conds, now)


def has_condition(csr: Obj, ctype: str) -> bool:
    return any(c.get("type") == ctype and c.get("status") == "True"
               for c in (csr.get("status") or {}).get("conditions") or [])


def condition_summary(csr: Obj) -> str:
    """The CONDITION column: Denied|Approved|Pending, then ,Failed and ,Issued."""
    types = {c.get("type") for c in (csr.get("status") or {}).get("conditions") or []}
    out = DENIED if DENIED in types else APPROVED if APPROVED in types else "Pending"
    if FAILED in types:
        out += ",Failed"
    if (csr.get("status") or {}).get("certificate"):
        out += ",Issued"
    return out


def subject_restriction(op: str, rt: Any, new: Obj | None, old: Obj | None, req: Any) -> None:
    """CertificateSubjectRestriction admission: no kube-apiserver-client certificate for system:masters."""
    if op != "CREATE" or new is None or getattr(rt, "qualified", "") != QUALIFIED:
        return
    if (new.get("spec") or {}).get("signerName") != KUBE_APISERVER_CLIENT:
        return
    try:
        req_csr = parse_csr(request_bytes(new))
    except ValueError:
        return  # validation reports it
    orgs = [str(a.value) for a in req_csr.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)]
    if "system:masters" in orgs:
        from .errors import ApiError

        name = (new.get("metadata") or {}).get("name", "")
        raise ApiError(403, "Forbidden", f'certificatesigningrequests.certificates.k8s.io "{name}" is forbidden: '
                       "use of kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed",
                       name=name, group="certificates.k8s.io", kind="certificatesigningrequests")
