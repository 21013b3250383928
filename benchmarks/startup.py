"""How long the hotline takes to start: ``ivr --help``, and ``import wsgi`` (what each gunicorn
worker does before it can answer, or the master once with preload_app).

    python benchmarks/startup.py [--quick] [--repeat 3]

Each figure is a fresh Python process started from the project folder:

- ``ivr --help``: ``python -m ivr --help`` until it exits.
- ``import wsgi``: ``python -c "import wsgi"`` until the app is built (the child says so on
  stdout; its exit is not counted), as in production: Twilio credentials set, and either a
  PostgreSQL URL (building the app opens no connection, so nothing needs to listen there) or
  the embedded SQLite, already upgraded by the warm-up run.

The baselines run the same way in the same run: ``python -c pass`` and ``python -c "import flask"``.
Every command runs once first, unmeasured (bytecode caches, the SQLite schema), then ``--repeat``
rounds run the commands in turn, so that a load on the machine weighs on all of them alike; the
medians are printed, with the CPU seconds of the process (less sensitive to a shared machine
than the wall clock) and the ratio to each baseline.

The targets: ``ivr --help`` under 0.3 s, ``import wsgi`` under 0.8 s. A figure, not a test: it
prints and never fails a build unless it crashes. ``--quick`` (CI) measures one round.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Nobody listens there: with PostgreSQL, building the app connects to nothing (ivr db upgrade does).
POSTGRES_URL = "postgresql+psycopg://ivr@127.0.0.1:9/ivr"
READY = "ready"
TARGETS = {"ivr --help": 0.3, "import wsgi (PostgreSQL)": 0.8, "import wsgi (SQLite)": 0.8}


@dataclass
class Command:
    name: str
    code: list[str]              # the arguments after ``python``
    env: dict[str, str] = field(default_factory=dict)
    until_ready: bool = False    # timed until the child prints READY, not until it exits
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)


def commands(instance: Path) -> list[Command]:
    app_env = {
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": "benchmark-token",
        "IVR_INSTANCE_DIR": str(instance), "IVR_SECRET_KEY": "benchmark",
    }
    build = ["-c", f"import time, wsgi; print({READY!r}, time.process_time(), flush=True)"]
    return [
        Command("python -c pass", ["-c", "pass"]),
        Command("python -c 'import flask'", ["-c", "import flask"]),
        Command("ivr --help", ["-m", "ivr", "--help"]),
        Command("import wsgi (PostgreSQL)", build, {**app_env, "IVR_DATABASE_URL": POSTGRES_URL}, until_ready=True),
        Command("import wsgi (SQLite)", build, {**app_env, "IVR_DATABASE_URL": f"sqlite:///{instance / 'ivr.sqlite3'}"},
                until_ready=True),
    ]


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """The environment without the hotline's own settings, plus ``extra``. Bytecode is written
    (a PYTHONDONTWRITEBYTECODE=1 would have every run compile the project again, as no deployment does)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("IVR_", "TWILIO_")) and k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return {**env, **extra}


def run_once(command: Command) -> tuple[float, float]:
    """Wall and CPU seconds of one fresh process running ``command``: to its exit, or to the
    READY line (which carries the child's CPU seconds so far)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, *command.code], cwd=ROOT, env=child_env(command.env),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ready = child.stdout.readline().split() if command.until_ready else []
    wall = time.perf_counter() - started
    _, err = child.communicate(timeout=120)
    if not command.until_ready:
        wall = time.perf_counter() - started
    if child.returncode != 0 or (command.until_ready and ready[:1] != [READY]):
        raise RuntimeError(f"{command.name} failed ({child.returncode}): {err[-2000:]}")
    if ready:
        return wall, float(ready[1])
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def measure(repeat: int) -> list[Command]:
    with tempfile.TemporaryDirectory(prefix="ivr-startup-") as folder:
        measured = commands(Path(folder))
        for command in measured:
            run_once(command)  # warm-up, not counted
        for _ in range(repeat):
            for command in measured:
                wall, cpu = run_once(command)
                command.walls.append(wall)
                command.cpus.append(cpu)
    return measured


def report(measured: list[Command], repeat: int) -> None:
    by_name = {c.name: c for c in measured}
    bare = statistics.median(by_name["python -c pass"].walls)
    flask = statistics.median(by_name["python -c 'import flask'"].walls)
    load = os.getloadavg()[0]
    print(f"Start-up, median of {repeat} fresh process(es) each; {os.cpu_count()} CPU(s), load average {load:.2f}")
    if load > (os.cpu_count() or 1):
        print("(a busy machine: the processes wait for a CPU, so the wall clock counts that wait; cpu s does not)")
    print(f"{'':<28}{'wall s':>8}{'cpu s':>8}{'target':>8}{'met':>5}{'x pass':>8}{'x flask':>8}")
    for command in measured:
        wall, cpu = statistics.median(command.walls), statistics.median(command.cpus)
        target = TARGETS.get(command.name)
        met = "" if target is None else ("yes" if wall < target else "NO")
        print(f"{command.name:<28}{wall:>8.3f}{cpu:>8.3f}{'' if target is None else f'< {target:g}':>8}{met:>5}"
              f"{wall / bare:>8.1f}{wall / flask:>8.2f}")
    print("(`import wsgi` is timed to the app built, its exit left out; cpu s: the process's own CPU time to the same point)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one round (CI)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the median is printed (default 3)")
    args = parser.parse_args()
    repeat = 1 if args.quick else args.repeat
    report(measure(repeat), repeat)


if __name__ == "__main__":
    main()
