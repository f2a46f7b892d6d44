"""Analytics: rollups maintained by workers, dashboards, reports, recommendations."""
