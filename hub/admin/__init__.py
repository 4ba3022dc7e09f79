from hub.admin import catalog, contacts, sales, sync  # noqa: F401 - registration side effects
