#!/usr/bin/env python3
"""Regenerate kubeling/apiserver/protobuf_fields.json from a kubectl binary.

Why from the binary: kubectl v1.32 carries both halves of what the decoder needs, for exactly the
version whose requests we decode.
- The compiled descriptors of upstream's generated.proto files (gzipped FileDescriptorProto blobs that
  gogo-protobuf registers): message names, field numbers, proto types, repeated/map.
- The Go runtime type descriptors of the k8s.io/api structs (kept for reflection even in stripped
  binaries): each field's `json:"name,omitempty"` and `protobuf:"...,N,..."` tags and whether the
  field is a pointer. That decides JSON names (inline structs, names that differ from the proto) and
  presence (omitempty value fields vanish when zero; pointers are kept whenever present).

Usage: python3 scripts/gen_protobuf_fields.py [/path/to/kubectl] > kubeling/apiserver/protobuf_fields.json
Default binary: /usr/bin/kubectl resolved through symlinks. Works on linux/amd64 Go 1.2x ELF binaries.
"""
from __future__ import annotations

import json
import os
import re
import struct
import sys
import zlib
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from kubeling.apiserver.protobuf import iter_fields  # noqa: E402

# Go package path -> apiVersion of its kinds. Messages of these packages (and what they reference)
# are written to the table.
PACKAGES = {
    "k8s.io/api/core/v1": "v1",
    "k8s.io/api/apps/v1": "apps/v1",
    "k8s.io/api/batch/v1": "batch/v1",
    "k8s.io/api/storage/v1": "storage.k8s.io/v1",
    "k8s.io/api/coordination/v1": "coordination.k8s.io/v1",
    "k8s.io/api/discovery/v1": "discovery.k8s.io/v1",
    "k8s.io/api/events/v1": "events.k8s.io/v1",
    "k8s.io/api/policy/v1": "policy/v1",
    "k8s.io/api/autoscaling/v1": "autoscaling/v1",
    "k8s.io/api/autoscaling/v2": "autoscaling/v2",
    "k8s.io/api/authentication/v1": "authentication.k8s.io/v1",
    "k8s.io/api/authorization/v1": "authorization.k8s.io/v1",
    "k8s.io/api/rbac/v1": "rbac.authorization.k8s.io/v1",
    "k8s.io/api/networking/v1": "networking.k8s.io/v1",
    "k8s.io/api/scheduling/v1": "scheduling.k8s.io/v1",
    "k8s.io/api/certificates/v1": "certificates.k8s.io/v1",
    "k8s.io/api/node/v1": "node.k8s.io/v1",
    "k8s.io/api/flowcontrol/v1": "flowcontrol.apiserver.k8s.io/v1",
    "k8s.io/api/admissionregistration/v1": "admissionregistration.k8s.io/v1",
    "k8s.io/apimachinery/pkg/apis/meta/v1": "meta.k8s.io/v1",
}
# meta/v1 kinds a client sends under the group version of the resource it talks to.
META_ANY_VERSION = ("DeleteOptions",)
# Types whose wire form the decoder handles itself (custom Go marshalers).
SPECIAL = {
    "k8s.io.apimachinery.pkg.apis.meta.v1.Time", "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime",
    "k8s.io.apimachinery.pkg.apis.meta.v1.Duration", "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1",
    "k8s.io.apimachinery.pkg.api.resource.Quantity", "k8s.io.apimachinery.pkg.util.intstr.IntOrString",
    "k8s.io.apimachinery.pkg.runtime.RawExtension",
}
PROTO_TYPES = {1: "double", 2: "float", 3: "int64", 4: "uint64", 5: "int32", 6: "fixed64", 7: "fixed32",
               8: "bool", 9: "string", 11: "message", 12: "bytes", 13: "uint32", 15: "sfixed32",
               16: "sfixed64", 17: "sint32", 18: "sint64"}
# Go reflect kinds
K_PTR, K_SLICE, K_STRUCT, K_MAP = 22, 23, 25, 21


# ---- ELF + Go runtime types ---------------------------------------------------------------------------

class GoBinary:
    def __init__(self, path: str) -> None:
        with open(path, "rb") as f:
            self.data = f.read()
        d = self.data
        if d[:4] != b"\x7fELF" or d[4] != 2:
            sys.exit(f"{path}: not a 64-bit ELF binary")
        shoff, = struct.unpack_from("<Q", d, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", d, 0x3A)
        raw = [struct.unpack_from("<IIQQQQ", d, shoff + i * shentsize) for i in range(shnum)]
        strtab = raw[shstrndx][4]
        self.sections = []
        for name, typ, _flags, addr, offset, size in raw:
            sname = d[strtab + name:d.index(b"\0", strtab + name)].decode()
            if addr and typ != 8:  # skip NOBITS (.bss)
                self.sections.append((sname, addr, offset, size))
        self.rodata = next(s for s in self.sections if s[0] == ".rodata")
        self.types_base = self.rodata[1]  # runtime.types starts .rodata in Go ELF binaries

    def off(self, va: int) -> int | None:
        for _n, addr, offset, size in self.sections:
            if addr <= va < addr + size:
                return offset + va - addr
        return None

    def name(self, va: int) -> tuple[int, str, str] | None:
        """A Go runtime `name`: flags byte, varint length, bytes, then (if flag 2) a varint-prefixed tag."""
        o = self.off(va)
        if o is None:
            return None
        d = self.data
        flags = d[o]
        n, o = _uvarint(d, o + 1)
        nm = d[o:o + n].decode("utf-8", "replace")
        o += n
        tag = ""
        if flags & 2:
            t, o = _uvarint(d, o)
            tag = d[o:o + t].decode("utf-8", "replace")
        return flags, nm, tag

    def type_str(self, va: int) -> tuple[int, str]:
        o = self.off(va)
        tflag, kind = self.data[o + 20], self.data[o + 23] & 0x1F
        stroff, = struct.unpack_from("<i", self.data, o + 40)
        nm = self.name(self.types_base + stroff)
        s = nm[1] if nm else "?"
        if tflag & 2:  # TFlagExtraStar
            s = s[1:]
        return kind, s

    def structs(self) -> dict[tuple[str, str], list[dict[str, Any]]]:
        """Every named struct type whose fields carry protobuf tags: (pkg path, "v1.Pod") -> fields."""
        _n, addr, o0, size = self.rodata
        d = self.data
        out: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for off in range(o0, o0 + size - 96, 8):
            if d[off + 23] & 0x1F != K_STRUCT:
                continue
            fp, fl, fc = struct.unpack_from("<QQQ", d, off + 56)
            if fl != fc or not 0 < fl < 400:
                continue
            fo = self.off(fp)
            if fo is None:
                continue
            fields = []
            try:
                for i in range(fl):
                    np_, tp, _foff = struct.unpack_from("<QQQ", d, fo + 24 * i)
                    nm = self.name(np_)
                    if nm is None or self.off(tp) is None:
                        raise ValueError
                    kind, tstr = self.type_str(tp)
                    fields.append({"name": nm[1], "tag": nm[2], "kind": kind, "type": tstr, "tva": tp})
            except (ValueError, struct.error, IndexError):
                continue
            if not any('protobuf:"' in f["tag"] for f in fields):
                continue
            if not d[off + 20] & 1:  # no uncommon type: not a named type
                continue
            pkg_off, = struct.unpack_from("<i", d, off + 80)
            pkg = self.name(self.types_base + pkg_off)
            _kind, tname = self.type_str(addr + off - o0)
            if pkg:
                out[(pkg[1], tname)] = fields
        return out

    def map_elem_kind(self, tva: int) -> int:
        o = self.off(tva)
        elem, = struct.unpack_from("<Q", self.data, o + 56)  # abi.MapType: Type, Key, Elem
        return self.type_str(elem)[0]

    def descriptors(self) -> list[bytes]:
        """The gzipped FileDescriptorProto blobs of k8s generated.proto files."""
        out = []
        for m in re.finditer(rb"\x1f\x8b\x08\x00\x00\x00\x00\x00", self.data):
            try:
                blob = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(self.data[m.start():m.start() + 4_000_000])
            except zlib.error:
                continue
            if b"generated.proto" in blob[:200]:
                out.append(blob)
        return out


def _uvarint(d: bytes, o: int) -> tuple[int, int]:
    v = s = 0
    while True:
        b = d[o]
        o += 1
        v |= (b & 0x7F) << s
        s += 7
        if b < 0x80:
            return v, o


# ---- descriptors --------------------------------------------------------------------------------------

def _str(b: bytes) -> str:
    return bytes(b).decode()


def parse_file(blob: bytes) -> dict[str, Any]:
    f: dict[str, Any] = {"name": "", "package": "", "go_package": "", "messages": []}
    for num, _wt, v in iter_fields(blob):
        if num == 1:
            f["name"] = _str(v)
        elif num == 2:
            f["package"] = _str(v)
        elif num == 4:
            f["messages"].append(parse_message(v))
        elif num == 8:
            for onum, _owt, ov in iter_fields(v):
                if onum == 11:
                    f["go_package"] = _str(ov)
    return f


def parse_message(blob: bytes) -> dict[str, Any]:
    m: dict[str, Any] = {"name": "", "fields": [], "nested": [], "map_entry": False}
    for num, _wt, v in iter_fields(blob):
        if num == 1:
            m["name"] = _str(v)
        elif num == 2:
            fd: dict[str, Any] = {"packed": False}
            for fnum, _fwt, fv in iter_fields(v):
                if fnum == 1:
                    fd["name"] = _str(fv)
                elif fnum == 3:
                    fd["number"] = fv
                elif fnum == 4:
                    fd["label"] = fv
                elif fnum == 5:
                    fd["type"] = fv
                elif fnum == 6:
                    fd["type_name"] = _str(fv).lstrip(".")
                elif fnum == 8:
                    fd["packed"] = any(o == 2 and ov for o, _w, ov in iter_fields(fv))
            m["fields"].append(fd)
        elif num == 3:
            m["nested"].append(parse_message(v))
        elif num == 7:
            m["map_entry"] = any(o == 7 and ov for o, _w, ov in iter_fields(v))
    return m


# ---- join ---------------------------------------------------------------------------------------------

def _json_tag(tag: str) -> tuple[str, bool, bool]:
    """-> (json name, omitempty, inline) from a Go struct tag."""
    m = re.search(r'json:"([^"]*)"', tag)
    parts = (m.group(1) if m else "").split(",")
    return parts[0], "omitempty" in parts[1:], "inline" in parts[1:]


def _proto_num(tag: str) -> int | None:
    m = re.search(r'protobuf:"[a-z0-9]+,(\d+),', tag)
    return int(m.group(1)) if m else None


def build(binary: GoBinary) -> dict[str, Any]:
    files = [parse_file(b) for b in binary.descriptors()]
    gostructs = binary.structs()
    messages: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}  # full name -> (message, file)
    for f in files:
        for m in f["messages"]:
            messages[f"{f['package']}.{m['name']}"] = (m, f)

    wanted_pkgs = {p.replace("/", ".") for p in PACKAGES}
    todo = [n for n, (_m, f) in messages.items() if f["package"] in wanted_pkgs]
    types: dict[str, dict[str, list[Any]]] = {}
    listwrappers: set[str] = set()
    problems: list[str] = []

    while todo:
        full = todo.pop()
        if full in types or full in SPECIAL:
            continue
        m, f = messages[full]
        gopkg = f["go_package"] or f["package"].replace(".", "/")
        gofields = gostructs.get((gopkg, f"{gopkg.rsplit('/', 1)[-1]}.{m['name']}"))
        nested = {f"{full}.{n['name']}": n for n in m["nested"]}
        if gofields is None:
            # A Go slice type with a proto message wrapper (type Verbs []string -> message {items}).
            if [fd["name"] for fd in m["fields"]] == ["items"] and m["fields"][0].get("label") == 3:
                listwrappers.add(full)
            elif m["fields"]:  # (an empty message like meta/v1 Patch has no tagged Go fields)
                problems.append(f"{full}: no Go struct found")
        by_num = {}
        for gf in gofields or ():
            n = _proto_num(gf["tag"])
            if n is not None:
                by_num[n] = gf
        out: dict[str, list[Any]] = {}
        for fd in m["fields"]:
            ptype = PROTO_TYPES.get(fd["type"])
            if ptype is None:
                problems.append(f"{full}.{fd['name']}: unsupported proto type {fd['type']}")
                continue
            repeated = fd.get("label") == 3
            elem = fd.get("type_name")
            gf = by_num.get(fd["number"])
            name, omitempty, inline = fd["name"], False, False
            gkind = None
            if gf is not None:
                jname, omitempty, inline = _json_tag(gf["tag"])
                gkind = gf["kind"]
                if jname == "-" and full not in SPECIAL:
                    continue
                if jname and jname != "-":
                    name = jname
            elif full not in listwrappers:
                problems.append(f"{full}.{fd['name']} ({fd['number']}): no Go field")
            kind = ptype
            if ptype == "message" and elem in nested and nested[elem]["map_entry"]:
                entry = nested[elem]
                kf = next(x for x in entry["fields"] if x["number"] == 1)
                vf = next(x for x in entry["fields"] if x["number"] == 2)
                if kf["type"] != 9:
                    problems.append(f"{full}.{fd['name']}: map key is not a string")
                vtype = PROTO_TYPES[vf["type"]]
                kind, elem, repeated = "map", (vf["type_name"] if vtype == "message" else vtype), False
                if vtype == "message":
                    todo.append(elem)
                presence = "p"
            else:
                if ptype == "message":
                    todo.append(elem)
                else:
                    elem = None
                if inline:
                    presence = "i"
                elif repeated or gkind in (K_PTR, K_MAP):
                    presence = "p"
                elif ptype == "message" or gkind == K_STRUCT:
                    presence = "a"  # value structs: encoding/json never omits them
                else:
                    presence = "o" if omitempty else "a"
            out[str(fd["number"])] = [name, kind, elem, repeated, presence]
        types[full] = out

    # Kinds: the structs that embed TypeMeta (what a client can send as a request body).
    kinds: dict[str, str] = {}
    for full, (m, f) in messages.items():
        gopkg = f["go_package"] or f["package"].replace(".", "/")
        gv = PACKAGES.get(gopkg)
        if gv is None or full not in types:
            continue
        gofields = gostructs.get((gopkg, f"{gopkg.rsplit('/', 1)[-1]}.{m['name']}")) or []
        if not any(gf["name"] == "TypeMeta" for gf in gofields):
            continue
        if gopkg == "k8s.io/apimachinery/pkg/apis/meta/v1":
            if m["name"] in META_ANY_VERSION:
                kinds[f"*/{m['name']}"] = full
        else:
            kinds[f"{gv}/{m['name']}"] = full
    if problems:
        print("\n".join(problems), file=sys.stderr)
    return {"types": dict(sorted(types.items())), "kinds": dict(sorted(kinds.items())),
            "listwrappers": sorted(listwrappers)}


def dump(table: dict[str, Any]) -> str:
    """One line per message: small, diffable."""
    lines = ["{", ' "comment": "generated by scripts/gen_protobuf_fields.py from kubectl v1.32: field number -> '
                  '[json name, kind, element type, repeated, presence (o=omitempty value, a=always, p=pointer/'
                  'list/map, i=inline)]",']
    lines.append(' "kinds": ' + json.dumps(table["kinds"], separators=(",", ":")) + ",")
    lines.append(' "listwrappers": ' + json.dumps(table["listwrappers"], separators=(",", ":")) + ",")
    lines.append(' "types": {')
    items = list(table["types"].items())
    for i, (name, fields) in enumerate(items):
        sep = "," if i < len(items) - 1 else ""
        lines.append(f"  {json.dumps(name)}: {json.dumps(fields, separators=(',', ':'))}{sep}")
    lines.append(" }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.realpath("/usr/bin/kubectl")
    sys.stdout.write(dump(build(GoBinary(path))))


if __name__ == "__main__":
    main()
