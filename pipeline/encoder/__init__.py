"""The text encoder: a multilingual transformer (multilingual-e5-small) rebuilt from local packages."""
