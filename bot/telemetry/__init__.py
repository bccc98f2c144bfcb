"""What the process tells its operator: metrics, the turn a log line belongs to, and
credentials kept out of what is shown."""
