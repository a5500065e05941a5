"""What operators watch: probes, metrics, request ids and log format."""
