"""Market data: historical loaders and the bar/trade/book series the venue and strategies read."""
