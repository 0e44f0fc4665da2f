"""The workbench on the command line: ``python -m workbench <command>`` (or ``make trainer ARGS=...``).

Commands:
    serve    the web process (the default without a command): /trainer on TRAINER_HOST:TRAINER_PORT
    inbox    [--flags low_confidence,fallback,handed_off,contradicted] [--dialect D] [--from DAY] [--to DAY]
    label    ITEM_ID --intent NAME [--entity PIECE=entity | START:END:entity ...] [--dialect D] [--frustration F] [--file F]
    add      --text TEXT --intent NAME --dialect D [--entity ...] [--frustration F] [--file F]
    dismiss  ITEM_ID
    history  [--limit N]
    undo     AUDIT_ID
    health   [--validate] [--chart FILE.png]
    train    [--load] [--accept-worse]

Settings come from the environment, read once (``REDIS_URL``, ``RASA_URL``,
``RASA_TOKEN``, ``TRAINER_*``; see :mod:`workbench.settings`). ``--who`` names the trainer in the audit log
(default: ``$USER``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import sys
from pathlib import Path
from typing import Any, List, Optional

from bot import log_privacy
from workbench import health
from workbench.inbox import InboxFilter
from workbench.nlu_files import EntitySpan, NewExample
from workbench.service import Workbench, WorkbenchError
from workbench.settings import WorkbenchSettings

_OFFSETS = re.compile(r"^(\d+):(\d+):([a-z_]+)$")


def parse_entities(text: str, specs: List[str]) -> List[EntitySpan]:
    """``START:END:entity`` (offsets on the text) or ``piece=entity`` (first occurrence of piece).

    Raises:
        WorkbenchError: a spec that does not fit the text.
    """
    spans = []
    for spec in specs:
        match = _OFFSETS.match(spec)
        if match:
            spans.append(EntitySpan(int(match.group(1)), int(match.group(2)), match.group(3)))
            continue
        piece, sep, entity = spec.rpartition("=")
        if not sep or not piece or piece not in text:
            raise WorkbenchError("invalid", f"--entity {spec!r}: use PIECE=entity with PIECE in the text, or START:END:entity")
        start = text.index(piece)
        spans.append(EntitySpan(start, start + len(piece), entity))
    return spans


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2))


async def _train(bench: Workbench, who: str, load: bool, accept_worse: bool) -> int:
    started = await bench.start_training(who)
    job_id = started["job"]["id"]
    last = ""
    while (job := bench.job(job_id))["state"] in ("training", "evaluating"):
        line = f"{job['progress'] * 100:5.1f}%  {job['stage']}"
        if line != last:
            print(line, flush=True)
            last = line
        await asyncio.sleep(1)
    if job["state"] != "ready":
        print(f"failed: {job['error']}", file=sys.stderr)
        return 1
    c = job["comparison"]
    print(f"macro-F1 current {c['current'].get('macro_f1')}  candidate {c['candidate']['macro_f1']}  delta {c['delta_macro_f1']}")
    for row in c["per_intent"]:
        if row["delta"]:
            print(f"  {row['intent']:26s} {row['current']} -> {row['candidate']} ({row['delta']:+})")
    print(f"candidate model: {job['model']}")
    if c["worse"]:
        print("the candidate is WORSE than the running model", file=sys.stderr)
    if load:
        loaded = await bench.load_model(who, job_id, accept_worse)
        print(f"loaded {loaded['model']} (audit {loaded['audit_id']}; undo it with: undo {loaded['audit_id']})")
    return 0


async def run(args: argparse.Namespace, settings: WorkbenchSettings) -> int:
    bench = Workbench(settings)
    try:
        if args.command == "inbox":
            query = {"flags": args.flags, "dialect": args.dialect, "date_from": getattr(args, "from"), "date_to": args.to}
            for item in await bench.inbox(InboxFilter.from_query(query), args.limit):
                print(f"{item.id}\t{','.join(item.flags) or '-'}\t{item.intent} {item.confidence:.2f}\t{item.dialect}\t"
                      f"{item.frustration}\t{item.channel}\t{item.date}\t{item.text}")
        elif args.command in ("label", "add"):
            if args.command == "label":
                item = await bench.item(args.item_id)
                text, dialect, item_id = item.text, args.dialect or item.dialect or "msa", item.id
                frustration = args.frustration or item.frustration
            else:
                text, dialect, item_id, frustration = args.text, args.dialect, None, args.frustration
            example = NewExample(text=text, intent=args.intent, dialect=dialect, entities=parse_entities(text, args.entity),
                                 frustration=frustration, source="cli" if item_id is None else "inbox", file=args.file)
            _print_json(await bench.add_example(args.who, example, item_id))
        elif args.command == "dismiss":
            _print_json(await bench.dismiss(args.who, args.item_id))
        elif args.command == "history":
            for entry in await bench.history(args.limit):
                print(f"{entry['id']}\t{entry['who']}\t{entry['action']}\t{entry.get('file') or ''}\t"
                      f"{entry.get('example') or entry.get('after') or ''}\t{'undone' if entry.get('undone_by') else ''}")
        elif args.command == "undo":
            _print_json(await bench.undo(args.who, args.audit_id))
        elif args.command == "health":
            report = health.health_report(settings.nlu_data, settings.min_examples)
            if args.chart:
                Path(args.chart).write_bytes(health.chart_png(report))
            if args.validate:
                report["validate"] = health.run_validate(settings.nlu_data, settings.config, settings.domain, settings.stories)
            _print_json(report)
        elif args.command == "train":
            return await _train(bench, args.who, args.load, args.accept_worse)
        return 0
    except (WorkbenchError, ValueError) as error:
        print(f"refused: {getattr(error, 'message', error)}", file=sys.stderr)
        return 2
    finally:
        await bench.close()


def serve(settings: WorkbenchSettings) -> int:
    """Run the web process until stopped (SIGINT/SIGTERM)."""
    from aiohttp import web

    from workbench.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not settings.rasa_token:
        logging.warning("RASA_TOKEN is not set: a Rasa server started with --auth-token refuses the inbox's reads")
    web.run_app(create_app(settings), host=settings.host, port=settings.port, access_log=None)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m workbench", description=__doc__.splitlines()[0])
    parser.add_argument("--who", default=os.environ.get("USER") or "cli", help="trainer name for the audit log")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="the web process (TRAINER_HOST, TRAINER_PORT)")
    inbox = sub.add_parser("inbox", help="messages to review")
    inbox.add_argument("--flags", default="")
    inbox.add_argument("--dialect")
    inbox.add_argument("--from")
    inbox.add_argument("--to")
    inbox.add_argument("--limit", type=int, default=50)
    for name in ("label", "add"):
        cmd = sub.add_parser(name, help="write an example from an inbox message" if name == "label" else "write a typed example")
        if name == "label":
            cmd.add_argument("item_id")
            cmd.add_argument("--dialect")
        else:
            cmd.add_argument("--text", required=True)
            cmd.add_argument("--dialect", required=True)
        cmd.add_argument("--intent", required=True)
        cmd.add_argument("--entity", action="append", default=[])
        cmd.add_argument("--frustration", choices=["calm", "annoyed", "angry"])
        cmd.add_argument("--file", help="nlu_data file for a new intent")
    dismiss = sub.add_parser("dismiss", help="remove a message from the inbox")
    dismiss.add_argument("item_id")
    history = sub.add_parser("history", help="the audit log")
    history.add_argument("--limit", type=int, default=30)
    undo = sub.add_parser("undo", help="revert an audit entry")
    undo.add_argument("audit_id")
    report = sub.add_parser("health", help="data health report (JSON)")
    report.add_argument("--validate", action="store_true", help="also run rasa data validate")
    report.add_argument("--chart", help="write the examples chart to this PNG")
    train = sub.add_parser("train", help="retrain, evaluate and compare; --load loads it")
    train.add_argument("--load", action="store_true")
    train.add_argument("--accept-worse", action="store_true")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    log_privacy.install()  # before anything logs: no phone number reaches the logs
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv or ["serve"])
    settings = WorkbenchSettings.from_env()
    if args.command == "serve":
        return serve(settings)
    return asyncio.run(run(args, settings))
