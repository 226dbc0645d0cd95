"""Report: leaderboard (CSV + markdown), figures and the rendered diagnostics, built only from saved run files."""
