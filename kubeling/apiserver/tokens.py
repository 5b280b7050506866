"""ServiceAccount tokens: the signing key, bound JWTs, the TokenRequest subresource and TokenReview.

Tokens are what upstream's kube-apiserver issues (pkg/serviceaccount, pkg/registry/core/serviceaccount/
storage/token.go): RS256 JWTs signed by a key in the PKI dir, with the claims aud, exp, iat, iss, jti,
nbf, sub and a private `kubernetes.io` claim naming the namespace, the ServiceAccount (name, uid) and,
for bound tokens, the Pod/Secret/Node they are bound to. A token authenticates while it is unexpired,
its audience matches, and the ServiceAccount (and bound object) it names still exists with the same uid.

No JWT library: RS256 over `cryptography` is a few lines, and verification results are cached (LRU) so
the signature check is paid once per token, not per request.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import uuid
from collections import OrderedDict
from typing import Any, NamedTuple

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ..api import errors, meta
from ..api.errors import ApiError
from ..api.resources import by_qualified
from ..storage.base import KV

ISSUER = "https://kubernetes.default.svc.cluster.local"
API_AUDIENCES: tuple[str, ...] = (ISSUER,)  # --api-audiences defaults to the issuer
DEFAULT_EXPIRATION = 3600  # SetDefaults_TokenRequestSpec
MIN_EXPIRATION = 600
MAX_EXPIRATION = 1 << 32
WARN_ONLY_BOUND_TOKEN_EXPIRATION = 3607  # what the ServiceAccount admission projects into pods
EXPIRATION_EXTENSION = 365 * 24 * 3600  # --service-account-extend-token-expiration (default true)
LEEWAY = 60  # go-jose's jwt.DefaultLeeway
CACHE_SIZE = 4096

Obj = dict[str, Any]


class TokenError(Exception):
    """A token that is ours but invalid: expired, forged, for another audience, or revoked."""


class ServiceAccountInfo(NamedTuple):
    """What a valid ServiceAccount token proves (upstream serviceaccount.ServiceAccountInfo)."""

    namespace: str
    name: str
    uid: str
    pod_name: str = ""
    pod_uid: str = ""
    node_name: str = ""
    node_uid: str = ""
    credential_id: str = ""


def username(namespace: str, name: str) -> str:
    return f"system:serviceaccount:{namespace}:{name}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


# ---- the signing key ------------------------------------------------------------------------------------------

def ensure_signing_key(pki_dir: str) -> str:
    """Create (once) the ServiceAccount signing key sa.key (RSA 2048) and sa.pub; return the key's path."""
    os.makedirs(pki_dir, exist_ok=True)
    path = os.path.join(pki_dir, "sa.key")
    if not os.path.exists(path):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        pub = key.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
        for p, data, mode in ((path, pem, 0o600), (os.path.join(pki_dir, "sa.pub"), pub, 0o644)):
            tmp = p + ".tmp"
            with open(tmp, "wb") as f:
                f.write(data)
            os.chmod(tmp, mode)
            os.replace(tmp, p)
    return path


def key_id(public_key: Any) -> str:
    """Upstream's keyIDFromPublicKey: base64url(sha256(PKIX DER))."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return _b64(hashlib.sha256(der).digest())


class Signer:
    """Signs claims into compact RS256 JWTs."""

    def __init__(self, key_path: str) -> None:
        with open(key_path, "rb") as f:
            # Our own key from our PKI dir: skip the RSA consistency check, ~0.1 s of every start.
            self.key = serialization.load_pem_private_key(f.read(), None, unsafe_skip_rsa_key_validation=True)
        self.public_key = self.key.public_key()
        self.kid = key_id(self.public_key)
        self._header = _b64(orjson.dumps({"alg": "RS256", "kid": self.kid}))

    def sign(self, claims: Obj) -> str:
        payload = _b64(orjson.dumps(claims, option=orjson.OPT_SORT_KEYS))
        signing_input = f"{self._header}.{payload}".encode()
        sig = self.key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return f"{self._header}.{payload}.{_b64(sig)}"


class Verifier:
    """Checks RS256 signatures against the public keys; remembers tokens it has verified (LRU)."""

    def __init__(self, public_keys: list[Any], issuers: tuple[str, ...] = (ISSUER,)) -> None:
        self.keys = {key_id(k): k for k in public_keys}
        self.issuers = issuers
        self._cache: OrderedDict[str, Obj] = OrderedDict()

    def claims(self, token: str) -> Obj | None:
        """Verified claims; None when the token is not a JWT of one of our issuers; TokenError when forged."""
        cache = self._cache
        c = cache.get(token)
        if c is not None:
            cache.move_to_end(token)
            return c
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            header = orjson.loads(_unb64(parts[0]))
            claims = orjson.loads(_unb64(parts[1]))
            sig = _unb64(parts[2])
        except (ValueError, orjson.JSONDecodeError):
            return None
        if not isinstance(header, dict) or not isinstance(claims, dict) or claims.get("iss") not in self.issuers:
            return None  # not ours: another authenticator may know it
        if header.get("alg") != "RS256":
            raise TokenError("invalid bearer token")
        keys = [self.keys[header["kid"]]] if header.get("kid") in self.keys else list(self.keys.values())
        signing_input = f"{parts[0]}.{parts[1]}".encode()
        for k in keys:
            try:
                k.verify(sig, signing_input, padding.PKCS1v15(), hashes.SHA256())
                break
            except (InvalidSignature, ValueError):
                continue
        else:
            raise TokenError("invalid bearer token")
        cache[token] = claims
        if len(cache) > CACHE_SIZE:
            cache.popitem(last=False)
        return claims


# ---- claims -------------------------------------------------------------------------------------------------

def _ref(obj: Obj) -> Obj:
    md = obj["metadata"]
    return {"name": md["name"], "uid": md.get("uid", "")}


def claims(sa: Obj, audiences: list[str], expiration: int, now: int, pod: Obj | None = None,
           secret: Obj | None = None, node: Obj | None = None, warn_after: int = 0) -> Obj:
    """The public and private claims upstream's serviceaccount.Claims builds."""
    md = sa["metadata"]
    k8s: Obj = {"namespace": md["namespace"], "serviceaccount": _ref(sa)}
    if pod is not None:
        k8s["pod"] = _ref(pod)
        if node is not None:  # ServiceAccountTokenPodNodeInfo (beta, on in v1.32)
            k8s["node"] = _ref(node)
    elif secret is not None:
        k8s["secret"] = _ref(secret)
    elif node is not None:  # ServiceAccountTokenNodeBinding (beta, on in v1.32)
        k8s["node"] = _ref(node)
    if warn_after:
        k8s["warnafter"] = now + warn_after
    return {"aud": list(audiences), "exp": now + expiration, "iat": now, "iss": ISSUER, "jti": str(uuid.uuid4()),
            "kubernetes.io": k8s, "nbf": now, "sub": username(md["namespace"], md["name"])}


# ---- authentication -----------------------------------------------------------------------------------------

_SA = by_qualified("serviceaccounts")
_PODS = by_qualified("pods")
_SECRETS = by_qualified("secrets")
_NODES = by_qualified("nodes")


class ServiceAccountTokenAuthenticator:
    """Validates our JWTs (pkg/serviceaccount/jwt.go + claims.go validator) against live objects."""

    def __init__(self, store: Any, verifier: Verifier, api_audiences: tuple[str, ...] = API_AUDIENCES) -> None:
        self.store = store
        self.verifier = verifier
        self.api_audiences = api_audiences

    def _get(self, key: str) -> KV | None:
        return self.store.get(key)

    def authenticate(self, token: str, audiences: tuple[str, ...] | list[str] | None = None,
                     now: float | None = None) -> tuple[ServiceAccountInfo, list[str]] | None:
        """(who, audiences) for a valid token; None when not ours; TokenError when ours but invalid."""
        c = self.verifier.claims(token)
        if c is None:
            return None
        token_auds = c.get("aud")
        if isinstance(token_auds, str):
            token_auds = [token_auds]
        if not token_auds:
            token_auds = list(self.api_audiences)
        wanted = list(audiences) if audiences else list(self.api_audiences)
        auds = [a for a in wanted if a in token_auds]
        if not auds:
            raise TokenError(f"token audiences {_goq_list(token_auds)} is invalid for the target audiences "
                             f"{_goq_list(wanted)}")
        t = time.time() if now is None else now
        try:
            exp, nbf, iat = (c.get("exp"), c.get("nbf"), c.get("iat"))
            if exp is not None and t - LEEWAY > exp:
                raise TokenError("service account token has expired")
            if nbf is not None and t + LEEWAY < nbf:
                raise TokenError("service account token is not valid yet")
            if iat is not None and t + LEEWAY < iat:
                raise TokenError("service account token is issued in the future")
        except TypeError:
            raise TokenError("service account token claims could not be validated due to unexpected validation "
                             "error") from None
        k8s = c.get("kubernetes.io")
        if not isinstance(k8s, dict):
            raise TokenError("service account token claims could not be validated due to unexpected validation "
                             "error")
        ns = k8s.get("namespace") or ""
        saref = k8s.get("serviceaccount") or {}
        cutoff = t - LEEWAY
        sa = self._get(_SA.key(ns, saref.get("name") or ""))
        if sa is None:
            raise TokenError(f'serviceaccounts "{saref.get("name") or ""}" not found')
        if sa.obj["metadata"].get("uid") != saref.get("uid"):
            raise TokenError(f"service account UID ({sa.obj['metadata'].get('uid')}) does not match claim "
                             f"({saref.get('uid')})")
        if _deleted_before(sa.obj, cutoff):
            raise TokenError(f"service account {ns}/{saref.get('name')} has been deleted")
        pod_name = pod_uid = node_name = node_uid = ""
        secref = k8s.get("secret")
        if isinstance(secref, dict):
            self._check_bound(_SECRETS.key(ns, secref.get("name") or ""), secref, "secret", cutoff)
        podref = k8s.get("pod")
        if isinstance(podref, dict):
            self._check_bound(_PODS.key(ns, podref.get("name") or ""), podref, "pod", cutoff)
            pod_name, pod_uid = podref.get("name") or "", podref.get("uid") or ""
        noderef = k8s.get("node")
        if isinstance(noderef, dict):
            if not isinstance(podref, dict):
                self._check_bound(_NODES.key(None, noderef.get("name") or ""), noderef, "node", cutoff)
            node_name, node_uid = noderef.get("name") or "", noderef.get("uid") or ""
        jti = c.get("jti") or ""
        info = ServiceAccountInfo(ns, saref.get("name") or "", saref.get("uid") or "", pod_name, pod_uid,
                                  node_name, node_uid, f"JTI={jti}" if jti else "")
        return info, auds

    def _check_bound(self, key: str, ref: Obj, what: str, cutoff: float) -> None:
        kv = self._get(key)
        if kv is None:
            raise TokenError("service account token has been invalidated")
        uid = kv.obj["metadata"].get("uid")
        if uid != ref.get("uid"):
            raise TokenError(f"{what} UID ({uid}) does not match service account {what} ref claim ({ref.get('uid')})")
        if _deleted_before(kv.obj, cutoff):
            raise TokenError("service account token has been invalidated")


def _deleted_before(obj: Obj, cutoff: float) -> bool:
    ts = obj["metadata"].get("deletionTimestamp")
    if not ts:
        return False
    t = meta.parse_time(ts)
    return t is not None and t < cutoff


def _goq_list(items: list[str]) -> str:
    """Go's %q of a []string."""
    return "[" + " ".join(json.dumps(s) for s in items) + "]"


# ---- TokenRequest (POST serviceaccounts/NAME/token) ----------------------------------------------------------

def _invalid(name: str, field: str, value: Any, detail: str) -> ApiError:
    return errors.invalid("TokenRequest", "authentication.k8s.io", name,
                          [errors.invalid_value(field, value, detail)])


def create_token(store: Any, signer: Signer, namespace: str, name: str, req: Any,
                 api_audiences: tuple[str, ...] = API_AUDIENCES, now: float | None = None) -> Obj:
    """Issue a bound token for ServiceAccount namespace/name from a TokenRequest body (upstream TokenREST)."""
    if not isinstance(req, dict):
        raise errors.bad_request("the object provided is unrecognized (must be of type TokenRequest)")
    if req.get("apiVersion") not in (None, "authentication.k8s.io/v1") or req.get("kind") not in (None,
                                                                                                    "TokenRequest"):
        raise errors.bad_request(f"the API version in the data ({req.get('apiVersion')}) does not match the "
                                 "expected API version (authentication.k8s.io/v1)")
    md = req.get("metadata") if isinstance(req.get("metadata"), dict) else {}
    if md.get("name") and md["name"] != name:
        raise _invalid(name, "metadata.name", md["name"], "must match the service account name if specified")
    if md.get("namespace") and md["namespace"] != namespace:
        raise _invalid(name, "metadata.namespace", md["namespace"],
                       "must match the service account namespace if specified")
    sa = store.get(_SA.key(namespace, name))
    if sa is None:
        raise errors.not_found("serviceaccounts", "", name)
    spec = req.get("spec") if isinstance(req.get("spec"), dict) else {}
    auds = spec.get("audiences") or list(api_audiences)
    if not isinstance(auds, list) or not all(isinstance(a, str) for a in auds):
        raise errors.bad_request("spec.audiences must be a list of strings")
    expiration = spec.get("expirationSeconds")
    if expiration is None:
        expiration = DEFAULT_EXPIRATION
    if not isinstance(expiration, int) or isinstance(expiration, bool):
        raise errors.bad_request("spec.expirationSeconds must be an integer")
    t = int(time.time() if now is None else now)
    if expiration < MIN_EXPIRATION:
        raise _invalid("", "spec.expirationSeconds", expiration, "may not specify a duration less than 10 minutes")
    if expiration > MAX_EXPIRATION:
        raise _invalid("", "spec.expirationSeconds", expiration, "may not specify a duration larger than 2^32 seconds")
    pod = secret = node = None
    ref = spec.get("boundObjectRef")
    if ref is not None:
        if not isinstance(ref, dict):
            raise errors.bad_request("spec.boundObjectRef must be an object")
        api_version, kind, ref_name = ref.get("apiVersion") or "", ref.get("kind") or "", ref.get("name") or ""
        group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
        version = api_version.rsplit("/", 1)[-1]
        if group == "" and kind == "Pod":
            kv = store.get(_PODS.key(namespace, ref_name))
            if kv is None:
                raise errors.not_found("pods", "", ref_name)
            pod = kv.obj
            if (pod.get("spec") or {}).get("serviceAccountName") != name:
                raise errors.bad_request(f'cannot bind token for serviceaccount "{name}" to pod running with '
                                         "different serviceaccount name.")
            uid = pod["metadata"].get("uid")
            node_name = (pod.get("spec") or {}).get("nodeName")
            if node_name:
                nkv = store.get(_NODES.key(None, node_name))
                node = nkv.obj if nkv is not None else {"metadata": {"name": node_name}}
        elif group == "" and kind == "Node":
            kv = store.get(_NODES.key(None, ref_name))
            if kv is None:
                raise errors.not_found("nodes", "", ref_name)
            node = kv.obj
            uid = node["metadata"].get("uid")
        elif group == "" and kind == "Secret":
            kv = store.get(_SECRETS.key(namespace, ref_name))
            if kv is None:
                raise errors.not_found("secrets", "", ref_name)
            secret = kv.obj
            uid = secret["metadata"].get("uid")
        else:
            raise errors.bad_request(f"cannot bind token to object of type {group}/{version}, Kind={kind}")
        if ref.get("uid") and ref["uid"] != uid:
            raise errors.conflict(kind, group, ref_name,
                                  f"the UID in the bound object reference ({ref['uid']}) does not match the UID in "
                                  "record. The object might have been deleted and then recreated")
    exp, warn_after = expiration, 0
    if pod is not None and expiration == WARN_ONLY_BOUND_TOKEN_EXPIRATION and all(a in api_audiences for a in auds):
        warn_after, exp = expiration, EXPIRATION_EXTENSION
    token = signer.sign(claims(sa.obj, auds, exp, t, pod=pod, secret=secret, node=node, warn_after=warn_after))
    out_md = {k: v for k, v in md.items() if k not in ("creationTimestamp",)}
    out_md["name"] = name
    out_md["namespace"] = namespace
    out_md["creationTimestamp"] = meta.now_rfc3339(t)
    out_spec = {"audiences": auds, "expirationSeconds": expiration, "boundObjectRef": ref}
    return {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1", "metadata": out_md, "spec": out_spec,
            "status": {"token": token, "expirationTimestamp": meta.now_rfc3339(t + expiration)}}


# ---- TokenReview --------------------------------------------------------------------------------------------

def token_review(body: Any, authenticate_token: Any, api_audiences: tuple[str, ...] = API_AUDIENCES) -> Obj:
    """Answer a TokenReview. authenticate_token(token, audiences) -> (user or None, audiences, error or None)."""
    if not isinstance(body, dict):
        raise errors.bad_request("the object provided is unrecognized (must be of type TokenReview)")
    spec = body.get("spec") if isinstance(body.get("spec"), dict) else {}
    token = spec.get("token")
    if not token or not isinstance(token, str):
        raise errors.bad_request("token is required for TokenReview in authentication")
    auds = spec.get("audiences") or list(api_audiences)
    user, got_auds, err = authenticate_token(token, tuple(auds))
    status: Obj = {}
    if user is not None:
        status["authenticated"] = True
        u: Obj = {"username": user.name}
        if user.uid:
            u["uid"] = user.uid
        if user.groups:
            u["groups"] = list(user.groups)
        if user.extra:
            u["extra"] = {k: list(v) for k, v in user.extra}
        status["user"] = u
        if got_auds:
            status["audiences"] = list(got_auds)
    else:
        status["user"] = {}
        if err:
            status["error"] = err
    md = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    return {"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {**md, "creationTimestamp": md.get("creationTimestamp")}, "spec": spec, "status": status}
