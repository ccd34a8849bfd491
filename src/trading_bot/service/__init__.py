"""The long-running bot (`trading-bot run`): store, venue, recovery, intake and housekeeping
wired around the kernel on one asyncio loop."""
