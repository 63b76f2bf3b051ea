"""Publishing: the serving snapshot the HTTP service reads, last in the daily graph."""
