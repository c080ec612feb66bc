"""The scheduler's jobs: poll carriers, fire timers, dispatch notices, record pushes.

Each job takes what it needs from the app, asks the pure policy for a decision and hands the
store one call to record it.
"""
