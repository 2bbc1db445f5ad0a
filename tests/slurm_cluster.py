"""A private single-node SLURM cluster for tests.

`LocalSlurmCluster` starts munged, MariaDB, slurmdbd, slurmctld and slurmd as
plain foreground processes, with every file (configuration, keys, sockets,
state, logs, database) under one base directory and on ports picked free at
start-up. Client commands reach it through the ``SLURM_CONF`` variable in
`LocalSlurmCluster.env`. Only processes it started are ever signalled.

Requirements: root, and the Debian packages installed by
``scripts/install_slurm.sh`` (munge, slurmctld, slurmd, slurm-client,
slurmdbd, mariadb-server).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import pytest

_SBIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")

_REQUIRED_BINARIES = (
    "munged",
    "slurmctld",
    "slurmd",
    "slurmdbd",
    "sbatch",
    "sacct",
    "sacctmgr",
    "sinfo",
    "squeue",
    "scancel",
    "srun",
)
_MARIADB_SERVER = ("mariadbd", "mysqld")
_MARIADB_INSTALL_DB = ("mariadb-install-db", "mysql_install_db")

# Unix socket paths are limited to 108 bytes; slurmd also puts per-step
# sockets below its spool directory.
_MAX_SOCKET_DIR_LEN = 60

_PR_SET_PDEATHSIG = 1


class SlurmClusterError(RuntimeError):
    """The local SLURM cluster could not be started or queried."""


def _which(name: str) -> str | None:
    path = os.pathsep.join([os.environ.get("PATH", os.defpath), *_SBIN_DIRS])
    return shutil.which(name, path=path)


def _which_any(names: Sequence[str]) -> str | None:
    for name in names:
        found = _which(name)
        if found:
            return found
    return None


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _port_open(port: int) -> bool:
    with (
        contextlib.suppress(OSError),
        socket.create_connection(("127.0.0.1", port), timeout=0.5),
    ):
        return True
    return False


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` names a live (non-zombie) process."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); treat it as gone.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


def _tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "<missing>"
    return "\n".join(text.splitlines()[-lines:]) or "<empty>"


def _die_with_parent() -> None:
    """Ask the kernel to SIGTERM this child if the starting thread dies."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _machine_resources() -> tuple[int, int]:
    """Return (cpus, memory in MB) as slurmd sees this machine."""
    cpus = len(os.sched_getaffinity(0))
    mem_mb = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_mb = int(line.split()[1]) // 1024
                break
    slurmd = _which("slurmd")
    if slurmd:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [slurmd, "-C"],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            ).stdout
            fields = dict(item.split("=", 1) for item in out.split() if "=" in item)
            cpus = int(fields.get("CPUs", cpus))
            mem_mb = int(fields.get("RealMemory", mem_mb))
    return cpus, mem_mb


class LocalSlurmCluster:
    """A single-node SLURM cluster with accounting, rooted in ``base_dir``.

    Use as a context manager or call `start` and `stop`. While running,
    `env` holds the variables that point SLURM clients at it, and
    `account` and `partition` name a valid account and the default partition.
    """

    def __init__(
        self,
        base_dir: str | os.PathLike[str],
        *,
        account: str = "rnn",
        partition: str = "debug",
        startup_timeout: float = 90.0,
        stop_grace: float = 10.0,
    ) -> None:
        self.base_dir = Path(base_dir).resolve()
        self.account = account
        self.partition = partition
        self.startup_timeout = startup_timeout
        self.stop_grace = stop_grace
        self.cluster_name = "t" + secrets.token_hex(5)
        self.node_name = socket.gethostname().split(".")[0]
        self.cpus, machine_mem_mb = _machine_resources()
        self.real_memory_mb = max(256, min(machine_mem_mb - 512, int(machine_mem_mb * 0.95)))
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._started_pids: list[int] = []
        self._stepd_pids: set[int] = set()
        self._short_dir: Path | None = None
        self._bins: dict[str, str] = {}
        self._running = False

    # ------------------------------------------------------------------ API

    @staticmethod
    def available() -> tuple[bool, str]:
        """Whether this machine can run the cluster, and why not if it can't."""
        if not hasattr(os, "geteuid") or os.geteuid() != 0:
            return False, "the local SLURM cluster must run as root"
        missing = [name for name in _REQUIRED_BINARIES if not _which(name)]
        if not _which_any(_MARIADB_SERVER):
            missing.append("/".join(_MARIADB_SERVER))
        if not _which_any(_MARIADB_INSTALL_DB):
            missing.append("/".join(_MARIADB_INSTALL_DB))
        if missing:
            return False, (
                "missing binaries: " + ", ".join(missing) + " (run scripts/install_slurm.sh)"
            )
        return True, ""

    @property
    def conf_path(self) -> Path:
        return self.base_dir / "etc" / "slurm.conf"

    @property
    def bin_dir(self) -> Path:
        return self.base_dir / "bin"

    @property
    def env(self) -> dict[str, str]:
        """Variables to merge into a subprocess environment to use this cluster.

        ``SLURM_CONF`` points the SLURM clients at this cluster. ``PATH`` gets
        `bin_dir` in front, whose ``srun`` restores ``SLURM_CONF`` when a
        caller dropped it (snakemake-executor-plugin-slurm-jobstep removes
        every ``SLURM_*`` variable but a few before its nested ``srun``).
        ``RNN_SLURM_ACCOUNT`` and ``RNN_SLURM_PARTITION`` are read by the
        Snakemake profile in ``workflow/profiles/slurm``.
        """
        path = os.environ.get("PATH", os.defpath)
        return {
            "SLURM_CONF": str(self.conf_path),
            "PATH": f"{self.bin_dir}{os.pathsep}{path}",
            "RNN_SLURM_ACCOUNT": self.account,
            "RNN_SLURM_PARTITION": self.partition,
        }

    @property
    def pids(self) -> list[int]:
        """PIDs of every process this instance started (alive or not)."""
        return list(self._started_pids) + sorted(self._stepd_pids)

    @property
    def running(self) -> bool:
        return self._running

    def run(
        self,
        args: Sequence[str],
        *,
        check: bool = True,
        timeout: float = 60.0,
        extra_env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a SLURM client command against this cluster."""
        env = {**os.environ, **self.env, **(extra_env or {})}
        result = subprocess.run(
            list(args),
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise SlurmClusterError(
                f"{' '.join(args)} failed with exit code {result.returncode}:\n"
                f"{result.stdout}{result.stderr}"
            )
        return result

    def start(self) -> Self:
        """Start all daemons and wait until the node is idle and sacct works."""
        if self._running:
            return self
        ok, reason = self.available()
        if not ok:
            raise SlurmClusterError(reason)
        self._resolve_binaries()
        deadline = time.monotonic() + self.startup_timeout
        try:
            self._prepare_dirs()
            self._start_munge(deadline)
            self._start_mariadb(deadline)
            self._write_slurm_configs()
            self._write_srun_shim()
            self._start_slurmdbd(deadline)
            self._register_accounting(deadline)
            self._start_slurm(deadline)
            self._wait_until_ready(deadline)
        except Exception as exc:
            message = (
                f"could not start the local SLURM cluster: {exc}\n\n"
                f"daemon states and log tails:\n{self.diagnostics()}"
            )
            self.stop()
            raise SlurmClusterError(message) from exc
        except BaseException:
            self.stop()
            raise
        self._running = True
        return self

    def stop(self) -> None:
        """Cancel jobs, then stop every process this instance started."""
        if not self._procs:
            self._cleanup_short_dir()
            return
        slurmctld = self._procs.get("slurmctld")
        if slurmctld is not None and slurmctld.poll() is None:
            self._cancel_all_jobs()
        self._record_stepds()
        for name in ("slurmd", "slurmctld", "slurmdbd", "mariadbd", "munged"):
            proc = self._procs.get(name)
            if proc is not None:
                self._terminate(proc)
        self._record_stepds()
        for pid in sorted(self._stepd_pids):
            self._terminate_pid(pid)
        self._procs.clear()
        self._running = False
        self._cleanup_short_dir()

    def diagnostics(self, lines: int = 25) -> str:
        """Process states and the tail of every daemon log."""
        parts = []
        for name, proc in self._procs.items():
            state = "running" if proc.poll() is None else f"exited {proc.returncode}"
            parts.append(f"{name} (pid {proc.pid}): {state}")
        log_dir = self.base_dir / "log"
        if log_dir.is_dir():
            for path in sorted(log_dir.iterdir()):
                if path.is_file() and path.stat().st_size:
                    parts.append(f"--- {path.name} ---\n{_tail(path, lines)}")
        return "\n".join(parts)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------- internals

    def _resolve_binaries(self) -> None:
        for name in _REQUIRED_BINARIES:
            found = _which(name)
            assert found is not None
            self._bins[name] = found
        for key, names in (
            ("mariadbd", _MARIADB_SERVER),
            ("mariadb-install-db", _MARIADB_INSTALL_DB),
        ):
            found = _which_any(names)
            assert found is not None
            self._bins[key] = found

    def _prepare_dirs(self) -> None:
        base = self.base_dir
        for sub in ("bin", "etc", "log", "run", "munge", "mysql", "state"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        if len(str(base)) > _MAX_SOCKET_DIR_LEN:
            self._short_dir = Path(tempfile.mkdtemp(prefix="slurm-"))
            self._sock_dir = self._short_dir
        else:
            self._sock_dir = base / "run"
        self._spool_dir = self._sock_dir / "slurmd"
        self._spool_dir.mkdir(parents=True, exist_ok=True)
        (
            self._ctld_port,
            self._slurmd_port,
            self._dbd_port,
            self._mysql_port,
        ) = _free_ports(4)

    def _spawn(
        self, name: str, args: Sequence[str], env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log_dir = self.base_dir / "log"
        with (
            open(log_dir / f"{name}.stdout", "ab") as out,
            open(log_dir / f"{name}.stderr", "ab") as err,
        ):
            proc = subprocess.Popen(
                list(args),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env={**os.environ, **self.env, **(env or {})},
                cwd=self.base_dir,
                preexec_fn=_die_with_parent,
            )
        self._procs[name] = proc
        self._started_pids.append(proc.pid)
        return proc

    def _wait_for(
        self,
        what: str,
        condition: object,
        deadline: float,
        procs: Sequence[str] = (),
        interval: float = 0.2,
    ) -> None:
        assert callable(condition)
        while True:
            if condition():
                return
            for name in procs:
                proc = self._procs[name]
                if proc.poll() is not None:
                    raise SlurmClusterError(
                        f"{name} exited with code {proc.returncode} while waiting for {what}"
                    )
            if time.monotonic() > deadline:
                raise SlurmClusterError(
                    f"timed out after {self.startup_timeout:.0f}s waiting for {what}"
                )
            time.sleep(interval)

    def _write_srun_shim(self) -> None:
        shim = self.bin_dir / "srun"
        shim.write_text(
            "#!/bin/sh\n"
            f': "${{SLURM_CONF:={self.conf_path}}}"\n'
            "export SLURM_CONF\n"
            f'exec {self._bins["srun"]} "$@"\n'
        )
        shim.chmod(0o755)

    def _start_munge(self, deadline: float) -> None:
        munge_dir = self.base_dir / "munge"
        munge_dir.chmod(0o700)
        key = munge_dir / "munge.key"
        if not key.exists():
            key.write_bytes(secrets.token_bytes(1024))
        key.chmod(0o600)
        self._munge_socket = self._sock_dir / "munge.socket"
        self._spawn(
            "munged",
            [
                self._bins["munged"],
                "--foreground",
                "--force",
                f"--socket={self._munge_socket}",
                f"--key-file={key}",
                f"--pid-file={munge_dir / 'munged.pid'}",
                f"--seed-file={munge_dir / 'munged.seed'}",
                f"--log-file={self.base_dir / 'log' / 'munged.log'}",
            ],
        )
        self._wait_for("the munge socket", self._munge_socket.exists, deadline, ["munged"])

    def _start_mariadb(self, deadline: float) -> None:
        data_dir = self.base_dir / "mysql" / "data"
        self._db_user = "slurm"
        self._db_pass = secrets.token_hex(12)
        init_sql = self.base_dir / "mysql" / "init.sql"
        init_sql.write_text(
            f"CREATE OR REPLACE USER '{self._db_user}'@'127.0.0.1' "
            f"IDENTIFIED BY '{self._db_pass}';\n"
            f"GRANT ALL ON *.* TO '{self._db_user}'@'127.0.0.1';\n"
        )
        if not (data_dir / "mysql").is_dir():
            data_dir.mkdir(parents=True, exist_ok=True)
            log_path = self.base_dir / "log" / "mariadb-install-db.log"
            with open(log_path, "wb") as log:
                # Own session, so that a timeout also ends the bootstrap server
                # it spawns.
                installer = subprocess.Popen(
                    [
                        self._bins["mariadb-install-db"],
                        "--no-defaults",
                        f"--datadir={data_dir}",
                        "--user=root",
                        "--auth-root-authentication-method=socket",
                        "--skip-test-db",
                        "--skip-name-resolve",
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            try:
                code = installer.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(installer.pid, signal.SIGKILL)
                installer.wait()
                raise SlurmClusterError(
                    f"timed out after {self.startup_timeout:.0f}s in mariadb-install-db"
                ) from None
            if code != 0:
                raise SlurmClusterError(f"mariadb-install-db failed with code {code}")
        self._spawn(
            "mariadbd",
            [
                self._bins["mariadbd"],
                "--no-defaults",
                f"--datadir={data_dir}",
                f"--socket={self._sock_dir / 'mysqld.sock'}",
                f"--port={self._mysql_port}",
                "--bind-address=127.0.0.1",
                f"--pid-file={self.base_dir / 'mysql' / 'mysqld.pid'}",
                f"--log-error={self.base_dir / 'log' / 'mariadbd.log'}",
                "--user=root",
                f"--init-file={init_sql}",
                "--skip-name-resolve",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=64M",
                "--innodb-log-file-size=16M",
                "--innodb-flush-log-at-trx-commit=0",
                "--innodb-lock-wait-timeout=900",
            ],
        )
        self._wait_for(
            "mariadbd to listen",
            lambda: _port_open(self._mysql_port),
            deadline,
            ["mariadbd"],
        )

    def _write_slurm_configs(self) -> None:
        base = self.base_dir
        log = base / "log"
        auth = f"socket={self._munge_socket}"
        node_line = (
            f"NodeName={self.node_name} NodeAddr=127.0.0.1 "
            f"NodeHostname={self.node_name} CPUs={self.cpus} "
            f"RealMemory={self.real_memory_mb} State=UNKNOWN"
        )
        partition_line = (
            f"PartitionName={self.partition} Nodes={self.node_name} "
            "Default=YES MaxTime=INFINITE State=UP"
        )
        self.conf_path.write_text(
            "\n".join(
                [
                    f"ClusterName={self.cluster_name}",
                    f"SlurmctldHost={self.node_name}(127.0.0.1)",
                    f"SlurmctldPort={self._ctld_port}",
                    f"SlurmdPort={self._slurmd_port}",
                    "SlurmUser=root",
                    "SlurmdUser=root",
                    "AuthType=auth/munge",
                    f"AuthInfo={auth}",
                    "CredType=cred/munge",
                    f"StateSaveLocation={base / 'state'}",
                    f"SlurmdSpoolDir={self._spool_dir}",
                    f"SlurmctldPidFile={base / 'run' / 'slurmctld.pid'}",
                    f"SlurmdPidFile={base / 'run' / 'slurmd.pid'}",
                    f"SlurmctldLogFile={log / 'slurmctld.log'}",
                    f"SlurmdLogFile={log / 'slurmd.log'}",
                    "SlurmctldDebug=info",
                    "SlurmdDebug=info",
                    "ProctrackType=proctrack/linuxproc",
                    "TaskPlugin=task/none",
                    "JobAcctGatherType=jobacct_gather/linux",
                    "JobAcctGatherFrequency=30",
                    "SelectType=select/cons_tres",
                    "SelectTypeParameters=CR_CPU_Memory",
                    "SchedulerType=sched/backfill",
                    "MpiDefault=none",
                    "ReturnToService=2",
                    "MailProg=/bin/true",
                    "AccountingStorageType=accounting_storage/slurmdbd",
                    "AccountingStorageHost=127.0.0.1",
                    f"AccountingStoragePort={self._dbd_port}",
                    # For slurmdbd connections the munge socket comes from here,
                    # not from AuthInfo.
                    f"AccountingStoragePass={self._munge_socket}",
                    "AccountingStorageEnforce=associations",
                    "JobCompType=jobcomp/none",
                    "MinJobAge=300",
                    "KillWait=5",
                    "InactiveLimit=0",
                    "SlurmctldTimeout=30",
                    "SlurmdTimeout=60",
                    node_line,
                    partition_line,
                    "",
                ]
            )
        )
        dbd_conf = base / "etc" / "slurmdbd.conf"
        dbd_conf.write_text(
            "\n".join(
                [
                    "AuthType=auth/munge",
                    f"AuthInfo={auth}",
                    "DbdHost=localhost",
                    "DbdAddr=127.0.0.1",
                    f"DbdPort={self._dbd_port}",
                    "SlurmUser=root",
                    "DebugLevel=info",
                    f"LogFile={log / 'slurmdbd.log'}",
                    f"PidFile={base / 'run' / 'slurmdbd.pid'}",
                    "StorageType=accounting_storage/mysql",
                    "StorageHost=127.0.0.1",
                    f"StoragePort={self._mysql_port}",
                    f"StorageUser={self._db_user}",
                    f"StoragePass={self._db_pass}",
                    f"StorageLoc=slurm_acct_{self.cluster_name}",
                    "",
                ]
            )
        )
        dbd_conf.chmod(0o600)

    def _start_slurmdbd(self, deadline: float) -> None:
        self._spawn("slurmdbd", [self._bins["slurmdbd"], "-D"])
        self._wait_for(
            "slurmdbd to listen",
            lambda: _port_open(self._dbd_port),
            deadline,
            ["slurmdbd", "mariadbd"],
        )

    def _sacctmgr(self, deadline: float, *args: str) -> None:
        last = ""

        def attempt() -> bool:
            nonlocal last
            result = self.run([self._bins["sacctmgr"], "-i", *args], check=False, timeout=30)
            last = result.stdout + result.stderr
            lowered = last.lower()
            return (
                result.returncode == 0
                or "already exists" in lowered
                or "nothing new added" in lowered
            )

        try:
            self._wait_for(
                f"sacctmgr {' '.join(args)}",
                attempt,
                deadline,
                ["slurmdbd"],
                interval=0.5,
            )
        except SlurmClusterError as exc:
            raise SlurmClusterError(f"{exc}\nlast output: {last}") from exc

    def _register_accounting(self, deadline: float) -> None:
        self._sacctmgr(deadline, "add", "cluster", self.cluster_name)
        self._sacctmgr(
            deadline,
            "add",
            "account",
            self.account,
            f"cluster={self.cluster_name}",
            "description=test account",
            "organization=test",
        )
        user = _current_user()
        self._sacctmgr(
            deadline,
            "add",
            "user",
            user,
            f"account={self.account}",
            f"cluster={self.cluster_name}",
        )
        self._sacctmgr(
            deadline,
            "modify",
            "user",
            "where",
            f"name={user}",
            f"cluster={self.cluster_name}",
            "set",
            f"defaultaccount={self.account}",
        )

    def _start_slurm(self, deadline: float) -> None:
        self._spawn("slurmctld", [self._bins["slurmctld"], "-D", "-i"])
        self._wait_for(
            "slurmctld to listen",
            lambda: _port_open(self._ctld_port),
            deadline,
            ["slurmctld"],
        )
        self._spawn("slurmd", [self._bins["slurmd"], "-D", "-N", self.node_name])

    def _node_idle(self) -> bool:
        result = self.run(
            [self._bins["sinfo"], "-h", "-N", "-o", "%N %T"],
            check=False,
            timeout=20,
        )
        return result.returncode == 0 and any(
            line.split()[1:2] == ["idle"] for line in result.stdout.splitlines()
        )

    def _sacct_answers(self) -> bool:
        result = self.run(
            [self._bins["sacct"], "-n", "-X", "--starttime", "now-1hour"],
            check=False,
            timeout=20,
        )
        return result.returncode == 0

    def _wait_until_ready(self, deadline: float) -> None:
        daemons = ["munged", "mariadbd", "slurmdbd", "slurmctld", "slurmd"]
        self._wait_for("the node to become idle", self._node_idle, deadline, daemons)
        self._wait_for("sacct to answer", self._sacct_answers, deadline, daemons)

    def _cancel_all_jobs(self) -> None:
        with contextlib.suppress(SlurmClusterError, subprocess.SubprocessError):
            jobs = self.run([self._bins["squeue"], "-h", "-o", "%A"], timeout=15).stdout.split()
            if not jobs:
                return
            self.run([self._bins["scancel"], *jobs], check=False, timeout=15)
            end = time.monotonic() + self.stop_grace
            while time.monotonic() < end:
                left = self.run([self._bins["squeue"], "-h", "-o", "%A"], timeout=15).stdout.split()
                if not left:
                    return
                time.sleep(0.5)

    def _record_stepds(self) -> None:
        """Remember slurmstepd processes spawned by this instance's slurmd."""
        marker = f"SLURM_CONF={self.conf_path}".encode()
        proc_root = Path("/proc")
        for entry in proc_root.iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() != "slurmstepd":
                    continue
                environ = (entry / "environ").read_bytes().split(b"\0")
                if marker in environ:
                    self._stepd_pids.add(int(entry.name))

    def _terminate(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=self.stop_grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(timeout=self.stop_grace)

    def _terminate_pid(self, pid: int) -> None:
        if not pid_alive(pid):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        end = time.monotonic() + self.stop_grace
        while time.monotonic() < end:
            if not pid_alive(pid):
                return
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

    def _cleanup_short_dir(self) -> None:
        if self._short_dir is not None:
            shutil.rmtree(self._short_dir, ignore_errors=True)
            self._short_dir = None


def _current_user() -> str:
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


def start_cluster_or_skip(base_dir: str | os.PathLike[str]) -> LocalSlurmCluster:
    """Start a cluster in ``base_dir``, or skip the test if this machine can't.

    When the ``CI`` environment variable is set, a machine that cannot run the
    cluster fails the test instead of skipping it.
    """
    ok, reason = LocalSlurmCluster.available()
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(f"local SLURM cluster unavailable on CI: {reason}")
        pytest.skip(reason)
    return LocalSlurmCluster(base_dir).start()
