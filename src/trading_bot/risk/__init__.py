"""Risk checks: approve, resize or reject each trade intent, with a stable reason code."""
