"""`python -m trading_bot` runs the CLI."""

from trading_bot.cli import main

main()
