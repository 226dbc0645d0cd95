"""Report: leaderboard (CSV + markdown), figures and the self-contained report.html, built only from saved run
files; plus what the run saves for it while the signals are at hand (the HF-QRS view) and the cohort page of
``data describe --html``."""
