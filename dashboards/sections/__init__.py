"""Sections a page embeds: self-contained blocks with their own data access and figures."""
