"""pigallery: a search-enabled camera gallery on Redis Stack."""
