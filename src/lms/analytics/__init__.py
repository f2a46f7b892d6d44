"""Analytics: rollups maintained by workers, dashboards, reports and recommendations."""
