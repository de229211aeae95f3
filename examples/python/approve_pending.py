#!/usr/bin/env python3
"""Go through the work waiting for approval, one job or workflow run at a time, and
approve each by typing its phrase.

    python examples/python/approve_pending.py --server http://127.0.0.1:8080 --token wkt_...
    python examples/python/approve_pending.py --database sqlite:///var/lib/works/works.db --as ops

For every job waiting for approval that you may see, the script shows what it would do
and where, and asks you to type its approval phrase. Typed exactly, the job is approved
and queued for the node's agent; an empty line skips the job and leaves it waiting. A
phrase that does not match is refused by the server, which says what to type; you are
asked again. The end of input leaves the rest waiting.

Then the same for every workflow run waiting for a person: the workflow, its
organization, the step it stopped at and why, and the step's approval phrase. An
approved run goes on at once and the script says where it ended (or that it waits for
a second approver).

Exits 0 when it went through the list, 2 when it could not (the message says why).
"""

from __future__ import annotations

import argparse
import sys

import works


def connect(args: argparse.Namespace) -> works.Client:
    if args.server:
        return works.connect(args.server, token=args.token)
    return works.open(args.database, as_user=None if args.token else args.as_user, token=args.token)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--server", metavar="URL", help="a running server, e.g. http://127.0.0.1:8080")
    where.add_argument("--database", metavar="URL", help="a database opened directly, e.g. sqlite:///path/works.db")
    parser.add_argument("--token", help="an API token (needed with --server unless WORKS_TOKEN is set)")
    parser.add_argument("--as", dest="as_user", default="admin", help="with --database: act as this user (default admin)")
    return parser.parse_args(argv)


def ask(prompt: str) -> str | None:
    """A line typed by the person, or None at the end of input."""
    try:
        return input(prompt)
    except EOFError:
        print()
        return None


def decide(client: works.Client, job: works.Job) -> str:
    """Asks until the job is approved or skipped; says which: approved, skipped, refused
    or ended (no more input)."""
    while True:
        typed = ask(f"Type the phrase to approve, or press Enter to skip:\n  {job.approval_phrase}\n> ")
        if typed is None:
            return "ended"
        if typed == "":
            print("  skipped; it is still waiting")
            return "skipped"
        try:
            approved = client.jobs.approve(job.id, typed)
        except works.InvalidInput as e:
            print(f"  not approved: {e}")
            continue
        except works.WorksError as e:
            print(f"  not approved: {e}\n  {e.next_action}")
            return "refused"
        print(f"  approved: {approved.state_label.lower()} ({approved.state})")
        return "approved"


def decide_run(client: works.Client, workflow: works.Workflow, run: works.WorkflowRun) -> str:
    """Like :func:`decide`, for the step a workflow run waits on."""
    step = run.awaiting
    phrase = step.approval_phrase if step is not None else None
    if phrase is None:
        print("  nothing to approve: the run no longer waits")
        return "skipped"
    while True:
        typed = ask(f"Type the phrase to approve, or press Enter to skip:\n  {phrase}\n> ")
        if typed is None:
            return "ended"
        if typed == "":
            print("  skipped; it is still waiting")
            return "skipped"
        try:
            approved = client.workflows.approve(workflow.id, run.id, typed)
        except works.InvalidInput as e:
            print(f"  not approved: {e}")
            continue
        except works.WorksError as e:
            print(f"  not approved: {e}\n  {e.next_action}")
            return "refused"
        print(f"  approved: the run is {approved.state.replace('_', ' ')}: {approved.reason}")
        return "approved"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        client = connect(args)
        pending = list(client.jobs.list(state="awaiting_approval"))
        nodes = {n.id: n for n in client.nodes.list(include_retired=True)}
        orgs = {o.id: o.name for o in client.orgs.list(include_archived=True)}
        runs = list(client.workflows.awaiting_approval())
    except works.WorksError as e:
        print(f"Could not list the waiting work: {e}\n{e.next_action}", file=sys.stderr)
        return 2

    print(f"Jobs waiting for approval: {len(pending)}")
    counts = {"approved": 0, "skipped": 0, "refused": 0}
    ended = False
    for done, job in enumerate(pending):
        node = nodes.get(job.node_id)
        node_name = node.name if node else job.node_id
        owner = orgs.get(job.org_id, job.org_id) if job.org_id else "shared MSP infrastructure"
        print(f"\n{job.kind} on {node_name} ({owner})")
        print(f"  job {job.id}, requested by {job.requested_by} at {job.created_at:%Y-%m-%d %H:%M} UTC")
        if job.params:
            shown = ", ".join(f"{k}={v!r}" for k, v in job.params.items())
            print(f"  parameters: {shown}")
        outcome = decide(client, job)
        if outcome == "ended":
            left = len(pending) - done
            print(f"End of input: {left} left waiting.")
            counts["skipped"] += left
            ended = True
            break
        counts[outcome] += 1

    print(f"\nWorkflow runs waiting for approval: {len(runs)}")
    for done, (workflow, run) in enumerate(runs):
        if ended:
            counts["skipped"] += len(runs) - done
            break
        step = run.awaiting
        print(f"\nworkflow {workflow.name!r} ({orgs.get(run.org_id, run.org_id)})")
        print(f"  run {run.id}, {run.mode}, started by {run.started_by} at {run.created_at:%Y-%m-%d %H:%M} UTC")
        if step is not None:
            print(f"  step {step.number}: {step.action} with {step.capability_id} ({step.risk or 'no'} risk)")
        print(f"  why it waits: {run.reason}")
        if run.approval_expires_at is not None:
            print(f"  approve before {run.approval_expires_at:%Y-%m-%d %H:%M} UTC")
        outcome = decide_run(client, workflow, run)
        if outcome == "ended":
            left = len(runs) - done
            print(f"End of input: {left} left waiting.")
            counts["skipped"] += left
            break
        counts[outcome] += 1

    print(f"\n{counts['approved']} approved, {counts['skipped']} skipped, {counts['refused']} refused")
    return 0


if __name__ == "__main__":
    sys.exit(main())
