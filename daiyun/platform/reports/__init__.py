"""Sales reports: daily rollups of the order book and the dashboard figures read from them."""
