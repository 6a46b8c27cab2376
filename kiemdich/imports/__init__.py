"""Excel and CSV imports of passage lists: wizard, dry run, background commit, triage."""
