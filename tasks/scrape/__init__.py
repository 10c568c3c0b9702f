"""Scraping: feeds, sitemaps and pages fetched politely, then extracted to clean article text."""
