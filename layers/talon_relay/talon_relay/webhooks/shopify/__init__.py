"""Shopify: its signature scheme and its topics' mapping files."""
