"""One module per area; each registers its routes with `add_pages(app)`."""
