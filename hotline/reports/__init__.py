"""Detention reports: kept (notifications), given a reference, escalated to whoever is on
duty (the rotas and their calendars), and the call the duty person hears."""
