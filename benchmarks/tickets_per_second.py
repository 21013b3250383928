"""How many voicemails per second the hotline turns into tickets (with their queued SMS),
through the signed <Record> action webhook and the whole Flask stack.

    python benchmarks/tickets_per_second.py [--count 500] [--postgres postgresql+psycopg://...]

Prints one line per database. A figure, not a test: shared machines are noisy.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ivr import create_app  # noqa: E402

TOKEN = "benchmark-token"


def run(url: str, count: int) -> float:
    app = create_app({
        "TWILIO_AUTH_TOKEN": TOKEN, "DATABASE_URL": url, "DATABASE_AUTO_UPGRADE": True,
        "ROUTING_FILE": str(ROOT / "routing.yaml"), "PROMPTS_DIR": str(ROOT / "prompts"), "PUBLIC_URL": None,
    })
    client, validator = app.test_client(), RequestValidator(TOKEN)
    path = "/voice/recorded/technical?lang=ro&sms=%2B40722123456"
    started = time.perf_counter()
    for _ in range(count):
        data = {"CallSid": "CA" + secrets.token_hex(16), "From": "+40722123456", "RecordingSid": "RE" + secrets.token_hex(16),
                "RecordingUrl": "https://api.twilio.com/r", "RecordingDuration": "30", "Digits": "#"}
        signature = validator.compute_signature("http://localhost" + path, data)
        assert client.post(path, data=data, headers={"X-Twilio-Signature": signature}).status_code == 200
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--postgres", default=os.environ.get("IVR_TEST_DATABASE_URL"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        print(f"sqlite      {run(f'sqlite:///{folder}/bench.sqlite3', args.count):8.1f} tickets/s  ({args.count} tickets)")
    if args.postgres:
        schema = "ivr_bench_" + secrets.token_hex(4)
        admin = create_engine(args.postgres)
        with admin.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
        try:
            separator = "&" if "?" in args.postgres else "?"
            url = f"{args.postgres}{separator}options=-csearch_path%3D{schema}"
            print(f"postgresql  {run(url, args.count):8.1f} tickets/s  ({args.count} tickets)")
        finally:
            with admin.begin() as connection:
                connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    else:
        print("postgresql  skipped (give --postgres or set IVR_TEST_DATABASE_URL)")


if __name__ == "__main__":
    main()
