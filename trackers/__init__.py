"""sampt package."""
