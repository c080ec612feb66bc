"""Buyer notices: kinds, templates, translations and transports (Maildir, SMTP)."""
