"""The dashboard at ``/``: one page that reads the API from the browser, its static files and BokehJS served here."""
