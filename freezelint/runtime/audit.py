"""The replay's audit hook: what a replayed script may not do, refused by event rather than by the name it was called by.

CPython reports every process start, native library load, socket, file opened for writing, deletion, rename,
unpickled class... to audit hooks (PEP 578), whichever way the script reached it: `__import__("subprocess")`,
`vars(os)["system"]`, `codecs.open`, a library function, a local module imported for a constant, a method of one of
the script's classes. `install` adds the hook to the replay's own process (never the linting process), before any of
the script's code runs. It cannot be removed and has no switch: it reads no global name and no closure cell
(everything it uses is a default argument, and changing its `__defaults__` or `__code__` is an event it refuses).

A refused event raises `Refused` (a BaseException: `except Exception` in the script does not swallow it) and is also
written at once to the result pipe, so the report names the line and the event even when the script catches it.

Audit hooks are not a boundary on their own (native code the hook never sees, and bugs in CPython, get round them):
the sandbox adds kernel isolation below this where it can (`freezelint.runtime.sandbox`).
"""

from __future__ import annotations

import os
import sys
import types
from typing import Any, Callable

# What each refused event means, for the report.
START_PROCESS = "start a process"
LOAD_NATIVE = "load native code"
NETWORK = "use the network"
SIGNAL = "signal another process"
UNPICKLE = "unpickle an object (pickle can run any code)"
INSPECT = "search the interpreter's objects"
WRITE = "change the file system outside its private temporary directory"
TAMPER = "change freezelint's audit hook"
DEVICE = "control a device"

REFUSED_EVENTS: dict[str, str] = {
    **dict.fromkeys(
        ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
         "os.startfile", "_posixsubprocess.fork_exec", "pty.spawn", "webbrowser.open"),
        START_PROCESS,
    ),
    **dict.fromkeys(
        ("ctypes.dlopen", "ctypes.dlsym", "ctypes.dlsym/handle", "ctypes.cdata", "sqlite3.enable_load_extension",
         "sqlite3.load_extension"),
        LOAD_NATIVE,
    ),
    **dict.fromkeys(
        ("socket.__new__", "socket.bind", "socket.connect", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo",
         "socket.gethostbyname", "socket.gethostbyname_ex", "socket.gethostbyaddr", "socket.getnameinfo",
         "socket.sethostname"),
        NETWORK,
    ),
    **dict.fromkeys(("os.kill", "os.killpg", "signal.pthread_kill", "os.pidfd_open"), SIGNAL),
    "pickle.find_class": UNPICKLE,
    **dict.fromkeys(("gc.get_objects", "gc.get_referrers", "gc.get_referents"), INSPECT),
    **dict.fromkeys(("os.symlink", "os.link"), WRITE),  # a link inside the private directory could point anywhere
    **dict.fromkeys(("fcntl.ioctl",), DEVICE),  # TIOCSTI types commands into the terminal freezelint runs in
    **dict.fromkeys(("syslog.openlog", "syslog.syslog"), WRITE),
}
# Events that change the file system: allowed when every path they name lies in the private directory (and they use
# no directory descriptor, which the event does not show). Positions of the paths and of the descriptors in the args.
PATH_EVENTS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "os.remove": ((0,), (1,)),
    "os.rmdir": ((0,), (1,)),
    "os.mkdir": ((0,), (2,)),
    "os.chmod": ((0,), (2,)),
    "os.chown": ((0,), (3,)),
    "os.truncate": ((0,), ()),
    "os.utime": ((0,), (3,)),
    "os.rename": ((0, 1), (2, 3)),
    "os.setxattr": ((0,), ()),
    "os.removexattr": ((0,), ()),
    "os.chflags": ((0,), ()),
    "os.lchflags": ((0,), ()),
    "os.mkfifo": ((0,), ()),  # raised by the stand-ins `disable_unaudited` puts in place
    "os.mknod": ((0,), ()),
    "shutil.rmtree": ((0,), (1,)),
    "sqlite3.connect": ((0,), ()),
}
# Modules whose functions `disable_unaudited` replaced: importing them afresh would bring the originals back.
NOT_REIMPORTED = frozenset({"_posixsubprocess", "posix"})
# Native extension modules load from the Python installation only, never from the project or a temporary directory.
NATIVE_SUFFIXES = (".so", ".pyd", ".dylib", ".dll")
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
FIELD = "\x1f"  # separates the fields of a refusal record (a control character no path or event name holds)


class Refused(BaseException):
    """The replayed script tried something the sandbox refuses."""

    def __init__(self, event: str, line: int, origin: str, detail: str) -> None:
        super().__init__(f"freezelint's sandbox refused {event} at line {line}")
        self.event = event
        self.line = line
        self.origin = origin
        self.detail = detail


def _hook(
    event: str,
    args: tuple[Any, ...],
    _refused: dict[str, str] = {},  # noqa: B006 - read only; filled by `make_hook`
    _paths: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {},  # noqa: B006
    _private: str = "",
    _script: str = "",
    _project: str = "",
    _trusted: tuple[str, ...] = (),
    _fd: int = -1,
    _getframe: Any = None,
    _write: Any = None,
    _repr: Any = None,
    _len: Any = None,
    _type: Any = None,
    _Refused: Any = None,  # noqa: N803
    _function: Any = None,
    _not_reimported: frozenset[str] = frozenset(),
    _native: tuple[str, ...] = (),
    _write_flags: int = 0,
    _field: str = "",
    _builtins: tuple[Any, ...] = (),
    _stat: Any = None,
) -> None:
    """The audit hook (a template: `make_hook` binds its defaults). It reads nothing but its arguments: no global
    name, no builtin, no closure, so the script can change nothing it relies on."""
    _int, _str, _bytes, _bool, _list, _tuple, _OSError = _builtins  # noqa: N806
    if event == "open":
        path, flags = args[0], args[2]
        if _type(flags) is _int and not flags & _write_flags:
            return
        if _type(path) is _int:  # a descriptor already open
            return
        paths: list[Any] = [path]
        dir_fds: list[Any] = []
    elif event in _paths:
        positions, fd_positions = _paths[event]
        paths, dir_fds = [], []
        for i in positions:
            paths.append(args[i])
        for i in fd_positions:
            if i < _len(args):
                dir_fds.append(args[i])
        if event == "sqlite3.connect" and _type(paths[0]) is _str and paths[0] in (":memory:", ""):
            return
        if event == "os.mkdir" and (_type(paths[0]) is _str or _type(paths[0]) is _bytes):
            try:  # `os.makedirs(out, exist_ok=True)` of a directory that exists changes nothing
                if _stat(paths[0]).st_mode & 0o170000 == 0o040000:
                    return
            except _OSError:
                pass
    elif event == "import":
        name: Any = args[0]
        filename: Any = args[1] if _len(args) > 1 else None
        if _type(name) is _str and name in _not_reimported:
            pass
        elif _type(filename) is _str and filename.endswith(_native) and not filename.startswith(_trusted):
            pass
        else:
            return
        paths, dir_fds = [], []
    elif event in ("object.__setattr__", "object.__delattr__"):
        target = args[0]
        if not (_type(target) is _function and target.__code__ is _getframe(0).f_code):
            return
        paths, dir_fds = [], []
    elif event in _refused:
        paths, dir_fds = [], []
    else:
        return
    if event == "open" or event in _paths:
        allowed = True
        for fd in dir_fds:
            if not (fd is None or (_type(fd) is _int and fd == -1)):
                allowed = False
        for path in paths:
            if _type(path) is _bytes:
                path = path.decode("utf-8", "surrogateescape")
            if _type(path) is not _str:
                allowed = False
            elif path == "/dev/null":
                continue
            elif not (path == _private or path.startswith(_private + "/")) or ".." in path.split("/"):
                allowed = False
        if allowed:
            return
    # Refused: where in the script, and which file of the project if the call came from another one.
    line, origin = 0, ""
    frame = _getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename == _script:
            line = frame.f_lineno
            break
        if not origin and _type(filename) is _str and filename.startswith(_project):
            origin = filename[_len(_project):] + ":" + _repr(frame.f_lineno)
        frame = frame.f_back
    parts = []
    for value in args[:3]:
        kind = _type(value)
        if kind is _str or kind is _bytes or kind is _int or kind is _bool or value is None:
            parts.append(_repr(value)[:160])
        elif kind is _list or kind is _tuple:
            plain = True
            for item in value:
                if not (_type(item) is _str or _type(item) is _bytes):
                    plain = False
            parts.append(_repr(value)[:160] if plain else "...")
        else:
            parts.append("...")
    detail = ", ".join(parts).replace("\n", " ").replace(_field, " ")
    record = _field.join(("refused", event, _repr(line), origin.replace(_field, " "), detail)) + "\n"
    try:
        _write(_fd, record.encode("utf-8", "replace"))
    except _OSError:
        pass  # the pipe is gone: the refusal itself still stands
    raise _Refused(event, line, origin, detail)


def make_hook(private: str, script: str, fd: int) -> Callable[[str, tuple[Any, ...]], None]:
    """The hook for one replay: writes only under `private`, line numbers from `script`, refusals written to `fd`."""
    project = os.path.dirname(script) + os.sep
    trusted = tuple(
        sorted({os.path.realpath(p) + os.sep for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, *_site_dirs())})
    )
    defaults = (
        dict(REFUSED_EVENTS), dict(PATH_EVENTS), os.path.realpath(private), script, project, trusted, fd,
        sys._getframe, os.write, repr, len, type, Refused, types.FunctionType, NOT_REIMPORTED, NATIVE_SUFFIXES,
        WRITE_FLAGS, FIELD, (int, str, bytes, bool, list, tuple, OSError), os.stat,
    )
    # A fresh function over the template's code: its globals are an empty dict it never reads.
    return types.FunctionType(_hook.__code__, {}, "freezelint_audit_hook", defaults)


def _site_dirs() -> list[str]:
    import site

    found = [*site.getsitepackages(), site.getusersitepackages()]
    return [p for p in found if p]


def parse_record(line: str) -> dict[str, Any] | None:
    """A refusal record written by the hook, as a dict (None for any other line)."""
    fields = line.rstrip("\n").split(FIELD)
    if len(fields) != 5 or fields[0] != "refused":
        return None
    _, event, line_number, origin, detail = fields
    return {
        "event": event,
        "line": int(line_number) if line_number.isdigit() else 0,
        "origin": origin,
        "detail": detail,
        "what": meaning(event),
    }


def meaning(event: str) -> str:
    """What a refused event means, for the report: "start a process"."""
    if event in REFUSED_EVENTS:
        return REFUSED_EVENTS[event]
    if event in PATH_EVENTS or event == "open":
        return WRITE
    if event == "import":
        return LOAD_NATIVE
    if event.startswith("object."):
        return TAMPER
    return "do what the sandbox refuses"


def disable_unaudited() -> None:
    """Replace the functions that change the system without raising an audit event on this Python (starting a process
    through `_posixsubprocess.fork_exec`, CPython gh-115322; `os.mkfifo`, `os.mknod`; `os.pidfd_open`, a way to signal
    any process without `os.kill`) with stand-ins that raise one
    (which the hook refuses). The originals are dropped wherever a loaded module holds them, and re-importing their
    modules is refused, so the script cannot reach them again."""
    replaced: dict[int, Callable[..., Any]] = {}
    try:
        import _posixsubprocess

        replaced[id(_posixsubprocess.fork_exec)] = _raising("_posixsubprocess.fork_exec")
    except ImportError:  # not POSIX
        pass
    for name in ("mkfifo", "mknod", "pidfd_open"):  # pidfd_open: a descriptor to signal any process through
        original = getattr(os, name, None)
        if original is not None:
            replaced[id(original)] = _raising(f"os.{name}")
    for module in list(sys.modules.values()):
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        for key, value in list(namespace.items()):
            stand_in = replaced.get(id(value))
            if stand_in is not None:
                namespace[key] = stand_in


def _raising(event: str) -> Callable[..., Any]:
    def refused(*args: Any, **kwargs: Any) -> Any:
        sys.audit(event, *args[:1])
        raise PermissionError(f"{event} is disabled in freezelint's replay")

    refused.__name__ = event.rsplit(".", 1)[-1]
    return refused


def install(private: str, script: str, fd: int) -> None:
    """Audit the rest of this process's life: the replay of `script`. Irrevocable."""
    disable_unaudited()
    sys.addaudithook(make_hook(private, script, fd))
