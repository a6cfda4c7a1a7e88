"""The GitHub runner edge: workflow and file commands, the run's events, the job summary."""
