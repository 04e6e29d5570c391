"""What an operator watches a node by: Prometheus metrics, the access log and log formatting, tracing hooks."""
