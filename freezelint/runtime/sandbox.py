"""Where a replay runs: never in the linting process; in a child process, behind an audit hook and, where the kernel
allows it, below Python too.

On Linux the linting process (torch already imported) forks a supervisor, and the supervisor forks the replay:

    freezelint ── supervisor ── replay (runs the script)

* The supervisor enters new user, mount, network, PID, IPC and UTS namespaces (`unshare`), makes the whole file
  system read-only for what it starts, and mounts an empty tmpfs on the replay's private temporary directory. The
  replay is process 1 of the new PID namespace: when it ends, the kernel ends every process it started, whatever
  `setsid` they called. Its network namespace has no interface but a loopback that is down.
* The replay drops every capability, sets `PR_SET_NO_NEW_PRIVS`, limits its CPU seconds, address space and file size
  (no core files), points TMPDIR and the caches it may write at its private directory, writes no bytecode, and
  installs the audit hook (`freezelint.runtime.audit`) before the script's first line runs.
* The supervisor is a child subreaper: whatever the replay started that outlived its parent becomes the supervisor's
  child, and every descendant is killed before the supervisor leaves, namespaces or not.
* A time limit, Ctrl-C or `kill` of freezelint stops the supervisor, which kills the replay and all it started.

When the kernel refuses the namespaces (some CI runners do), or `FREEZELINT_SANDBOX=audit-only` asks for it, the
replay runs without them: the audit hook, the resource limits and the process-tree cleanup still hold. Elsewhere
(macOS, Windows) a fresh interpreter is spawned with the audit hook and, where Python has them, the resource limits.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

ENVIRONMENT = "FREEZELINT_SANDBOX"  # "audit-only": no namespaces, as on a kernel that refuses them
FIELD = "\x1f"  # the same separator the audit hook writes its records with
NAMESPACES = "namespaces"
FILE_SIZE_LIMIT = 64 << 20  # bytes, for any file the replay writes (in its private directory)
PRIVATE_SIZE = "256m"  # the private directory's tmpfs
ADDRESS_SPACE = 16 << 30  # bytes of virtual memory on the meta device (thread stacks and arenas need a few GB)
STOP_GRACE = 10.0  # seconds the supervisor gets to clean up after being told to stop
CACHE_VARIABLES = ("HF_DATASETS_CACHE", "TRITON_CACHE_DIR", "TORCHINDUCTOR_CACHE_DIR", "MPLCONFIGDIR", "NUMBA_CACHE_DIR")


@dataclass
class Outcome:
    """What came back from one sandboxed run."""

    result: dict[str, Any] | None = None  # what the job returned
    error: str | None = None  # why there is no result
    refusals: list[dict[str, Any]] = field(default_factory=list)  # audit records, in order
    isolation: str = ""  # NAMESPACES, or why the replay ran without them


def isolation_wanted() -> bool:
    return os.environ.get(ENVIRONMENT, "").strip().lower() not in ("audit-only", "audit", "none")


def run(
    job: Callable[[], dict[str, Any]],
    script: str,
    timeout: float,
    *,
    audit: bool = True,
    address_space: int | None = ADDRESS_SPACE,
) -> Outcome:
    """Run `job` (a replay of `script`) in a forked, isolated process and return what it sent back (Linux).
    `audit=False` leaves the audit hook out: only the tests of the kernel layer use it."""
    private = tempfile.mkdtemp(prefix="freezelint-replay-")
    log = tempfile.TemporaryFile(prefix="freezelint-replay-log-")
    read_end, write_end = os.pipe()
    parent = os.getpid()
    supervisor = os.fork()
    if supervisor == 0:  # pragma: no cover - runs in the child
        os.close(read_end)
        _supervise(job, script, private, write_end, log.fileno(), parent, timeout, audit, address_space)
    os.close(write_end)

    def stop() -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(supervisor, signal.SIGTERM)

    try:
        return _collect(read_end, timeout, stop, log, lambda: _reap(supervisor))
    finally:
        os.close(read_end)
        log.close()
        shutil.rmtree(private, ignore_errors=True)


def spawn(request_json: str, script: str, timeout: float) -> Outcome:
    """Replay in a freshly started interpreter (`python -m freezelint.runtime.sandbox`): where fork is not an option."""
    private = tempfile.mkdtemp(prefix="freezelint-replay-")
    log = tempfile.TemporaryFile(prefix="freezelint-replay-log-")
    # Started in the empty private directory: `-m` puts the working directory first on the import path, and the
    # project's own `torch.py` (or `freezelint/`) must not be what gets imported.
    process = subprocess.Popen(
        [sys.executable, "-m", "freezelint.runtime.sandbox", private, str(timeout), os.getcwd()],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, cwd=private, start_new_session=os.name == "posix",
    )
    assert process.stdin is not None and process.stdout is not None
    with contextlib.suppress(BrokenPipeError):
        process.stdin.write(request_json.encode("utf-8"))
        process.stdin.close()

    def stop() -> None:
        if os.name == "posix":
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        process.kill()

    def reap() -> int:
        try:
            return process.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            stop()
            return process.wait()

    try:
        return _collect(process.stdout.fileno(), timeout, stop, log, reap)
    finally:
        process.stdout.close()
        log.close()
        shutil.rmtree(private, ignore_errors=True)


# --- the linting process: collecting what the sandbox sends ------------------------------------------------------


def _collect(fd: int, timeout: float, stop: Callable[[], None], log: Any, reap: Callable[[], int]) -> Outcome:
    """Read the child's records until it closes the pipe or the time runs out; stop it on a timeout or an interrupt
    (Ctrl-C raises here), and always wait for it."""
    chunks: list[bytes] = []

    def read() -> None:
        with contextlib.suppress(OSError):
            while chunk := os.read(fd, 1 << 16):
                chunks.append(chunk)

    reader = threading.Thread(target=read, name="freezelint-sandbox-reader", daemon=True)
    reader.start()
    finished = False
    status = 0
    try:
        reader.join(timeout)
        finished = not reader.is_alive()
    finally:
        if not finished:
            stop()
        status = reap()
        reader.join(STOP_GRACE)
    outcome = _parse(b"".join(chunks).decode("utf-8", "replace"))
    if not finished:
        outcome.result = None
        outcome.error = f"the replay did not finish within {timeout:g} s (raise the limit with --timeout)"
    elif outcome.result is None and outcome.error is None:
        log.seek(0)
        tail = [line for line in log.read().decode("utf-8", "replace").splitlines() if line.strip()][-1:]
        cause = _death_cause(status)
        outcome.error = f"the replay process died ({cause})" + (f": {tail[0].strip()}" if tail else "")
    return outcome


def _parse(text: str) -> Outcome:
    from freezelint.runtime.audit import parse_record

    outcome = Outcome()
    for line in text.splitlines():
        kind, _, rest = line.partition(FIELD)
        if kind == "refused":
            record = parse_record(line)
            if record is not None:
                outcome.refusals.append(record)
        elif kind == "isolation":
            outcome.isolation = rest
        elif kind == "result":
            try:
                outcome.result = json.loads(rest)
            except ValueError:
                outcome.error = "the replay sent back a result that is not JSON"
        elif kind == "error":
            outcome.error = rest
    return outcome


def _death_cause(status: int) -> str:
    if status < 0:
        with contextlib.suppress(ValueError):
            name = signal.Signals(-status).name
            hints = {"SIGXCPU": "its CPU time limit", "SIGXFSZ": f"a file over {FILE_SIZE_LIMIT >> 20} MB"}
            return f"signal {name}" + (f": {hints[name]}" if name in hints else "")
        return f"signal {-status}"
    return "no result"


def _reap(pid: int) -> int:
    """Wait for the supervisor (it cleans up first); kill it when it takes too long. Returns the replay's status as
    the supervisor reported it (a negative signal number when the replay was killed)."""
    import time

    deadline = time.monotonic() + STOP_GRACE
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            return -(code - 128) if code > 128 else code
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return -signal.SIGKILL
        time.sleep(0.005)


# --- the supervisor ------------------------------------------------------------------------------------------------


class _Stop(Exception):
    pass


def _stop_handler(number: int, frame: object) -> None:
    raise _Stop(number)


def _supervise(
    job: Callable[[], dict[str, Any]], script: str, private: str, pipe: int, log_fd: int, parent: int,
    timeout: float, audit: bool, address_space: int | None,
) -> None:  # pragma: no cover - runs in the child
    """The supervisor's whole life: isolate, start the replay, wait, kill everything left, leave."""
    replay_status = 0
    try:
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(number, _stop_handler)
        os.setpgid(0, 0)  # Ctrl-C reaches freezelint, which stops this; not the script
        kernel = Kernel()
        kernel.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # freezelint already gone
            return
        kernel.prctl(PR_SET_CHILD_SUBREAPER, 1)
        if isolation_wanted():
            why_not = kernel.isolate(private)
        else:
            why_not = f"{ENVIRONMENT}=audit-only"
        _send(pipe, "isolation", why_not or NAMESPACES)
        replay = os.fork()
        if replay == 0:
            _replay(job, script, private, pipe, log_fd, timeout, audit, address_space, kernel)
        os.close(pipe)
        try:
            _, status = os.waitpid(replay, 0)
            code = os.waitstatus_to_exitcode(status)
            replay_status = 128 - code if code < 0 else code
        except _Stop:
            with contextlib.suppress(ProcessLookupError):
                os.kill(replay, signal.SIGKILL)
    except BaseException:  # noqa: BLE001 - the supervisor must reach its cleanup whatever happens
        pass
    finally:
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(number, signal.SIG_IGN)
        kill_descendants()
        os._exit(replay_status)


def kill_descendants() -> None:
    """Kill every process below this one and reap it. Orphans of the replay are this process's children (it is a
    subreaper), so a process that called `setsid` or forked twice is found too."""
    me = os.getpid()
    for _ in range(100):
        below = _descendants(me)
        for pid in below:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
        if not below:
            return


def _descendants(root: int) -> list[int]:
    """Process ids below `root`, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 1:
            children.setdefault(int(fields[1]), []).append(int(entry))
    found: list[int] = []
    work = [root]
    while work:
        for child in children.get(work.pop(), []):
            found.append(child)
            work.append(child)
    return found


# --- the replay process --------------------------------------------------------------------------------------------


def _replay(
    job: Callable[[], dict[str, Any]], script: str, private: str, pipe: int, log_fd: int, timeout: float,
    audit: bool, address_space: int | None, kernel: Kernel,
) -> None:  # pragma: no cover - runs in the child
    try:
        kernel.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(number, signal.SIG_DFL)
        _redirect(log_fd, pipe)
        kernel.drop_privileges()
        limit_resources(timeout, address_space)
        confine_python(private)
        if audit:
            from freezelint.runtime.audit import install

            install(private, script, pipe)
        result = job()
        _send(pipe, "result", json.dumps(result))
    except BaseException as error:  # noqa: BLE001 - the one-line error of this file
        with contextlib.suppress(BaseException):
            _send(pipe, "error", _one_line(error))
    finally:
        os._exit(0)


def _redirect(log_fd: int, keep: int) -> None:
    """No terminal: stdin is empty, stdout and stderr go to the log (its last line explains a crash), and no other
    descriptor freezelint had open stays open but `keep` (the pipe)."""
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.closerange(3, keep)
    os.closerange(keep + 1, 1 << 16)


def limit_resources(timeout: float, address_space: int | None) -> None:
    """CPU seconds (a little over the time limit), address space, file size; no core files."""
    try:
        import resource
    except ImportError:  # Windows
        return
    seconds = int(timeout) + 5
    limits = [
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_CPU, seconds),
        (resource.RLIMIT_FSIZE, FILE_SIZE_LIMIT),
    ]
    if address_space is not None and hasattr(resource, "RLIMIT_AS"):
        limits.append((resource.RLIMIT_AS, address_space))
    for which, value in limits:
        soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(which, (value, value if which != resource.RLIMIT_CPU else value + 5))


def confine_python(private: str) -> None:
    """What Python itself would otherwise write outside the private directory: bytecode caches, temporary files,
    library caches."""
    sys.dont_write_bytecode = True
    os.environ["TMPDIR"] = private
    tempfile.tempdir = private
    for name in CACHE_VARIABLES:
        os.environ[name] = os.path.join(private, name.lower())


def _send(pipe: int, kind: str, text: str) -> None:
    data = (kind + FIELD + text.replace("\n", " ") + "\n").encode("utf-8", "replace")
    while data:
        written = os.write(pipe, data)
        data = data[written:]


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


# --- the kernel (Linux) -------------------------------------------------------------------------------------------

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 1, 24, 36, 38
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
MS_NOSUID, MS_NODEV, MS_PRIVATE = 0x2, 0x4, 1 << 18
MOUNT_ATTR_RDONLY, MOUNT_ATTR_NOSUID = 0x1, 0x2
AT_FDCWD, AT_RECURSIVE = -100, 0x8000
SYS_MOUNT_SETATTR = 442  # the same number on every architecture (new system calls share one table)
CAPABILITY_VERSION_3 = 0x20080522


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64), ("propagation", ctypes.c_uint64),
                ("userns_fd", ctypes.c_uint64)]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


class Kernel:
    """The few Linux system calls the sandbox needs, through libc (`os.unshare` exists only from Python 3.12)."""

    def __init__(self) -> None:
        self.libc = ctypes.CDLL(None, use_errno=True)

    def _call(self, what: str, result: int) -> None:
        if result != 0:
            number = ctypes.get_errno()
            raise OSError(number, f"{what}: {os.strerror(number)}")

    def prctl(self, option: int, value: int) -> None:
        self._call("prctl", self.libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0))

    def isolate(self, private: str) -> str | None:
        """Enter new namespaces: user (to be allowed the others), mount (read-only, a tmpfs at `private`), network,
        PID, IPC and UTS. None when all of it held, else what the kernel refused."""
        uid, gid = os.getuid(), os.getgid()
        flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
        try:
            self._call("unshare", self.libc.unshare(flags))
            for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
                with open(f"/proc/self/{name}", "w") as handle:
                    handle.write(text)
            attributes = _MountAttr(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0, MS_PRIVATE, 0)
            self._call(
                "mount_setattr",
                self.libc.syscall(SYS_MOUNT_SETATTR, AT_FDCWD, b"/", AT_RECURSIVE, ctypes.byref(attributes),
                                  ctypes.sizeof(attributes)),
            )
            options = f"size={PRIVATE_SIZE},mode=0700,uid={uid},gid={gid}".encode()
            self._call("mount tmpfs", self.libc.mount(b"tmpfs", os.fsencode(private), b"tmpfs", MS_NOSUID | MS_NODEV,
                                                      options))
        except OSError as error:
            return error.strerror or str(error)
        return None

    def drop_privileges(self) -> None:
        """No capability, now or after an exec, and no setuid program can give one back."""
        for capability in range(64):
            if self.libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0 and ctypes.get_errno() == errno.EINVAL:
                break  # past the last capability this kernel knows
        self.libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
        header = _CapHeader(CAPABILITY_VERSION_3, 0)
        data = (_CapData * 2)()
        self.libc.capset(ctypes.byref(header), data)
        self.prctl(PR_SET_NO_NEW_PRIVS, 1)


# --- the spawned replay (`python -m freezelint.runtime.sandbox PRIVATE TIMEOUT CWD`, the request on stdin) -------


def _spawned_main() -> None:  # pragma: no cover - runs in the spawned interpreter
    private, timeout, working_directory = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    if sys.path and os.path.realpath(sys.path[0] or ".") == os.path.realpath(private):
        del sys.path[0]
    os.chdir(working_directory)
    request_json = sys.stdin.read()
    pipe = os.dup(1)
    _redirect(2, pipe)
    try:
        limit_resources(timeout, ADDRESS_SPACE)
        confine_python(private)
        from freezelint.runtime.replay import Request, prepare_libraries, replay_sandboxed

        request = Request.from_json(request_json)
        _send(pipe, "isolation", "a spawned interpreter (no namespaces on this system)")
        prepared = prepare_libraries(request)
        from freezelint.runtime.audit import install

        install(private, prepared.path, pipe)
        _send(pipe, "result", json.dumps(replay_sandboxed(request, prepared)))
    except BaseException as error:  # noqa: BLE001
        with contextlib.suppress(BaseException):
            _send(pipe, "error", _one_line(error))
    finally:
        os._exit(0)


if __name__ == "__main__":  # pragma: no cover
    _spawned_main()
