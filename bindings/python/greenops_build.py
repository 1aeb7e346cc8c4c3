"""The PEP 517 build backend of the greenops Python package, written with the standard library
only: `pip install ./bindings/python` needs nothing from a package index (pyproject.toml has
`requires = []`), so it works on a machine without network access.

It builds a pure-Python wheel (py3-none-any) of the `greenops` package, an sdist, and an
editable wheel whose .pth file puts this folder on sys.path. Name and version come from
pyproject.toml's [project] table.
"""

import base64
import hashlib
import io
import os
import re
import tarfile
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = "greenops"
TAG = "py3-none-any"


def _project():
    with open(os.path.join(HERE, "pyproject.toml"), "rb") as f:
        raw = f.read()
    try:
        import tomllib  # Python 3.11 and later

        return tomllib.loads(raw.decode())["project"]
    except ImportError:  # older Pythons: the few plain `key = "value"` lines of [project]
        project, inside = {}, False
        for line in raw.decode().splitlines():
            line = line.strip()
            if line.startswith("["):
                inside = line == "[project]"
            m = re.match(r'(\w[\w-]*)\s*=\s*"([^"]*)"$', line)
            if inside and m:
                project[m.group(1)] = m.group(2)
        return project


def _names():
    p = _project()
    name, version = p["name"], p["version"]
    return p, re.sub(r"[-_.]+", "_", name).lower(), version


def _metadata():
    p, _, version = _names()
    lines = ["Metadata-Version: 2.1", f"Name: {p['name']}", f"Version: {version}"]
    if p.get("description"):
        lines.append(f"Summary: {p['description']}")
    if p.get("requires-python"):
        lines.append(f"Requires-Python: {p['requires-python']}")
    return "\n".join(lines) + "\n"


def _package_files():
    """(path in the archive, path on disk) of every .py file of the package, sorted."""
    out = []
    for root, dirs, files in os.walk(os.path.join(HERE, PACKAGE)):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for f in sorted(files):
            if f.endswith(".py"):
                disk = os.path.join(root, f)
                out.append((os.path.relpath(disk, HERE).replace(os.sep, "/"), disk))
    return out


def _record_hash(data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def _write_wheel(wheel_directory, contents):
    """contents: [(archive path, bytes)]; adds the .dist-info files and RECORD."""
    _, dist, version = _names()
    info = f"{dist}-{version}.dist-info"
    wheel_meta = f"Wheel-Version: 1.0\nGenerator: greenops_build\nRoot-Is-Purelib: true\nTag: {TAG}\n"
    contents = list(contents) + [
        (f"{info}/METADATA", _metadata().encode()),
        (f"{info}/WHEEL", wheel_meta.encode()),
    ]
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in contents)
    record += f"{info}/RECORD,,\n"
    contents.append((f"{info}/RECORD", record.encode()))
    name = f"{dist}-{version}-{TAG}.whl"
    os.makedirs(wheel_directory, exist_ok=True)
    stamp = _stamp()
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w", zipfile.ZIP_DEFLATED) as z:
        for path, data in contents:
            zi = zipfile.ZipInfo(path, date_time=stamp)
            zi.external_attr = 0o644 << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)
    return name


def _stamp():
    """Archive times: SOURCE_DATE_EPOCH where set (reproducible builds), else now."""
    t = int(os.environ.get("SOURCE_DATE_EPOCH", time.time()))
    return time.gmtime(max(t, 315532800))[:6]  # zip cannot store times before 1980


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    contents = []
    for arc, disk in _package_files():
        with open(disk, "rb") as f:
            contents.append((arc, f.read()))
    return _write_wheel(wheel_directory, contents)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    _, dist, _ = _names()
    return _write_wheel(wheel_directory, [(f"_{dist}_editable.pth", (HERE + "\n").encode())])


def build_sdist(sdist_directory, config_settings=None):
    _, dist, version = _names()
    base = f"{dist}-{version}"
    name = f"{base}.tar.gz"
    files = [("pyproject.toml", os.path.join(HERE, "pyproject.toml")),
             ("greenops_build.py", os.path.join(HERE, "greenops_build.py"))] + _package_files()
    os.makedirs(sdist_directory, exist_ok=True)
    mtime = int(os.environ.get("SOURCE_DATE_EPOCH", time.time()))

    def add(tar, arc, data):
        ti = tarfile.TarInfo(f"{base}/{arc}")
        ti.size, ti.mtime, ti.mode = len(data), mtime, 0o644
        tar.addfile(ti, io.BytesIO(data))

    with tarfile.open(os.path.join(sdist_directory, name), "w:gz", format=tarfile.PAX_FORMAT) as tar:
        add(tar, "PKG-INFO", _metadata().encode())
        for arc, disk in files:
            with open(disk, "rb") as f:
                add(tar, arc, f.read())
    return name
