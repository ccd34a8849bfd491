"""`python -m trading_bot` runs the CLI."""

from trading_bot.launch import main

main()
