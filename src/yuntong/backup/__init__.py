"""Backups (CS 6.2: regular backups with timely recovery; docs/backup.md): the database, the
data folders and the secrets, encrypted, with a manifest; verified in a scratch database and
restored only where nothing runs."""
