"""Sections a page can include: each module has a `render(...)` function."""
