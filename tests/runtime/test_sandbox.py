"""The sandbox holds what the README promises, with and without namespaces (`FREEZELINT_SANDBOX=audit-only` forces
what a kernel that refuses them gets).

Every escape is a script whose model name depends on it (so the slice runs it), replayed by `freezelint --runtime` as a
user runs it; afterwards nothing may have happened: no file created or changed, nothing received by a listener on this
machine, no process left. And each one is named in the report, by line and event.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
from cli_helpers import ROOT, run_cli
from figures import count
from runtime_support import tiny  # noqa: F401 - fixture

from freezelint.runtime import sandbox

MODES = {"namespaces": {}, "audit-only": {sandbox.ENVIRONMENT: "audit-only"}}
# What a user's shell exports on this machine must not hide a false refusal (bytecode written next to a local module).
BYTECODE_ALLOWED = {"PYTHONDONTWRITEBYTECODE": ""}


def namespaces_available() -> bool:
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--net", "--pid", "--mount", "--fork", "true"],
                           capture_output=True) if shutil.which("unshare") else None
    return probe is not None and probe.returncode == 0


def mode_env(mode: str) -> dict[str, str]:
    if mode == "namespaces" and not namespaces_available():
        pytest.skip("this kernel refuses unprivileged namespaces (the audit-only mode covers it)")
    return {**BYTECODE_ALLOWED, **MODES[mode]}


def processes_mentioning(marker: str) -> list[str]:
    """Command lines of running processes that contain `marker` (zombies have none)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                command = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if marker.encode() in command:
                found.append(command.replace(b"\0", b" ").decode(errors="replace"))
    return found


class Listeners:
    """A TCP and a UDP listener on 127.0.0.1: whatever reaches them left the replay."""

    def __init__(self) -> None:
        self.tcp = socket.create_server(("127.0.0.1", 0))
        self.tcp.setblocking(False)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.udp.setblocking(False)
        self.tcp_port, self.udp_port = self.tcp.getsockname()[1], self.udp.getsockname()[1]

    def received(self) -> list[str]:
        got = []
        try:
            connection, _ = self.tcp.accept()
            got.append(f"a TCP connection: {connection.recv(100)!r}")
        except BlockingIOError:
            pass
        try:
            got.append(f"a datagram: {self.udp.recv(100)!r}")
        except BlockingIOError:
            pass
        return got

    def close(self) -> None:
        self.tcp.close()
        self.udp.close()


@dataclass(frozen=True)
class Escape:
    name: str
    imports: str  # module names for `import ...`
    code: str  # statements run in `Escape.__init__`, the first of which is refused; `{M}` is the marker path
    event: str  # the audit event the report must name


class Payload:
    """Unpickled, it runs a shell command: what a malicious pickle (or checkpoint) does."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def escapes(marker: str, victim: str, victim_dir: str, ports: tuple[int, int], extension: str | None) -> list[Escape]:
    payload = pickle.dumps(Payload(f"touch {marker}.pickle"))
    tcp, udp = ports
    found = [
        Escape("subprocess", "", f'__import__("subprocess").call(["touch", "{marker}.subprocess"])', "subprocess.Popen"),
        Escape("vars_os_system", "os", f'vars(os)["system"]("touch {marker}.system")', "os.system"),
        Escape("io_open", "io", f'io.open("{marker}.io", "w").write("x")', "open"),
        Escape("codecs_open", "codecs", f'codecs.open("{marker}.codecs", "w").write("x")', "open"),
        Escape("builtins_open", "builtins", f'builtins.open("{marker}.builtins", "w").write("x")', "open"),
        Escape("pathlib", "pathlib", f'pathlib.Path("{marker}.pathlib").write_text("x")', "open"),
        Escape("os_open", "os", f'getattr(os, "open")("{marker}.os_open", os.O_CREAT | os.O_WRONLY)', "open"),
        Escape("ctypes_system", "ctypes", f'ctypes.CDLL(None).system(b"touch {marker}.ctypes")', "ctypes.dlopen"),
        Escape("pickle", "pickle", f"pickle.loads({payload!r})", "pickle.find_class"),
        Escape("torch_load", "io, torch", f"torch.load(io.BytesIO({payload!r}), weights_only=False)", "pickle.find_class"),
        Escape("rename", "os", f'os.rename("{victim}", "{marker}.renamed")', "os.rename"),
        Escape("remove", "os", f'os.remove("{victim}")', "os.remove"),
        Escape("rmtree", "shutil", f'shutil.rmtree("{victim_dir}")', "shutil.rmtree"),
        Escape("chmod", "os", f'os.chmod("{victim}", 0o777)', "os.chmod"),
        Escape("utime", "os", f'os.utime("{victim}", (0, 0))', "os.utime"),
        Escape("truncate", "os", f'os.truncate("{victim}", 0)', "os.truncate"),
        Escape("symlink", "os", f'os.symlink("{victim}", "{marker}.symlink")', "os.symlink"),
        Escape("hard_link", "os", f'os.link("{victim}", "{marker}.link")', "os.link"),
        Escape("mkdir", "os", f'os.makedirs("{marker}.dir/inner")', "os.mkdir"),
        Escape("mkfifo", "os", f'os.mkfifo("{marker}.fifo")', "os.mkfifo"),
        Escape("mknod", "os", f'os.mknod("{marker}.node")', "os.mknod"),
        Escape("sqlite", "sqlite3", f'sqlite3.connect("{marker}.sqlite").execute("create table t (x)")', "sqlite3.connect"),
        Escape("fork", "os", f'pid = os.fork()\nif pid == 0:\n    open("{marker}.fork", "w")\n    os._exit(0)',
               "os.fork"),
        Escape("posix_spawn", "os", f'os.posix_spawn("/usr/bin/touch", ["touch", "{marker}.spawn"], dict(os.environ))',
               "os.posix_spawn"),
        Escape("exec", "os", f'os.execv("/usr/bin/touch", ["touch", "{marker}.exec"])', "os.exec"),
        Escape("forkpty", "pty", f'pid, _ = pty.fork()\nif pid == 0:\n    open("{marker}.pty", "w")', "os.forkpty"),
        # Starts a process without any audit event on CPython 3.11 (gh-115322): the path the issue names.
        Escape("spawnv_passfds", "sys, multiprocessing.util",
               f'multiprocessing.util.spawnv_passfds(sys.executable, [sys.executable, "-c", '
               f'"open(\'{marker}.passfds\', \'w\')"], ())', "_posixsubprocess.fork_exec"),
        Escape("multiprocessing", "multiprocessing, os",
               f'multiprocessing.get_context("spawn").Process(target=os.system, args=("touch {marker}.mp",)).start()',
               "_posixsubprocess.fork_exec"),
        Escape("kill_supervisor", "os, signal", "os.kill(os.getppid() or 1, signal.SIGKILL)", "os.kill"),
        Escape("pidfd", "os, signal", "signal.pidfd_send_signal(os.pidfd_open(os.getppid() or 1), signal.SIGKILL)",
               "os.pidfd_open"),
        # Out of the private directory through `..`: the file would land in the temporary directory it lies in.
        Escape("dot_dot", "os, tempfile",
               f'open(os.path.join(tempfile.gettempdir(), "..", "{os.path.basename(marker)}.dotdot"), "w")', "open"),
        Escape("tcp", "socket", f'socket.create_connection(("127.0.0.1", {tcp})).sendall(b"leak")', "socket.getaddrinfo"),
        Escape("raw_socket", "_socket", f'_socket.socket().connect(("127.0.0.1", {tcp}))', "socket.__new__"),
        Escape("udp", "socket", f'socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"leak", ("127.0.0.1", {udp}))',
               "socket.__new__"),
        Escape("dns", "socket", 'socket.getaddrinfo("leak.example.com", 443)', "socket.getaddrinfo"),
        Escape("urllib", "urllib.request", f'urllib.request.urlopen("http://127.0.0.1:{tcp}/")', "socket.getaddrinfo"),
        Escape("find_the_hook", "gc", "[f for f in gc.get_objects() if callable(f)]", "gc.get_objects"),
        Escape("tiocsti", "fcntl, termios", 'fcntl.ioctl(0, termios.TIOCSTI, b"x")', "fcntl.ioctl"),
    ]
    if extension is not None:
        found.append(Escape("native_extension", "", "import evil", "import"))
    import sqlite3

    if hasattr(sqlite3.Connection, "enable_load_extension"):  # Python built with loadable sqlite extensions
        found.append(Escape("sqlite_extension", "sqlite3", 'sqlite3.connect(":memory:").enable_load_extension(True)',
                            "sqlite3.enable_load_extension"))
    return found


def script(escape: Escape) -> tuple[str, int]:
    """The script, and the line the refusal must name: the escape's first statement, inside a class of the script
    (classes are kept whole), whose instance decides the model name."""
    head = [f"import {escape.imports}"] if escape.imports else []
    head += ["from transformers import AutoModel", "", "", "class Escape:", "    def __init__(self):"]
    body = textwrap.indent(escape.code, " " * 8).splitlines()
    tail = ["", "", 'name = "bert-base-uncased" if Escape() else "gpt2"', "model = AutoModel.from_pretrained(name)",
            "model.embeddings.requires_grad_(False)"]
    return "\n".join(head + body + tail) + "\n", len(head) + 1


NATIVE_EXTENSION = r'''
#include <Python.h>
#include <stdlib.h>
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "evil", NULL, -1, NULL};
PyMODINIT_FUNC PyInit_evil(void) { system("touch MARKER.native"); return PyModule_Create(&module); }
'''


def build_extension(directory: Path, marker: str) -> str | None:
    """A native extension module shipped in the project: importing it would run its C code, which no audit hook sees."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None
    source = directory / "evil.c"
    source.write_text(NATIVE_EXTENSION.replace("MARKER", marker))
    target = directory / ("evil" + sysconfig.get_config_var("EXT_SUFFIX"))
    built = subprocess.run([compiler, "-shared", "-fPIC", f"-I{sysconfig.get_paths()['include']}", str(source), "-o",
                            str(target)], capture_output=True)
    source.unlink()
    return str(target) if built.returncode == 0 else None


def snapshot(paths: list[Path]) -> dict[str, tuple]:
    return {str(p): (p.read_bytes(), p.stat().st_mode, p.stat().st_mtime_ns) if p.is_file() else p.is_dir() for p in paths}


def tiny_configs(tiny: dict[str, str]) -> list[str]:
    return ["--model-config", f"bert-base-uncased={tiny['bert-base-uncased']}"]


@pytest.mark.parametrize("mode", list(MODES))
def test_every_escape_is_refused_by_line_and_event_and_nothing_happens(tmp_path, tiny, mode):
    temporary = tmp_path / "tmp"  # this run's own: other tests' replays, running alongside, leave theirs in /tmp
    temporary.mkdir()
    env = {**mode_env(mode), "TMPDIR": str(temporary)}
    token = uuid.uuid4().hex
    outside = tmp_path / "outside"
    outside.mkdir()
    marker = str(outside / f"escaped-{token}")
    victim, victim_dir = outside / "victim.txt", outside / "victim-dir"
    victim.write_text("precious")
    victim_dir.mkdir()
    (victim_dir / "kept").write_text("kept")
    project = tmp_path / "project"
    project.mkdir()
    listeners = Listeners()
    extension = build_extension(project, marker)
    cases = escapes(marker, str(victim), str(victim_dir), (listeners.tcp_port, listeners.udp_port), extension)
    expected = {}
    for escape in cases:
        text, line = script(escape)
        (project / f"{escape.name}.py").write_text(text)
        expected[escape.name] = (line, escape.event)
    # A local module imported for a constant runs its top-level code; a class of the script runs its __init__.
    (project / "helpers.py").write_text(f'import os\nos.system("touch {marker}.helpers")\nMODEL_NAME = "bert-base-uncased"\n')
    (project / "local_module.py").write_text(
        "from transformers import AutoModel\nfrom helpers import MODEL_NAME\n"
        "model = AutoModel.from_pretrained(MODEL_NAME)\nmodel.embeddings.requires_grad_(False)\n"
    )
    (project / "module_init.py").write_text(textwrap.dedent(f'''
        import os
        from torch import nn
        from transformers import AutoModel

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.backbone = AutoModel.from_pretrained("bert-base-uncased")
                os.system("touch {marker}.module")

        model = Net()
        model.backbone.requires_grad_(False)
    '''))
    # A finding after the refusal: its line never ran, and its verdict says why.
    (project / "unchecked.py").write_text(
        "import os\nfrom transformers import AutoModel\n"
        f'model = AutoModel.from_pretrained("bert-base-uncased" if vars(os)["system"]("touch {marker}.x") else "gpt2")\n'
        "model.requires_grad = False\n"
    )
    # A crash would write a core file into the working directory (this machine's core_pattern is `core`).
    (project / "crash.py").write_text(textwrap.dedent('''
        import os
        from transformers import AutoModel

        class Crash:
            def __init__(self):
                os.abort()

        model = AutoModel.from_pretrained("bert-base-uncased" if Crash() else "gpt2")
    '''))
    # What must keep working: a local module (no bytecode written beside it) and a temporary file of its own.
    (project / "settings.py").write_text('MODEL_NAME = "bert-base-uncased"\n')
    (project / "allowed.py").write_text(textwrap.dedent('''
        import os, tempfile
        from transformers import AutoModel
        from settings import MODEL_NAME

        class Scratch:
            def __init__(self):
                os.makedirs(os.path.dirname(os.path.abspath(__file__)), exist_ok=True)  # exists: changes nothing
                self.path = os.path.join(tempfile.mkdtemp(), "notes.txt")
                with open(self.path, "w") as handle:
                    handle.write("a temporary file of its own")
                self.written = os.path.getsize(self.path) > 0

        name = MODEL_NAME if Scratch().written else "gpt2"
        model = AutoModel.from_pretrained(name)
        model.embeddings.requires_grad_(False)
    '''))
    watched = [victim, victim_dir, victim_dir / "kept"]
    before = snapshot(watched)
    replay_dirs = set(temporary.glob("freezelint-replay-*"))
    try:
        completed = run_cli("--runtime", *tiny_configs(tiny), str(project), cwd=project, env=env)
        received = listeners.received()
    finally:
        listeners.close()
    output = completed.stdout + completed.stderr
    assert completed.returncode in (0, 1), output
    blocks = {name: _block(completed.stdout, f"{name}.py") for name in [*expected, "local_module", "module_init"]}
    for name, (line, event) in expected.items():
        assert f"refused at line {line}: " in blocks[name] and f"(`{event}`" in blocks[name], (name, blocks[name])
    assert "refused at line 2 (in helpers.py:2): the script tried to start a process (`os.system`" in blocks["local_module"]
    assert "refused at line 10: the script tried to start a process (`os.system`" in blocks["module_init"]
    assert "the replay process died (signal SIG" in _block(completed.stdout, "crash.py")
    assert ("[runtime: not-checkable: line 4 did not run: the replay ended at line 3, where the sandbox refused to start "
            "a process (`os.system`)]") in completed.stdout
    assert not any(p.name.startswith("core") for p in project.iterdir())
    allowed = _block(completed.stdout, "allowed.py")
    assert "refused" not in allowed and "model `model` (BertModel" in allowed, allowed
    assert sorted(p.name for p in outside.iterdir()) == ["victim-dir", "victim.txt"], "a file was created"
    assert not any((place / f"{Path(marker).name}.dotdot").exists() for place in (temporary, Path(tempfile.gettempdir())))
    assert snapshot(watched) == before, "a file was changed"
    assert received == [], "something reached a listener on this machine"
    assert not (project / "__pycache__").exists()
    assert processes_mentioning(token) == []
    assert set(temporary.glob("freezelint-replay-*")) <= replay_dirs
    isolation_note = "replays run without namespaces" in completed.stderr
    assert isolation_note == (mode == "audit-only"), completed.stderr
    count(f"escapes tried and refused ({mode})", len(expected) + 2)


def _block(stdout: str, file_name: str) -> str:
    """The runtime block of one file in the output."""
    lines = stdout.splitlines()
    start = next((i for i, line in enumerate(lines) if ": runtime check" in line
                  and line.split(": runtime check")[0].replace("\\", "/").split("/")[-1] == file_name), None)
    if start is None:
        return ""
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith("  ")), len(lines))
    return "\n".join(lines[start:end])


@contextlib.contextmanager
def sandbox_mode(mode: str):
    """This process's sandbox mode, for the tests that call `sandbox.run` directly."""
    mode_env(mode)
    previous = os.environ.pop(sandbox.ENVIRONMENT, None)
    if mode == "audit-only":
        os.environ[sandbox.ENVIRONMENT] = "audit-only"
    try:
        yield
    finally:
        os.environ.pop(sandbox.ENVIRONMENT, None)
        if previous is not None:
            os.environ[sandbox.ENVIRONMENT] = previous


@pytest.mark.parametrize("mode", list(MODES))
def test_exec_differs_only_in_what_runs_and_every_escape_still_fails(tmp_path, tiny, mode):
    """`--exec` runs the whole script: it catches each refusal (a BaseException) and tries the next, the switch the
    old network block had included. The freeze happens only when every attempt was refused."""
    env = mode_env(mode)
    token = uuid.uuid4().hex
    marker = str(tmp_path / f"escaped-{token}")
    listeners = Listeners()
    attempts = {
        "flag": "import freezelint.runtime.harness as h; h._refusing = False; h._hooked = False",
        "process": f'__import__("subprocess").run(["touch", "{marker}.process"])',
        "file": f'open("{marker}.file", "w").write("x")',
        "tcp": f'__import__("socket").create_connection(("127.0.0.1", {listeners.tcp_port}), timeout=5).sendall(b"x")',
        "defaults": "[h for h in __import__('gc').get_objects() if getattr(h, '__name__', '') == 'freezelint_audit_hook']",
        "policy": "import freezelint.runtime.audit as a; a.REFUSED_EVENTS.clear(); a.PATH_EVENTS.clear(); "
                  f'__import__("os").system("touch {marker}.policy")',
    }
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(f'''
        from transformers import AutoModelForSequenceClassification

        attempts = {attempts!r}
        refused = []
        for name, code in attempts.items():
            try:
                exec(code)
            except BaseException as error:
                if type(error).__name__ == "Refused":
                    refused.append(name)
        model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2)
        if len(refused) == len(attempts) - 1:  # all but the flag, which no longer exists
            model.bert.requires_grad_(False)
    '''))
    try:
        completed = run_cli("--exec", *tiny_configs(tiny), str(script), cwd=tmp_path, env=env)
        received = listeners.received()
    finally:
        listeners.close()
    assert "replayed the whole script (--exec)" in completed.stdout, completed.stdout + completed.stderr
    assert "trainable, " in completed.stdout and " 0 frozen" not in completed.stdout, completed.stdout
    assert "refused at line 8: the script tried to start a process (`subprocess.Popen`" in completed.stdout
    assert not any(p.name.startswith("escaped-") for p in tmp_path.iterdir())
    assert received == []
    assert processes_mentioning(token) == []


@pytest.mark.parametrize("mode", list(MODES))
def test_weights_never_unpickle_arbitrary_objects(tmp_path, mode):
    env = mode_env(mode)
    from transformers import BertConfig

    marker = tmp_path / f"escaped-{uuid.uuid4().hex}"
    checkpoint = tmp_path / "checkpoint"
    BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37,
               vocab_size=100).save_pretrained(checkpoint)
    with open(checkpoint / "pytorch_model.bin", "wb") as handle:  # a pickle checkpoint that runs a command
        pickle.dump({"bert.embeddings.word_embeddings.weight": Payload(f"touch {marker}")}, handle)
    script = tmp_path / "train.py"
    script.write_text(f"from transformers import AutoModel\nmodel = AutoModel.from_pretrained({str(checkpoint)!r})\n"
                      "model.embeddings.requires_grad_(False)\n")
    completed = run_cli("--runtime", "--weights", str(script), cwd=tmp_path, env=env)
    assert "runtime check" in completed.stdout, completed.stdout + completed.stderr
    assert not marker.exists()


def sleepers(token: str) -> list[list[str]]:
    """Commands that outlive their parent unless killed: one calls setsid, one is forked twice and ignores SIGTERM."""
    sleeper = shlex.join([sys.executable, "-c", "import time; time.sleep(600)", token])
    return [["setsid", "sh", "-c", sleeper], ["sh", "-c", f"trap '' TERM; ({sleeper} &); {sleeper}"]]


def wait_for_processes(token: str, count: int, alive: Callable[[], bool]) -> int:
    """The most processes mentioning `token` seen at once, waiting until there are `count` of them."""
    deadline = time.monotonic() + 120
    most = 0
    while most < count and alive() and time.monotonic() < deadline:
        most = max(most, len(processes_mentioning(token)))
        time.sleep(0.1)
    return most


@pytest.mark.parametrize("mode", list(MODES))
def test_a_timeout_ends_the_replay_and_everything_it_started(mode):
    """The audit hook refuses every way a script starts a process, so this runs a job in the sandbox without it:
    processes that call setsid, fork twice and ignore SIGTERM, then a hang; all of them end with the time limit."""
    token = uuid.uuid4().hex

    def job() -> dict:
        for command in sleepers(token):
            subprocess.Popen(command, start_new_session=True)
        time.sleep(600)
        return {}

    outcomes: list[sandbox.Outcome] = []
    with sandbox_mode(mode):
        started = time.monotonic()
        running = threading.Thread(target=lambda: outcomes.append(sandbox.run(job, "/nonexistent/train.py", 20, audit=False)))
        running.start()
        seen = wait_for_processes(token, 4, running.is_alive)
        running.join()
    assert seen >= 4, "the job did not start its processes"
    assert outcomes[0].error == "the replay did not finish within 20 s (raise the limit with --timeout)"
    assert time.monotonic() - started < 60
    assert (outcomes[0].isolation == sandbox.NAMESPACES) == (mode == "namespaces")
    assert processes_mentioning(token) == []
    count(f"process trees ended by the time limit ({mode})")


@pytest.mark.parametrize("mode", list(MODES))
def test_ctrl_c_ends_the_replay_and_everything_it_started(tmp_path, mode):
    env = mode_env(mode)
    token = uuid.uuid4().hex
    driver = tmp_path / "driver.py"
    driver.write_text(textwrap.dedent(f'''
        import subprocess, time
        from freezelint.runtime import sandbox

        def job():
            for command in {sleepers(token)!r}:
                subprocess.Popen(command, start_new_session=True)
            time.sleep(600)
            return {{}}

        sandbox.run(job, "/nonexistent/train.py", 600, audit=False)
    '''))
    env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, str(driver)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    seen = wait_for_processes(token, 4, lambda: process.poll() is None)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert seen >= 4, stderr
    assert "KeyboardInterrupt" in stderr
    assert processes_mentioning(token) == []


@pytest.mark.parametrize("mode", list(MODES))
def test_ctrl_c_on_freezelint_ends_the_replay(tmp_path, tiny, mode):
    env = mode_env(mode)
    script = tmp_path / f"train_{uuid.uuid4().hex}.py"
    script.write_text(
        "import time\nfrom transformers import AutoModel\nmodel = AutoModel.from_pretrained('bert-base-uncased')\n"
        "model.embeddings.requires_grad_(False)\ntime.sleep(600)\n"
    )
    command = [sys.executable, "-m", "freezelint", "--exec", *tiny_configs(tiny), str(script)]
    process = subprocess.Popen(command, cwd=tmp_path, env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = wait_for_processes(script.name, 3, lambda: process.poll() is None)  # freezelint, supervisor, replay
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert seen == 3, stderr
    assert process.returncode != 0
    assert processes_mentioning(script.name) == []


def test_without_the_audit_hook_the_kernel_layer_still_holds(tmp_path):
    """What native code could do once past the audit hook, tried with no hook at all: the namespaces, the read-only
    file system, the dropped capabilities and the limits stop it (where the kernel grants namespaces)."""
    mode_env("namespaces")
    listeners = Listeners()
    marker = tmp_path / f"escaped-{uuid.uuid4().hex}"
    parent = os.getpid()

    def job() -> dict:
        import resource

        tried: dict[str, str] = {}

        def attempt(name: str, action) -> None:
            try:
                action()
                tried[name] = "done"
            except (OSError, subprocess.SubprocessError) as error:
                tried[name] = type(error).__name__

        attempt("write", lambda: open(marker, "w").write("x"))
        attempt("process_write", lambda: subprocess.run(["touch", str(marker)], check=True, capture_output=True))
        attempt("connect", lambda: socket.create_connection(("127.0.0.1", listeners.tcp_port), timeout=3))
        connect = f"import socket; socket.create_connection(('127.0.0.1', {listeners.tcp_port}), timeout=3).sendall(b'x')"
        attempt("process_connect", lambda: subprocess.run([sys.executable, "-c", connect], check=True, capture_output=True))
        attempt("kill_linter", lambda: os.kill(parent, 0))
        attempt("remount", lambda: subprocess.run(["mount", "-o", "remount,bind,rw", "/"], check=True,
                                                  capture_output=True))
        status = Path("/proc/self/status").read_text()
        tried["capabilities"] = next(line.split()[1] for line in status.splitlines() if line.startswith("CapEff"))
        tried["no_new_privs"] = next(line.split()[1] for line in status.splitlines() if line.startswith("NoNewPrivs"))
        tried["file_size"] = str(resource.getrlimit(resource.RLIMIT_FSIZE)[0])
        tried["core"] = str(resource.getrlimit(resource.RLIMIT_CORE)[0])
        tried["cpu"] = str(resource.getrlimit(resource.RLIMIT_CPU)[0])
        tried["address_space"] = str(resource.getrlimit(resource.RLIMIT_AS)[0])
        tried["pid"] = str(os.getpid())
        return tried

    try:
        outcome = sandbox.run(job, "/nonexistent/train.py", 60, audit=False)
        received = listeners.received()
    finally:
        listeners.close()
    assert outcome.isolation == sandbox.NAMESPACES, outcome
    tried = outcome.result
    assert tried is not None, outcome.error
    assert tried["write"] == "OSError" and tried["process_write"] == "CalledProcessError" and not marker.exists()
    assert tried["connect"] == "OSError" and tried["process_connect"] == "CalledProcessError" and received == []
    assert tried["kill_linter"] == "ProcessLookupError"  # the linting process is not in its PID namespace
    assert tried["remount"] in ("CalledProcessError", "FileNotFoundError")
    assert tried["capabilities"] == "0000000000000000" and tried["no_new_privs"] == "1"
    assert tried["file_size"] == str(sandbox.FILE_SIZE_LIMIT) and tried["core"] == "0" and tried["cpu"] == "65"
    assert tried["address_space"] == str(sandbox.ADDRESS_SPACE)
    assert tried["pid"] == "1"


def test_the_hook_reads_nothing_the_script_can_change_and_refuses_changes_to_itself(tmp_path):
    """No global, builtin or closure cell in the hook's code; its defaults and code cannot be replaced; replacing
    builtins does not open a way round it. (A fresh interpreter: an audit hook cannot be removed.)"""
    import dis

    from freezelint.runtime import audit

    hook = audit.make_hook(str(tmp_path), str(tmp_path / "train.py"), 2)
    reads = {i.opname for i in dis.get_instructions(hook) if i.opname in ("LOAD_GLOBAL", "LOAD_NAME", "LOAD_DEREF",
                                                                          "LOAD_CLASSDEREF", "LOAD_CLOSURE")}
    assert reads == set()
    marker = tmp_path / "escaped"
    probe = textwrap.dedent(f'''
        import builtins, os, sys
        from freezelint.runtime import audit
        audit.install({str(tmp_path / "private")!r}, "<probe>", 2)
        hook_code = audit._hook.__code__
        results = []
        for name, action in [
            ("defaults", lambda: setattr(audit._hook, "__defaults__", None)),
            ("code", lambda: setattr(audit._hook, "__code__", (lambda e, a: None).__code__)),
            ("module", lambda: setattr(audit, "REFUSED_EVENTS", {{}})),
        ]:
            try:
                action()
                results.append(name + ":done")
            except BaseException as error:
                results.append(name + ":" + type(error).__name__)
        builtins.str, builtins.type, builtins.isinstance = bytes, lambda x: int, lambda *a: True
        try:
            os.system("touch {marker}")
            results.append("system:done")
        except BaseException as error:
            results.append("system:" + error.__class__.__name__)
        sys.stdout.write(" ".join(results))
    ''')
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert completed.stdout == "defaults:Refused code:Refused module:done system:Refused", completed.stderr
    assert not marker.exists()


def test_where_fork_is_not_used_a_spawned_interpreter_replays_under_the_same_hook(tmp_path, tiny):
    """macOS and Windows replay in a fresh interpreter (`sandbox.spawn`); the same path, tried here."""
    from freezelint.runtime.replay import Request

    marker = tmp_path / f"escaped-{uuid.uuid4().hex}"
    (tmp_path / "torch.py").write_text(f"open({str(marker)!r} + '.shadow', 'w')\n")  # the project's own `torch`
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(f'''
        import os
        from transformers import AutoModel

        class Escape:
            def __init__(self):
                os.system("touch {marker}")

        model = AutoModel.from_pretrained("bert-base-uncased")
        model.embeddings.requires_grad_(False)
        Escape()
    '''))
    request = Request(str(script), overrides={"bert-base-uncased": tiny["bert-base-uncased"]}, exec_mode=True)
    previous = os.getcwd()
    os.chdir(tmp_path)
    try:
        outcome = sandbox.spawn(request.to_json(), str(script), 300)
    finally:
        os.chdir(previous)
    assert outcome.result is not None, outcome.error
    assert [model["class"] for model in outcome.result["models"]] == ["BertModel"]
    assert [(r["event"], r["line"]) for r in outcome.refusals] == [("os.system", 7)]
    assert not any(p.name.startswith("escaped-") for p in tmp_path.iterdir())
