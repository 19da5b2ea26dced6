"""One module per area; each registers its routes with `add_pages(app)`.

Every dynamic route names its segment `[id]` (`/tickets/[id]`, `/orders/[id]`, `/verify/[id]`,
…): Reflex adds one computed var to the root state per distinct segment name, evaluated in
every new tab's first snapshot whatever the page, and the states read the id from the path
anyway (docs/decisions.md 100).
"""
