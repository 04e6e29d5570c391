"""The server runtime: the HTTP protocol of the workers and what guards it at the edge."""
