"""The pure policy: milestones, expected windows, polling intervals and send times.

Plain values in (timeline, thresholds, lane estimate, now), a decision out; nothing here touches
the app, a database session or the network, so every rule is tested as a table of cases.
"""
