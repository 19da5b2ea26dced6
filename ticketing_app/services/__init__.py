"""Business services: plain typed functions over a Session. No reflex import here."""
