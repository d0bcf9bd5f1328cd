"""The runtime mode runs what it says and nothing else, offline, within its time limit.

Without `--exec` only the slice that builds and freezes the models runs: a script's markers, connections, processes
and sleeps outside it never happen, and the output says how many statements were replayed. With `--exec` the whole
script runs (as documented), still without network: every way a script reaches the network is refused before it
leaves the process (by the sandbox's audit hook, and by its network namespace where the kernel grants one). Each run
is audited (this test's own hook is inherited by the forked replay), and every file has a time limit.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from cli_helpers import ROOT
from figures import count
from runtime_support import numel, tiny, tiny_model  # noqa: F401 - fixture

AUDITED = r'''
import os, sys
log = sys.argv.pop(1)

def hook(event, args):
    if event.startswith(("socket.", "subprocess.", "os.system", "os.exec", "os.posix_spawn")):
        descriptor = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(descriptor, f"{os.getpid()} {event} {repr(args)[:200]}\n".encode())
        os.close(descriptor)

sys.addaudithook(hook)
from freezelint.cli import main
main(sys.argv[1:], prog_name="freezelint")
'''
UNROUTED = "198.51.100.7"  # TEST-NET-2: no such host anywhere


def audited(tmp_path: Path, tiny: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess, list[str], float]:
    log = tmp_path / "audit.log"
    configs = [arg for name, path in tiny.items() for arg in ("--model-config", f"{name}={path}")]
    env = {key: value for key, value in os.environ.items() if not key.startswith(("HF_", "TRANSFORMERS_"))}
    env.update(NO_COLOR="1", PYTHONPATH=str(ROOT))  # offline because freezelint makes it so, not the test
    started = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-c", AUDITED, str(log), *configs, *args], cwd=tmp_path, env=env, capture_output=True,
        text=True, timeout=300,
    )
    events = log.read_text().splitlines() if log.exists() else []
    return completed, events, time.monotonic() - started


def test_without_exec_only_the_freezing_slice_runs_offline(tmp_path, tiny):
    marker = tmp_path / "marker"
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(f'''
        import socket, subprocess, time, urllib.request
        from transformers import AutoModelForSequenceClassification

        open({str(marker)!r}, "w").write("ran")
        socket.create_connection(({UNROUTED!r}, 80), timeout=5)
        urllib.request.urlopen("http://{UNROUTED}/data.csv", timeout=5)
        subprocess.run(["touch", {str(marker)!r} + ".process"])
        model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2)
        model.bert.embeddings.requires_grad_(False)
        time.sleep(600)
    '''))
    completed, events, elapsed = audited(tmp_path, tiny, "--runtime", str(script))
    assert "train.py: runtime check: replayed 3 statements of the script" in completed.stdout, completed.stdout + completed.stderr
    assert "model `model` (BertForSequenceClassification: bert-base-uncased at line 9" in completed.stdout
    assert not marker.exists() and not Path(f"{marker}.process").exists()
    assert events == [], "no socket and no process, not even to build the model"
    assert elapsed < 120
    count("runtime replays audited (slice only, offline, nothing outside the slice ran)")


def test_exec_runs_the_script_but_never_reaches_the_network(tmp_path, tiny):
    """Every way out is tried, to listeners on this machine (whatever arrives there would have left the process) and
    to the internet; each must fail with freezelint's refusal (`Refused`, a BaseException the script can catch), which
    the script turns into a freeze the report shows."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0)
    datagrams = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    datagrams.bind(("127.0.0.1", 0))
    datagrams.settimeout(0)
    tcp, udp = listener.getsockname()[1], datagrams.getsockname()[1]
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(f'''
        import _socket, socket, urllib.request
        from transformers import AutoModelForSequenceClassification

        attempts = {{
            "create_connection": lambda: socket.create_connection(("127.0.0.1", {tcp}), timeout=5),
            "connect": lambda: socket.socket().connect(("127.0.0.1", {tcp})),
            "connect_ex": lambda: socket.socket().connect_ex(("127.0.0.1", {tcp})),
            "_socket": lambda: _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM).connect(("127.0.0.1", {tcp})),
            "udp": lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("127.0.0.1", {udp})),
            "urlopen": lambda: urllib.request.urlopen("http://{UNROUTED}/weights.bin", timeout=5),
            "dns": lambda: socket.getaddrinfo("huggingface.co", 443),
        }}
        refused = []
        for name, attempt in attempts.items():
            try:
                attempt()
            except BaseException as error:
                if type(error).__name__ == "Refused":
                    refused.append(name)
        model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2)
        if len(refused) == len(attempts):  # the report shows the freeze only when every attempt was refused
            model.bert.requires_grad_(False)
    '''))
    completed, _, _ = audited(tmp_path, tiny, "--exec", str(script))
    assert "train.py: runtime check: replayed the whole script (--exec)" in completed.stdout, completed.stdout + completed.stderr
    model = tiny_model(tiny, "bert-base-uncased", num_labels=2)
    total, frozen = numel(model.parameters()), numel(model.bert.parameters())
    assert f"{total:,} parameters: {total - frozen:,} trainable, {frozen:,} frozen" in completed.stdout, completed.stdout
    try:
        listener.accept()
        raise AssertionError("a connection reached the listener")
    except BlockingIOError:
        pass
    try:
        datagrams.recv(16)
        raise AssertionError("a datagram reached the listener")
    except BlockingIOError:
        pass
    finally:
        listener.close()
        datagrams.close()
    count("--exec replays trying 7 ways out (each refused before leaving the process)")


def test_exec_is_stopped_by_the_time_limit(tmp_path, tiny):
    script = tmp_path / "train.py"
    script.write_text(
        "import time\nfrom transformers import AutoModel\nmodel = AutoModel.from_pretrained('bert-base-uncased')\n"
        "model.embeddings.requires_grad_(False)\ntime.sleep(600)\n"
    )
    completed, _, elapsed = audited(tmp_path, tiny, "--exec", "--timeout", "5", str(script))
    assert "the replay did not finish within 5 s (raise the limit with --timeout)" in completed.stdout, completed.stdout
    assert elapsed < 120
    count("runtime replays stopped by their time limit")
