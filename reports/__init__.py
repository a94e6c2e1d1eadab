"""Reports for leaders: weekly digest, Excel export, charts and the dashboard."""
