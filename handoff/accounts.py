"""Manage console accounts: ``python -m handoff.accounts add|remove|list`` (``make agent``).

Passwords are read from the terminal (twice) or, for scripts, from the
``HANDOFF_NEW_PASSWORD`` environment variable; never from the command line,
where they would end up in the shell history.

Examples:
    python -m handoff.accounts add amal --role agent --name "أمل"
    python -m handoff.accounts add sara --role supervisor
    python -m handoff.accounts add amal --role supervisor   # a new role or password signs her out
    python -m handoff.accounts list
    python -m handoff.accounts remove amal
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from typing import List, Optional

from handoff.auth import ROLES, Accounts
from handoff.settings import HandoffSettings
from handoff.store import HandoffStore


def read_password() -> str:
    from_env = os.environ.get("HANDOFF_NEW_PASSWORD")
    if from_env:
        return from_env
    first = getpass.getpass("Password (8+ characters): ")
    if first != getpass.getpass("Again: "):
        raise ValueError("the two passwords differ")
    return first


async def run(args: argparse.Namespace, settings: HandoffSettings) -> int:
    store = HandoffStore(settings.redis_url)
    accounts = Accounts(store, settings)
    try:
        if args.command == "add":
            revoked = await accounts.add(args.username, read_password(), args.role, args.name or args.username)
            print(f"account {args.username} ({args.role}) saved")
            if revoked:
                print("password or role changed: its open sessions are signed out")
        elif args.command == "remove":
            removed = await store.delete_account(args.username)
            print(f"account {args.username} {'removed' if removed else 'did not exist'}")
            return 0 if removed else 1
        else:
            for account in await store.list_accounts():
                print(f"{account['username']:<20} {account['role']:<11} {account['name']}")
        return 0
    finally:
        await store.close()


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Manage agent console accounts (stored in Redis).")
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="create or replace an account")
    add.add_argument("username")
    add.add_argument("--role", choices=ROLES, default="agent")
    add.add_argument("--name", help="display name (Arabic welcome)")
    remove = sub.add_parser("remove", help="delete an account (its sessions end)")
    remove.add_argument("username")
    sub.add_parser("list", help="list accounts")
    args = parser.parse_args(argv)
    try:
        return asyncio.run(run(args, HandoffSettings.from_env()))
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
