"""The on-disk cache of compiled kernels.

An entry is <key>.so (the layer) and <key>.json (what it was built from and
the SHA-256 of the .so), under $SEQMIX_CACHE_DIR, else
$XDG_CACHE_HOME/seqmix/kernels, else ~/.cache/seqmix/kernels. The key hashes
the compiler's identity (its version and the library file's size and mtime,
so a rebuilt compiler misses), the canonical spec, the options, the cost and
schedule files they name (by content), and the target CPU (for "host", this
machine's /proc/cpuinfo model and flags).

Writes are atomic (a temporary file in the same directory, renamed), so two
processes compiling the same spec both succeed and a reader never sees half
a file. An entry whose record is unreadable, names another key, or whose
.so is missing, of another size or another digest is rebuilt, never loaded.
"""
import hashlib
import json
import os
import pathlib
import tempfile

FORMAT = 1


def cache_dir():
    env = os.environ.get("SEQMIX_CACHE_DIR")
    if env:
        return pathlib.Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = pathlib.Path(xdg) if xdg else pathlib.Path.home() / ".cache"
    return base / "seqmix" / "kernels"


def _file_digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


_host_cpu = None


def host_cpu_id():
    """This machine's CPU model and feature flags (what "host" compiles
    for), hashed."""
    global _host_cpu
    if _host_cpu is None:
        model, flags = "", ""
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    k, _, v = line.partition(":")
                    k = k.strip()
                    if k == "model name" and not model:
                        model = v.strip()
                    elif k in ("flags", "Features") and not flags:
                        flags = v.strip()
                    if model and flags:
                        break
        except OSError:
            pass
        import platform
        _host_cpu = hashlib.sha256(
            f"{platform.machine()}|{model}|{flags}".encode()).hexdigest()[:16]
    return _host_cpu


def make_key(compiler_id, spec_text, options):
    """The cache key of (compiler, spec, options, target CPU)."""
    parts = {"format": FORMAT, "compiler": compiler_id}
    try:
        parts["spec"] = json.loads(spec_text)
    except ValueError:
        parts["spec_text"] = spec_text
    opts = dict(options)
    for name in ("cost_model", "schedule"):
        if opts.get(name):
            try:
                opts[name + "_sha256"] = _file_digest(opts[name])
            except OSError:
                pass
    if "cost_model" not in opts and os.environ.get("SEQMIX_COST_MODEL"):
        env = os.environ["SEQMIX_COST_MODEL"]
        opts["env_cost_model"] = env
        try:
            opts["env_cost_model_sha256"] = _file_digest(env)
        except OSError:
            pass
    if opts.get("target_cpu", "host") == "host":
        opts["host_cpu"] = host_cpu_id()
    parts["options"] = opts
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def lookup(key, directory=None):
    """The path of a valid cached .so for `key`, or None."""
    d = pathlib.Path(directory) if directory else cache_dir()
    so, record = d / f"{key}.so", d / f"{key}.json"
    try:
        with open(record) as f:
            meta = json.load(f)
        if (not isinstance(meta, dict) or meta.get("format") != FORMAT
                or meta.get("key") != key):
            return None
        if so.stat().st_size != meta.get("size"):
            return None
        if _file_digest(so) != meta.get("sha256"):
            return None
    except (OSError, ValueError):
        return None
    return so


def store(key, build, info, directory=None):
    """Builds the entry for `key` with `build(path)` (which writes a .so at
    path) and returns its final path. Atomic: built beside, then renamed."""
    d = pathlib.Path(directory) if directory else cache_dir()
    d.mkdir(parents=True, exist_ok=True)
    so, record = d / f"{key}.so", d / f"{key}.json"
    fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".so", dir=d)
    os.close(fd)
    try:
        build(tmp)
        digest, size = _file_digest(tmp), os.path.getsize(tmp)
        os.replace(tmp, so)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    meta = dict(info, format=FORMAT, key=key, sha256=digest, size=size)
    fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".json", dir=d)
    with os.fdopen(fd, "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
    os.replace(tmp, record)
    return so
