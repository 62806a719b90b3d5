"""The figures: statistics, forecasts and Prometheus metrics."""
